// The JS face of one device: a Napi::ObjectWrap over an IoWorker (io_worker.h). Every
// method validates its arguments and throws synchronously (E_CLOSED, E_MISALIGNED,
// E_READ_ONLY, E_INVALID_ARGUMENT); I/O outcomes settle promises on the JS thread through
// a thread-safe function. Exposed as openDevice(path, options) -> Promise<handle>.
#pragma once

#include <napi.h>

#include <memory>
#include <optional>
#include <string>

#include "io_worker.h"

namespace ycs {

class DeviceContext;

class DeviceWrap : public Napi::ObjectWrap<DeviceWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit DeviceWrap(const Napi::CallbackInfo& info);
  ~DeviceWrap() override;
  Napi::Value Start(Napi::Env env, Napi::Object self, const std::string& path, Napi::Object options);

 private:
  // Turns C++ exceptions other than Napi::Error (bad_alloc, system_error from thread
  // creation) into an E_INTERNAL error instead of terminating the process.
  template <Napi::Value (DeviceWrap::*Method)(const Napi::CallbackInfo&)>
  Napi::Value Guarded(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value ReadInto(const Napi::CallbackInfo& info);
  Napi::Value SubmitRead(Napi::Env env, uint64_t offset, size_t length, uint32_t timeout_ms,
                         std::optional<Napi::Uint8Array> target);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value Scsi(const Napi::CallbackInfo& info);
  Napi::Value BlockPr(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetHealth(const Napi::CallbackInfo& info);
  Napi::Value GetInfo(const Napi::CallbackInfo& info);
  Napi::Value GetLastIoNs(const Napi::CallbackInfo& info);
  Napi::Value GetLastIoTimings(const Napi::CallbackInfo& info);

  Napi::Value Submit(Napi::Env env, IoRequest&& request, std::optional<Napi::Uint8Array> target = std::nullopt);
  const Geometry& OpenGeometry(Napi::Env env, IoOp op, uint64_t offset, size_t length);
  void CheckSectorRange(Napi::Env env, const Geometry& g, IoOp op, uint64_t offset, size_t length);
  uint32_t TimeoutArg(const Napi::CallbackInfo& info, size_t index);

  std::shared_ptr<IoWorker> worker_;
  DeviceContext* context_ = nullptr;  // valid while the worker is not closing
  std::string path_;
  std::optional<Geometry> geometry_;
  uint32_t timeout_ms_ = 5000;
  uint64_t next_id_ = 1;
};

}  // namespace ycs
