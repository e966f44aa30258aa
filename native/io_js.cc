#include "io_js.h"

#include <cstring>


namespace ycs {

Napi::Value make_error(Napi::Env env, const IoError& error, const std::string& device, const char* op,
                       std::optional<uint64_t> offset) {
  Napi::Error err = Napi::Error::New(env, error.message);
  Napi::Object obj = err.Value();
  obj.Set("code", error.code);
  if (!error.errno_name.empty()) obj.Set("errno", error.errno_name);
  obj.Set("device", device);
  obj.Set("op", op);
  if (offset) obj.Set("offset", Napi::Number::New(env, static_cast<double>(*offset)));
  return obj;
}

void throw_error(Napi::Env env, const IoError& error, const std::string& device, const char* op,
                 std::optional<uint64_t> offset) {
  throw Napi::Error(env, make_error(env, error, device, op, offset));
}

DeviceContext::DeviceContext(Napi::Env env, std::string device, Napi::Value on_health)
    : async_context_(env, "ycs:disk-io"), device_(std::move(device)) {
  if (on_health.IsFunction()) on_health_ = Napi::Persistent(on_health.As<Napi::Function>());
  tsfn_ = Tsfn::New(env, "ycs-device-io", 0, 1, this, Finalize, static_cast<void*>(nullptr));
  tsfn_.Unref(env);
  // Registered after the thread-safe function, so it runs before the TSFN's own cleanup.
  napi_add_env_cleanup_hook(env, OnEnvTeardown, this);
}

void DeviceContext::OnEnvTeardown(void* arg) {
  auto* context = static_cast<DeviceContext*>(arg);
  context->stop_ring_polling();
  if (context->worker_) context->worker_->detach_sink();
}

void DeviceContext::Finalize(Napi::Env env, void*, DeviceContext* context) {
  napi_remove_env_cleanup_hook(env, OnEnvTeardown, context);
  context->stop_ring_polling();
  delete context;
}

void DeviceContext::start_ring_polling(Napi::Env env) {
  const int fd = worker_ ? worker_->ring_event_fd() : -1;
  if (fd < 0 || ring_poll_ != nullptr) return;
  uv_loop_t* loop = nullptr;
  auto* poll = new uv_poll_t();
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr || uv_poll_init(loop, poll, fd) != 0) {
    delete poll;
    worker_->drop_ring();  // nothing could reap from it: sector I/O takes the I/O thread
    return;
  }
  poll->data = this;
  uv_poll_start(poll, UV_READABLE, OnRingReady);
  // An idle device must not keep the process alive; a pending promise refs the TSFN.
  uv_unref(reinterpret_cast<uv_handle_t*>(poll));
  ring_poll_ = poll;
}

void DeviceContext::stop_ring_polling() {
  if (ring_poll_ == nullptr) return;
  uv_poll_stop(ring_poll_);
  uv_close(reinterpret_cast<uv_handle_t*>(ring_poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
  ring_poll_ = nullptr;
}

// The ring's eventfd is readable: settle the finished job in a callback scope, so the
// promise's continuations run before the event loop goes on, as after any callback.
void DeviceContext::OnRingReady(uv_poll_t* handle, int, int) {
  auto* context = static_cast<DeviceContext*>(handle->data);
  std::optional<IoOutcome> outcome = context->worker_->reap_ring();
  if (!outcome) return;
  Napi::Env env = context->async_context_.Env();
  Napi::HandleScope scope(env);
  Napi::CallbackScope callback_scope(env, context->async_context_);
  context->settle(env, *outcome);
}

void DeviceContext::add_pending(Napi::Env env, uint64_t id, Napi::Promise::Deferred deferred, IoOp op,
                                uint64_t offset, std::optional<Napi::Uint8Array> target) {
  if (pending_.empty()) tsfn_.Ref(env);
  std::shared_ptr<Napi::Reference<Napi::Uint8Array>> held;
  if (target) held = std::make_shared<Napi::Reference<Napi::Uint8Array>>(Napi::Persistent(*target));
  pending_.emplace(id, Pending{deferred, op, offset, std::move(held)});
}

std::optional<DeviceContext::Pending> DeviceContext::take_pending(Napi::Env env, uint64_t id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return std::nullopt;
  Pending p = it->second;
  pending_.erase(it);
  if (pending_.empty()) tsfn_.Unref(env);
  return p;
}

namespace {
constexpr size_t kMaxSpareBuffers = 4;
}

AlignedBuffer DeviceContext::take_buffer(size_t size, size_t alignment) {
  for (auto it = spare_buffers_.begin(); it != spare_buffers_.end(); ++it) {
    if (it->size() == size && reinterpret_cast<uintptr_t>(it->data()) % alignment == 0) {
      AlignedBuffer buffer = std::move(*it);
      spare_buffers_.erase(it);
      return buffer;
    }
  }
  return AlignedBuffer(size, alignment, false);
}

void DeviceContext::give_back(AlignedBuffer&& buffer) {
  if (buffer.data() == nullptr) return;
  if (spare_buffers_.size() >= kMaxSpareBuffers) spare_buffers_.erase(spare_buffers_.begin());
  spare_buffers_.push_back(std::move(buffer));
}

void DeviceContext::post(DeviceMessage* message) {
  if (tsfn_.NonBlockingCall(message) != napi_ok) delete message;
}

void DeviceContext::completed(IoOutcome&& outcome) {
  auto* m = new DeviceMessage();
  m->kind = DeviceMessage::Kind::Completed;
  m->outcome = std::move(outcome);
  post(m);
}

void DeviceContext::health_changed(Health health, uint64_t stuck_ms) {
  auto* m = new DeviceMessage();
  m->kind = DeviceMessage::Kind::Health;
  m->health = health;
  m->stuck_ms = stuck_ms;
  post(m);
}

void DeviceContext::closed(uint64_t close_id, bool clean) {
  auto* m = new DeviceMessage();
  m->kind = DeviceMessage::Kind::Closed;
  m->close_id = close_id;
  m->clean = clean;
  post(m);
}

void DeviceContext::threads_exiting() { tsfn_.Release(); }

void DeviceContext::CallJs(Napi::Env env, Napi::Function, DeviceContext* context, DeviceMessage* message) {
  std::unique_ptr<DeviceMessage> owned(message);
  if (env == nullptr || context == nullptr) return;  // environment going away
  Napi::HandleScope scope(env);
  try {
    switch (owned->kind) {
      case DeviceMessage::Kind::Completed: context->settle(env, owned->outcome); break;
      case DeviceMessage::Kind::Health: context->report_health(env, owned->health, owned->stuck_ms); break;
      case DeviceMessage::Kind::Closed: {
        std::optional<Pending> p = context->take_pending(env, owned->close_id);
        if (p) p->deferred.Resolve(Napi::Boolean::New(env, owned->clean));
        break;
      }
    }
  } catch (const Napi::Error& e) {
    // A throwing onHealthChange callback: let Node report it as an uncaught exception.
    e.ThrowAsJavaScriptException();
  }
}

void DeviceContext::settle(Napi::Env env, IoOutcome& outcome) {
  std::optional<Pending> p = take_pending(env, outcome.id);
  if (!p) return;
  last_timings_ = {outcome.timings.queued_ns, outcome.timings.syscall_ns,
                   nanoseconds_between(outcome.timings.finished, Clock::now())};
  bool sector_io = p->op == IoOp::Read || p->op == IoOp::Write;
  if (outcome.ok && p->target && !fill_target(*p, outcome)) {
    outcome.ok = false;
    outcome.error = {"E_INVALID_ARGUMENT", "",
                     describe_io("read", outcome.length, p->offset, device_) +
                         ": the target buffer was detached or shrunk while the read was in flight"};
  }
  if (!outcome.ok) {
    std::optional<uint64_t> offset = sector_io ? std::optional<uint64_t>(p->offset) : std::nullopt;
    p->deferred.Reject(make_error(env, outcome.error, device_, op_name(p->op), offset));
  } else if (p->target) {
    p->deferred.Resolve(env.Undefined());
  } else {
    p->deferred.Resolve(success_value(env, outcome));
  }
  give_back(std::move(outcome.buffer));
  if (p->op == IoOp::Open) {
    self_.Reset();
    if (outcome.ok) start_ring_polling(env);
  }
}

bool DeviceContext::fill_target(Pending& pending, const IoOutcome& outcome) {
  Napi::Uint8Array target = pending.target->Value();
  if (target.IsEmpty() || target.ByteLength() < outcome.length) return false;
  std::memcpy(target.Data(), outcome.buffer.data(), outcome.length);
  return true;
}

Napi::Value DeviceContext::success_value(Napi::Env env, IoOutcome& outcome) {
  switch (outcome.op) {
    case IoOp::Open: return self_.Value();
    case IoOp::Read: return Napi::Buffer<uint8_t>::Copy(env, outcome.buffer.data(), outcome.length);
    case IoOp::Write: return env.Undefined();
    case IoOp::BlockPr: return Napi::Number::New(env, outcome.pr_result);
    case IoOp::Scsi: {
      Napi::Object reply = Napi::Object::New(env);
      const ScsiResult& r = outcome.scsi;
      reply.Set("osErrno", Napi::Number::New(env, r.os_errno));
      reply.Set("status", Napi::Number::New(env, r.status));
      reply.Set("hostStatus", Napi::Number::New(env, r.host_status));
      reply.Set("sense", Napi::Buffer<uint8_t>::Copy(env, r.sense.data(), r.sense.size()));
      reply.Set("data", Napi::Buffer<uint8_t>::Copy(env, outcome.buffer.data(), outcome.length));
      return reply;
    }
  }
  return env.Undefined();
}

void DeviceContext::report_health(Napi::Env env, Health health, uint64_t stuck_ms) {
  if (on_health_.IsEmpty()) return;
  on_health_.Call({Napi::String::New(env, health == Health::Ok ? "ok" : "stalled"),
                   Napi::Number::New(env, static_cast<double>(stuck_ms))});
}

}  // namespace ycs
