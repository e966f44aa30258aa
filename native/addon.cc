#include <napi.h>

#include "modules.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ycs::InitDevice(env, exports);
  ycs::InitScsi(env, exports);
  ycs::InitPrRead(env, exports);
  ycs::InitPeercred(env, exports);
  ycs::InitSdNotify(env, exports);
  ycs::InitProcessSpawn(env, exports);
  ycs::InitLoopProbe(env, exports);
  return exports;
}

NODE_API_MODULE(ycs_native, Init)
