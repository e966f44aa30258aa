#include "device.h"

#include <cmath>
#include <cstring>

#include "file_backend.h"
#include "io_js.h"
#include "iscsi_backend.h"
#include "modules.h"

namespace ycs {
namespace {

constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1
constexpr uint32_t kScsiDeadlineSlackMs = 1000;          // the target's own timeout fires first

IoError usage(const std::string& message) { return {"E_INVALID_ARGUMENT", "", message}; }

uint64_t integer_arg(Napi::Env env, Napi::Value value, const char* name, const std::string& device, const char* op) {
  if (!value.IsNumber()) throw_error(env, usage(std::string(name) + " must be a number"), device, op);
  double d = value.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= kMaxSafeInteger) || std::floor(d) != d) {
    throw_error(env, usage(std::string(name) + " must be a non-negative safe integer"), device, op);
  }
  return static_cast<uint64_t>(d);
}

Napi::Uint8Array uint8_array_arg(Napi::Env env, Napi::Value value, const char* name, const std::string& device,
                                 const char* op) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw_error(env, usage(std::string(name) + " must be a Uint8Array"), device, op);
  }
  return value.As<Napi::Uint8Array>();
}

uint64_t bigint_arg(Napi::Env env, Napi::Value value, const char* name, const std::string& device) {
  if (value.IsUndefined()) return 0;
  if (!value.IsBigInt()) throw_error(env, usage(std::string(name) + " must be a bigint"), device, "block-pr");
  bool lossless = false;
  uint64_t v = value.As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) throw_error(env, usage(std::string(name) + " must fit in 64 unsigned bits"), device, "block-pr");
  return v;
}

const char* kind_name(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::Block: return "block";
    case DeviceKind::File: return "file";
    case DeviceKind::Iscsi: return "iscsi";
  }
  return "file";
}

BlockPrRequest::Op pr_op(Napi::Env env, const std::string& name, const std::string& device) {
  using Op = BlockPrRequest::Op;
  if (name == "register") return Op::Register;
  if (name == "reserve") return Op::Reserve;
  if (name == "release") return Op::Release;
  if (name == "preempt") return Op::Preempt;
  if (name == "preempt-abort") return Op::PreemptAbort;
  if (name == "clear") return Op::Clear;
  throw_error(env, usage("unknown persistent reservation op: " + name), device, "block-pr");
}

struct Module {
  Napi::FunctionReference constructor;
};

Napi::Value OpenDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (!info[0].IsString() || info[0].As<Napi::String>().Utf8Value().empty()) {
      throw_error(env, usage("path must be a non-empty string"), "", "open");
    }
    std::string path = info[0].As<Napi::String>().Utf8Value();
    Napi::Object options = info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
    auto* module = static_cast<Module*>(info.Data());
    Napi::Object handle = module->constructor.New({});
    return DeviceWrap::Unwrap(handle)->Start(env, handle, path, options);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw_error(env, {"E_INTERNAL", "", std::string("cannot open device: ") + e.what()}, "", "open");
  }
}

}  // namespace

template <Napi::Value (DeviceWrap::*Method)(const Napi::CallbackInfo&)>
Napi::Value DeviceWrap::Guarded(const Napi::CallbackInfo& info) {
  try {
    return (this->*Method)(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw_error(info.Env(), {"E_INTERNAL", "", path_ + ": " + e.what()}, path_, "io");
  }
}

Napi::Function DeviceWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeDevice",
                     {InstanceMethod<&DeviceWrap::Guarded<&DeviceWrap::Read>>("read"),
                      InstanceMethod<&DeviceWrap::Guarded<&DeviceWrap::ReadInto>>("readInto"),
                      InstanceMethod<&DeviceWrap::Guarded<&DeviceWrap::Write>>("write"),
                      InstanceMethod<&DeviceWrap::Guarded<&DeviceWrap::Scsi>>("scsi"),
                      InstanceMethod<&DeviceWrap::Guarded<&DeviceWrap::BlockPr>>("blockPr"),
                      InstanceMethod<&DeviceWrap::Guarded<&DeviceWrap::Close>>("close"),
                      InstanceAccessor<&DeviceWrap::GetHealth>("health"),
                      InstanceAccessor<&DeviceWrap::GetLastIoNs>("lastIoNs"),
                      InstanceAccessor<&DeviceWrap::GetLastIoTimings>("lastIoTimings"),
                      InstanceAccessor<&DeviceWrap::GetInfo>("info")});
}

DeviceWrap::DeviceWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceWrap>(info) {}

DeviceWrap::~DeviceWrap() {
  // Garbage-collected without close(): close in the background, reporting to no one.
  if (worker_ && !worker_->closing()) {
    // At environment teardown the context may be gone; its teardown hook stopped polling.
    if (worker_->has_sink()) context_->stop_ring_polling();
    worker_->request_close(0, timeout_ms_);
  }
}

Napi::Value DeviceWrap::Start(Napi::Env env, Napi::Object self, const std::string& path, Napi::Object options) {
  path_ = path;
  bool read_only = options.Get("readOnly").ToBoolean().Value();
  if (!options.Get("ioTimeoutMs").IsUndefined()) {
    timeout_ms_ = static_cast<uint32_t>(integer_arg(env, options.Get("ioTimeoutMs"), "ioTimeoutMs", path, "open"));
  }
  IscsiOptions iscsi;
  if (options.Get("iscsiInitiatorIqn").IsString()) {
    iscsi.initiator_iqn = options.Get("iscsiInitiatorIqn").As<Napi::String>().Utf8Value();
  }
  iscsi.isid = bigint_arg(env, options.Get("iscsiIsid"), "iscsiIsid", path);
  Napi::Value engine = options.Get("ioEngine");
  if (!engine.IsUndefined() && !(engine.IsString() && (engine.As<Napi::String>().Utf8Value() == "auto" ||
                                                       engine.As<Napi::String>().Utf8Value() == "thread"))) {
    throw_error(env, usage("ioEngine must be 'auto' or 'thread'"), path, "open");
  }
  const bool use_ring = engine.IsUndefined() || engine.As<Napi::String>().Utf8Value() == "auto";
  BackendOpener opener = [path, iscsi, read_only]() -> std::unique_ptr<Backend> {
    if (path.rfind("iscsi://", 0) == 0) return make_iscsi_backend(path, iscsi, read_only);
    return open_file_backend(path, read_only);
  };
  context_ = new DeviceContext(env, path, options.Get("onStateChange"));
  worker_ = std::make_shared<IoWorker>(path, std::move(opener), context_, use_ring);
  context_->attach(worker_);
  uint64_t open_id = next_id_++;
  auto deferred = Napi::Promise::Deferred::New(env);
  context_->add_pending(env, open_id, deferred, IoOp::Open, 0);
  context_->hold_until_open(self);
  worker_->start(open_id, timeout_ms_);
  return deferred.Promise();
}

const Geometry& DeviceWrap::OpenGeometry(Napi::Env env, IoOp op, uint64_t offset, size_t length) {
  if (!worker_ || worker_->closing()) {
    throw_error(env, {"E_CLOSED", "", describe_io(op_name(op), length, offset, path_) + " refused: the device is closed"},
                path_, op_name(op));
  }
  if (!geometry_) geometry_ = worker_->geometry();
  if (!geometry_) throw_error(env, {"E_INTERNAL", "", path_ + " is not open yet"}, path_, op_name(op));
  return *geometry_;
}

void DeviceWrap::CheckSectorRange(Napi::Env env, const Geometry& g, IoOp op, uint64_t offset, size_t length) {
  const uint32_t sector = g.logical_sector_size;
  if (length == 0 || offset % sector != 0 || length % sector != 0) {
    throw_error(env,
                {"E_MISALIGNED", "EINVAL",
                 describe_io(op_name(op), length, offset, path_) + " is not a whole number of " +
                     std::to_string(sector) + "-byte logical sectors"},
                path_, op_name(op), offset);
  }
  if (offset + length > g.size_bytes) {
    throw_error(env,
                usage(describe_io(op_name(op), length, offset, path_) + " extends past the end of the device (" +
                      std::to_string(g.size_bytes) + " bytes)"),
                path_, op_name(op), offset);
  }
}

uint32_t DeviceWrap::TimeoutArg(const Napi::CallbackInfo& info, size_t index) {
  if (info.Length() <= index || info[index].IsUndefined()) return timeout_ms_;
  uint64_t t = integer_arg(info.Env(), info[index], "timeoutMs", path_, "io");
  if (t == 0 || t > 3600000) throw_error(info.Env(), usage("timeoutMs must be 1..3600000"), path_, "io");
  return static_cast<uint32_t>(t);
}

Napi::Value DeviceWrap::Submit(Napi::Env env, IoRequest&& request, std::optional<Napi::Uint8Array> target) {
  request.id = next_id_++;
  const uint64_t id = request.id;
  const IoOp op = request.op;
  const uint64_t offset = request.offset;
  const size_t length = request.length;
  // Submitted first and registered after, so the device works on it meanwhile: nothing
  // can settle it before this call returns, because outcomes reach JS on this thread only.
  std::optional<IoOutcome> done;
  IoWorker::Submit result = worker_->submit(std::move(request), done);
  auto deferred = Napi::Promise::Deferred::New(env);
  if (result == IoWorker::Submit::Queued) {
    context_->add_pending(env, id, deferred, op, offset, target);
    if (done) context_->settle(env, *done);  // finished during the submission: settled now
    return deferred.Promise();
  }
  // Refused before queuing: settle here, on the JS thread.
  IoError error = result == IoWorker::Submit::Stalled
                      ? stalled_error(op, offset, length, path_, worker_->stuck_ms())
                      : IoError{"E_CLOSED", "", describe_io(op_name(op), length, offset, path_) + " refused: closed"};
  bool sector_io = op == IoOp::Read || op == IoOp::Write;
  deferred.Reject(make_error(env, error, path_, op_name(op), sector_io ? std::optional<uint64_t>(offset) : std::nullopt));
  return deferred.Promise();
}

// read(offset, length, timeoutMs?) -> Promise<Buffer>: a fresh Buffer.
Napi::Value DeviceWrap::Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t offset = integer_arg(env, info[0], "offset", path_, "read");
  size_t length = static_cast<size_t>(integer_arg(env, info[1], "length", path_, "read"));
  return SubmitRead(env, offset, length, TimeoutArg(info, 2), std::nullopt);
}

// readInto(offset, target: Uint8Array, timeoutMs?) -> Promise<void>: fills all of target.
// The kernel reads into the device's own aligned buffer, which a stuck read keeps; the
// bytes are copied into target on the JS thread only once the read has succeeded, so
// target is never written by a read that timed out.
Napi::Value DeviceWrap::ReadInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t offset = integer_arg(env, info[0], "offset", path_, "read");
  Napi::Uint8Array target = uint8_array_arg(env, info[1], "target", path_, "read");
  return SubmitRead(env, offset, target.ByteLength(), TimeoutArg(info, 2), target);
}

Napi::Value DeviceWrap::SubmitRead(Napi::Env env, uint64_t offset, size_t length, uint32_t timeout_ms,
                                   std::optional<Napi::Uint8Array> target) {
  const Geometry& g = OpenGeometry(env, IoOp::Read, offset, length);
  CheckSectorRange(env, g, IoOp::Read, offset, length);
  IoRequest request;
  request.op = IoOp::Read;
  request.offset = offset;
  request.length = length;
  request.timeout_ms = timeout_ms;
  request.buffer = context_->take_buffer(length, g.memory_alignment);  // only a complete read is returned
  return Submit(env, std::move(request), target);
}

Napi::Value DeviceWrap::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t offset = integer_arg(env, info[0], "offset", path_, "write");
  Napi::Uint8Array data = uint8_array_arg(env, info[1], "data", path_, "write");
  const Geometry& g = OpenGeometry(env, IoOp::Write, offset, data.ByteLength());
  if (g.read_only) {
    throw_error(env,
                {"E_READ_ONLY", "EROFS", describe_io("write", data.ByteLength(), offset, path_) + " refused: opened read-only"},
                path_, "write", offset);
  }
  CheckSectorRange(env, g, IoOp::Write, offset, data.ByteLength());
  IoRequest request;
  request.op = IoOp::Write;
  request.offset = offset;
  request.length = data.ByteLength();
  request.timeout_ms = TimeoutArg(info, 2);
  request.buffer = context_->take_buffer(request.length, g.memory_alignment);
  std::memcpy(request.buffer.data(), data.Data(), request.length);  // fills the whole buffer
  return Submit(env, std::move(request));
}

// scsi(cdb, direction 'none'|'in'|'out', data: Uint8Array (out) | number (in), scsiTimeoutMs)
Napi::Value DeviceWrap::Scsi(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array cdb = uint8_array_arg(env, info[0], "cdb", path_, "scsi");
  if (cdb.ByteLength() < 6 || cdb.ByteLength() > 16) throw_error(env, usage("cdb must be 6..16 bytes"), path_, "scsi");
  std::string direction = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  const Geometry& g = OpenGeometry(env, IoOp::Scsi, 0, 0);
  IoRequest request;
  request.op = IoOp::Scsi;
  request.cdb.assign(cdb.Data(), cdb.Data() + cdb.ByteLength());
  if (direction == "in") {
    request.scsi_direction = ScsiDirection::FromDevice;
    request.length = static_cast<size_t>(integer_arg(env, info[2], "data length", path_, "scsi"));
    request.buffer = AlignedBuffer(request.length, g.memory_alignment);
  } else if (direction == "out") {
    Napi::Uint8Array data = uint8_array_arg(env, info[2], "data", path_, "scsi");
    request.scsi_direction = ScsiDirection::ToDevice;
    request.length = data.ByteLength();
    request.buffer = AlignedBuffer(request.length, g.memory_alignment);
    std::memcpy(request.buffer.data(), data.Data(), request.length);
  } else if (direction != "none") {
    throw_error(env, usage("direction must be 'none', 'in' or 'out'"), path_, "scsi");
  }
  request.scsi_timeout_ms = static_cast<uint32_t>(integer_arg(env, info[3], "timeoutMs", path_, "scsi"));
  request.timeout_ms = std::max(timeout_ms_, request.scsi_timeout_ms + kScsiDeadlineSlackMs);
  return Submit(env, std::move(request));
}

// blockPr({op, oldKey, newKey, type, flags}) -> 0, -errno or a positive pr_status
Napi::Value DeviceWrap::BlockPr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw_error(env, usage("blockPr takes a request object"), path_, "block-pr");
  Napi::Object req = info[0].As<Napi::Object>();
  OpenGeometry(env, IoOp::BlockPr, 0, 0);
  IoRequest request;
  request.op = IoOp::BlockPr;
  std::string op = req.Get("op").IsString() ? req.Get("op").As<Napi::String>().Utf8Value() : "";
  request.pr.op = pr_op(env, op, path_);
  request.pr.old_key = bigint_arg(env, req.Get("oldKey"), "oldKey", path_);
  request.pr.new_key = bigint_arg(env, req.Get("newKey"), "newKey", path_);
  if (!req.Get("type").IsUndefined()) {
    request.pr.type = static_cast<uint32_t>(integer_arg(env, req.Get("type"), "type", path_, "block-pr"));
  }
  if (!req.Get("flags").IsUndefined()) {
    request.pr.flags = static_cast<uint32_t>(integer_arg(env, req.Get("flags"), "flags", path_, "block-pr"));
  }
  request.timeout_ms = timeout_ms_;
  return Submit(env, std::move(request));
}

// close([timeoutMs]) -> Promise<boolean>: true when the backend was closed, false when
// the device was stuck and its thread was left to finish (and close the fd) on its own.
Napi::Value DeviceWrap::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto deferred = Napi::Promise::Deferred::New(env);
  uint32_t timeout_ms = TimeoutArg(info, 0);
  if (!worker_ || worker_->closing()) {
    deferred.Resolve(Napi::Boolean::New(env, true));
    return deferred.Promise();
  }
  uint64_t close_id = next_id_++;
  context_->stop_ring_polling();  // from here the I/O thread reaps a job still on the ring
  context_->add_pending(env, close_id, deferred, IoOp::Open, 0);
  if (!worker_->request_close(close_id, timeout_ms)) {
    context_->forget_pending(env, close_id);
    deferred.Resolve(Napi::Boolean::New(env, true));
  }
  return deferred.Promise();
}

Napi::Value DeviceWrap::GetHealth(const Napi::CallbackInfo& info) {
  const char* health = !worker_ || worker_->closing()            ? "closed"
                       : worker_->health() == Health::Stalled ? "stalled"
                                                                : "ok";
  return Napi::String::New(info.Env(), health);
}

Napi::Value DeviceWrap::GetLastIoNs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), worker_ ? static_cast<double>(worker_->last_io_ns()) : 0.0);
}

// {queuedNs, syscallNs, deliveryNs} of the last settled I/O: the hand-off to the I/O
// thread, the syscall, and the hand-off back to the JS thread (docs/native-io.md).
Napi::Value DeviceWrap::GetLastIoTimings(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceContext::SettledTimings t;
  if (worker_ && !worker_->closing()) t = context_->last_timings();  // context_ may be gone after close
  Napi::Object o = Napi::Object::New(env);
  o.Set("queuedNs", Napi::Number::New(env, static_cast<double>(t.queued_ns)));
  o.Set("syscallNs", Napi::Number::New(env, static_cast<double>(t.syscall_ns)));
  o.Set("deliveryNs", Napi::Number::New(env, static_cast<double>(t.delivery_ns)));
  return o;
}

Napi::Value DeviceWrap::GetInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!geometry_ && worker_) geometry_ = worker_->geometry();
  if (!geometry_) return env.Null();
  const Geometry& g = *geometry_;
  Napi::Object o = Napi::Object::New(env);
  o.Set("path", path_);
  o.Set("kind", kind_name(g.kind));
  o.Set("logicalSectorSize", Napi::Number::New(env, g.logical_sector_size));
  o.Set("physicalSectorSize", Napi::Number::New(env, g.physical_sector_size));
  o.Set("memoryAlignment", Napi::Number::New(env, g.memory_alignment));
  o.Set("sizeBytes", Napi::Number::New(env, static_cast<double>(g.size_bytes)));
  o.Set("identity", g.identity);
  o.Set("readOnly", Napi::Boolean::New(env, g.read_only));
  if (worker_) o.Set("ioEngine", worker_->engine());
  return o;
}

void InitDevice(Napi::Env env, Napi::Object exports) {
  auto* module = new Module();
  module->constructor = Napi::Persistent(DeviceWrap::Define(env));
  env.AddCleanupHook([module] { delete module; });
  exports.Set("openDevice", Napi::Function::New(env, OpenDevice, "openDevice", module));
}

}  // namespace ycs
