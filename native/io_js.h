// The bridge from an IoWorker's threads to JavaScript: DeviceContext queues every
// outcome through a thread-safe function and settles the matching promise on the JS
// thread; plus the helpers that turn IoErrors into the error objects src/disk/device.ts
// converts to YcsError ({code, errno, device, op, offset, message}).
#pragma once

#include <napi.h>
#include <uv.h>

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "io_worker.h"

namespace ycs {

struct DeviceMessage {
  enum class Kind { Completed, Health, Closed } kind = Kind::Completed;
  IoOutcome outcome;
  Health health = Health::Ok;
  uint64_t stuck_ms = 0;
  uint64_t close_id = 0;
  bool clean = true;
};

Napi::Value make_error(Napi::Env env, const IoError& error, const std::string& device, const char* op,
                       std::optional<uint64_t> offset);
[[noreturn]] void throw_error(Napi::Env env, const IoError& error, const std::string& device, const char* op,
                              std::optional<uint64_t> offset = std::nullopt);

class DeviceContext : public IoSink {
 public:
  static void CallJs(Napi::Env env, Napi::Function unused, DeviceContext* context, DeviceMessage* message);
  using Tsfn = Napi::TypedThreadSafeFunction<DeviceContext, DeviceMessage, DeviceContext::CallJs>;

  // Creates the thread-safe function (unreferenced while nothing is pending) and hooks
  // environment teardown so the worker's threads stop reporting into a dead environment.
  DeviceContext(Napi::Env env, std::string device, Napi::Value on_health);
  void attach(std::shared_ptr<IoWorker> worker) { worker_ = std::move(worker); }
  // The event loop watches the worker's io_uring eventfd from a successful open until
  // close (JS thread). Stopped before the worker may tear the ring down.
  void stop_ring_polling();

  // JS thread. A pending promise keeps the event loop alive, like an fs request.
  // `target`: a read's destination (readInto), filled when the read succeeds.
  void add_pending(Napi::Env env, uint64_t id, Napi::Promise::Deferred deferred, IoOp op, uint64_t offset,
                   std::optional<Napi::Uint8Array> target = std::nullopt);
  void forget_pending(Napi::Env env, uint64_t id) { take_pending(env, id); }
  void hold_until_open(Napi::Object self) { self_ = Napi::Persistent(self); }

  // Aligned buffers for sector I/O, reused (JS thread only): a fresh allocation per I/O
  // churns the heap next to the Buffers handed to JS and faults pages in again.
  AlignedBuffer take_buffer(size_t size, size_t alignment);
  void give_back(AlignedBuffer&& buffer);

  // Settles the promise of a finished job (JS thread): from the thread-safe function, the
  // ring's poll, or the submission itself when the kernel finished the I/O inline.
  void settle(Napi::Env env, IoOutcome& outcome);

  // The hand-off figures of the last settled I/O (JS thread only); see lastIoTimings.
  struct SettledTimings {
    uint64_t queued_ns = 0;    // submission -> syscall start on the I/O thread
    uint64_t syscall_ns = 0;   // the syscall on the I/O thread
    uint64_t delivery_ns = 0;  // syscall end -> the JS thread starts settling the promise
  };
  const SettledTimings& last_timings() const { return last_timings_; }

  // IoSink: any thread, worker mutex held.
  void completed(IoOutcome&& outcome) override;
  void health_changed(Health health, uint64_t stuck_ms) override;
  void closed(uint64_t close_id, bool clean) override;
  void threads_exiting() override;

 private:
  struct Pending {
    Napi::Promise::Deferred deferred;
    IoOp op;
    uint64_t offset;
    std::shared_ptr<Napi::Reference<Napi::Uint8Array>> target;  // readInto only
  };
  static void OnEnvTeardown(void* arg);
  static void OnRingReady(uv_poll_t* handle, int status, int events);
  void start_ring_polling(Napi::Env env);
  static void Finalize(Napi::Env env, void* unused, DeviceContext* context);
  void post(DeviceMessage* message);
  std::optional<Pending> take_pending(Napi::Env env, uint64_t id);
  Napi::Value success_value(Napi::Env env, IoOutcome& outcome);
  // Copies a read into its readInto target; false when the target no longer holds it.
  bool fill_target(Pending& pending, const IoOutcome& outcome);
  void report_health(Napi::Env env, Health health, uint64_t stuck_ms);

  Tsfn tsfn_;
  Napi::AsyncContext async_context_;  // promises settled from the ring poll run in it
  uv_poll_t* ring_poll_ = nullptr;
  std::shared_ptr<IoWorker> worker_;
  std::string device_;
  std::unordered_map<uint64_t, Pending> pending_;
  Napi::FunctionReference on_health_;
  Napi::ObjectReference self_;  // keeps the handle alive until open settles
  SettledTimings last_timings_;
  std::vector<AlignedBuffer> spare_buffers_;
};

}  // namespace ycs
