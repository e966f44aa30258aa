// placeholder until the control-socket work fills it in
#include "modules.h"

namespace ycs {
void InitPeercred(Napi::Env, Napi::Object) {}
}  // namespace ycs
