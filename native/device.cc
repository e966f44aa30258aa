// placeholder until the native I/O work fills it in
#include "modules.h"

namespace ycs {
void InitDevice(Napi::Env, Napi::Object) {}
}  // namespace ycs
