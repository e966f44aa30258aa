// The per-device I/O engine, free of N-API: one dedicated I/O thread runs the device's
// jobs in order (a hung SAN path blocks only this thread, never the event loop or the
// libuv pool), and one watchdog thread enforces each job's deadline while the I/O thread
// may be stuck in the kernel.
//
// Deadline rule: a job's deadline counts from its submission. When a job passes its
// deadline, the watchdog reports it as E_DISK_TIMEOUT at once (the syscall may still be
// stuck), and the device becomes Stalled: queued jobs are refused with E_DISK_STALLED and
// so is every new job, until the I/O thread returns from the syscall that was in flight.
// The result of a timed-out job is dropped when it finally arrives: a write that timed
// out may or may not have reached the disk.
//
// The io_uring lane (io_ring.h): on a block device or file, a read or write that finds
// the device idle is submitted by the JS thread itself and reaped by it (reap_ring) when
// the event loop sees the ring's eventfd. It is the job in flight like any other: the
// watchdog enforces its deadline, and jobs submitted meanwhile queue behind it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "aligned_buffer.h"
#include "backend.h"
#include "io_errors.h"
#include "io_ring.h"

namespace ycs {

using Clock = std::chrono::steady_clock;

// After a completion, the I/O thread spins this long for the next job before it sleeps,
// but only while jobs come back to back (io_worker.cc). It covers the usual gap between a
// completion and the next submission here (JS settles the promise and calls again: 20-50
// us at p50-p90 on a busy 2-vCPU VM).
constexpr std::chrono::microseconds kSpinAfterCompletion{100};

enum class IoOp { Open, Read, Write, Scsi, BlockPr };
const char* op_name(IoOp op);
uint64_t nanoseconds_between(Clock::time_point from, Clock::time_point to);

enum class Health { Ok, Stalled };

// E_DISK_STALLED: "read of 512 bytes at offset 0 on DEV refused: DEV is stalled (...)".
IoError stalled_error(IoOp op, uint64_t offset, size_t length, const std::string& device, uint64_t stuck_ms);

struct IoRequest {
  IoOp op = IoOp::Read;
  uint64_t id = 0;
  uint64_t offset = 0;
  size_t length = 0;
  AlignedBuffer buffer;  // read target, write source, SCSI data
  std::vector<uint8_t> cdb;
  ScsiDirection scsi_direction = ScsiDirection::None;
  uint32_t scsi_timeout_ms = 0;
  BlockPrRequest pr{};
  uint32_t timeout_ms = 0;
  Clock::time_point submitted;
  Clock::time_point deadline;
};

// Where one job's time went, for diagnostics (SectorDevice.lastIoTimings).
struct IoTimings {
  uint64_t queued_ns = 0;    // submission -> the I/O thread starts the syscall
  uint64_t syscall_ns = 0;   // the backend call on the I/O thread
  Clock::time_point finished;  // the backend call returned
};

struct IoOutcome {
  uint64_t id = 0;
  IoOp op = IoOp::Read;
  bool ok = true;
  IoError error;         // when !ok
  AlignedBuffer buffer;  // read data, SCSI data-in
  size_t length = 0;     // bytes of `buffer` that are valid
  ScsiResult scsi;
  int pr_result = 0;
  Geometry geometry;  // Open
  IoTimings timings;
};

// Receives everything the worker reports. Called from any thread, always with the
// worker's mutex held: implementations must only queue, never block or call back.
// Shared by the I/O worker and its io_uring lane (io_worker.cc, io_uring_lane.cc).
std::string describe_request(IoOp op, uint64_t offset, size_t length, const std::string& device);
uint64_t elapsed_ms(Clock::time_point from, Clock::time_point to);
IoOutcome failed_outcome(uint64_t id, IoOp op, IoError error);

class IoSink {
 public:
  virtual ~IoSink() = default;
  virtual void completed(IoOutcome&& outcome) = 0;
  virtual void health_changed(Health health, uint64_t stuck_ms) = 0;
  virtual void closed(uint64_t close_id, bool clean) = 0;
  virtual void threads_exiting() = 0;  // the last call the sink gets
};

using BackendOpener = std::function<std::unique_ptr<Backend>()>;

class IoWorker : public std::enable_shared_from_this<IoWorker> {
 public:
  enum class Submit { Queued, Stalled, Closed };

  // use_ring: submit sector I/O through io_uring when the backend and kernel allow it.
  IoWorker(std::string device, BackendOpener opener, IoSink* sink, bool use_ring);
  // Starts both threads; the first job opens the backend and probes it.
  void start(uint64_t open_id, uint32_t timeout_ms);
  // JS thread only: a read or write on an idle device goes straight to the ring. When
  // the kernel completed it during the submission (a NOWAIT issue that found the data at
  // hand), its outcome is put in `done` at once, for the caller to settle.
  Submit submit(IoRequest&& request, std::optional<IoOutcome>& done);
  // JS thread, when the ring's eventfd is readable: the outcome of the ring job, if it
  // has finished (nothing for a job that timed out, or once the device is closing: the
  // I/O thread reaps it then).
  std::optional<IoOutcome> reap_ring();
  // The eventfd to poll, -1 when sector I/O runs on the I/O thread. Fixed once open.
  int ring_event_fd();
  // Gives the ring up for good, right after open when the event loop cannot poll it.
  void drop_ring();
  // "io_uring" or "thread": how sector reads and writes are issued.
  const char* engine();
  // Lets queued work finish, then closes the backend. Reports sink->closed(close_id,
  // clean) when the backend is closed, or (clean=false) at once when the device is
  // stalled or the close passes its deadline; the threads then exit on their own once the
  // stuck syscall returns. Returns false when the worker was already closing.
  bool request_close(uint64_t close_id, uint32_t timeout_ms);
  // The sink is going away (environment teardown): report nothing more.
  void detach_sink();
  // False once the sink is detached (environment teardown) or gone (threads exiting):
  // then the DeviceContext may already be deleted.
  bool has_sink();

  bool closing();
  Health health();
  uint64_t stuck_ms();
  std::optional<Geometry> geometry();
  // Time the most recently completed job spent in the backend call (the syscall), in ns.
  uint64_t last_io_ns() const { return last_io_ns_.load(std::memory_order_relaxed); }
  const std::string& device() const { return device_; }

 private:
  struct InFlight {
    uint64_t id;
    IoOp op;
    uint64_t offset;
    size_t length;
    uint32_t timeout_ms;
    Clock::time_point started;
    Clock::time_point deadline;
    bool timed_out = false;
    bool on_ring = false;
  };

  static std::chrono::nanoseconds spin_after_completion();
  void io_loop();
  bool ring_busy_locked() const { return in_flight_ && in_flight_->on_ring; }
  bool submit_to_ring_locked(IoRequest& request);
  std::optional<IoOutcome> reap_ring_locked(bool woken);
  std::optional<IoOutcome> finish_ring_job_locked(RingLane::Completion completion);
  void reap_ring_while_closing(std::unique_lock<std::mutex>& lock);
  void abandon_ring_locked();
  void open_ring();
  bool spin_for_next_job(Clock::time_point finished);
  void watchdog_loop();
  IoOutcome execute(IoRequest& request);
  void open_backend(IoOutcome& outcome);
  void enqueue_locked(IoRequest&& request);  // the caller then calls signal_io_thread()
  void signal_io_thread();
  void wake_watchdog_locked(Clock::time_point deadline);
  void expire_locked(Clock::time_point now);
  void enter_stall_locked();
  std::optional<Clock::time_point> next_deadline_locked();
  IoOutcome timeout_outcome(uint64_t id, IoOp op, uint64_t offset, size_t length, uint32_t timeout_ms, bool queued);
  IoOutcome stalled_outcome(const IoRequest& request);
  IoOutcome closed_outcome(const IoRequest& request);
  uint64_t stuck_ms_locked(Clock::time_point now);

  const std::string device_;
  BackendOpener opener_;
  std::unique_ptr<Backend> backend_;  // touched only by the I/O thread

  std::mutex mutex_;
  std::condition_variable io_cv_;
  // Set whenever the I/O thread has something to do (a job, a close), after the state
  // change under the mutex; read without it by the I/O thread's spin (io_loop). Only a
  // hint: the condition variable's predicate decides.
  std::atomic<bool> work_signalled_{false};
  std::chrono::nanoseconds spin_;
  std::atomic<uint64_t> last_io_ns_{0};  // written by the I/O thread, read by JS without the mutex
  std::condition_variable watchdog_cv_;
  IoSink* sink_;
  std::deque<IoRequest> queue_;
  std::optional<InFlight> in_flight_;
  std::optional<Geometry> geometry_;
  const bool use_ring_;
  std::unique_ptr<RingLane> ring_;        // set once after open; submitted to by the JS thread
  std::optional<IoRequest> ring_job_;     // the job on the ring (owns its buffer until reaped)
  size_t ring_done_ = 0;                  // bytes of ring_job_ transferred so far
  Health health_ = Health::Ok;
  bool closing_ = false;
  bool close_reported_ = false;
  uint64_t close_id_ = 0;
  Clock::time_point close_deadline_;
  bool stopping_ = false;
  Clock::time_point watchdog_sleeps_until_ = Clock::time_point::min();
  std::thread watchdog_;
};

}  // namespace ycs
