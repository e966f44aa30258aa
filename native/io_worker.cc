#include "io_worker.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <cstdlib>

namespace ycs {

const char* op_name(IoOp op) {
  switch (op) {
    case IoOp::Open: return "open";
    case IoOp::Read: return "read";
    case IoOp::Write: return "write";
    case IoOp::Scsi: return "scsi";
    case IoOp::BlockPr: return "block-pr";
  }
  return "io";
}

std::string describe_request(IoOp op, uint64_t offset, size_t length, const std::string& device) {
  switch (op) {
    case IoOp::Read:
    case IoOp::Write: return describe_io(op_name(op), length, offset, device);
    case IoOp::Open: return "open of " + device;
    case IoOp::Scsi: return "SCSI command on " + device;
    case IoOp::BlockPr: return "persistent reservation ioctl on " + device;
  }
  return device;
}

uint64_t elapsed_ms(Clock::time_point from, Clock::time_point to) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count());
}

IoOutcome failed_outcome(uint64_t id, IoOp op, IoError error) {
  IoOutcome out;
  out.id = id;
  out.op = op;
  out.ok = false;
  out.error = std::move(error);
  return out;
}

uint64_t nanoseconds_between(Clock::time_point from, Clock::time_point to) {
  return to <= from ? 0 : static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count());
}

IoWorker::IoWorker(std::string device, BackendOpener opener, IoSink* sink, bool use_ring)
    : device_(std::move(device)), opener_(std::move(opener)), sink_(sink), use_ring_(use_ring) {
  spin_ = spin_after_completion();
}

// How long the I/O thread spins for the next job after a completion: kSpinAfterCompletion,
// YCS_IO_SPIN_US when set (0 turns the spin off), and never with a single usable CPU,
// where a spinning I/O thread would only hold off the JS thread that is to submit.
std::chrono::nanoseconds IoWorker::spin_after_completion() {
  cpu_set_t cpus;
  if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0 && CPU_COUNT(&cpus) < 2) return std::chrono::nanoseconds(0);
  const char* knob = std::getenv("YCS_IO_SPIN_US");
  if (knob != nullptr && *knob != '\0') return std::chrono::microseconds(std::strtoul(knob, nullptr, 10));
  return kSpinAfterCompletion;
}

void IoWorker::start(uint64_t open_id, uint32_t timeout_ms) {
  IoRequest open;
  open.op = IoOp::Open;
  open.id = open_id;
  open.timeout_ms = timeout_ms;
  open.submitted = Clock::now();
  open.deadline = open.submitted + std::chrono::milliseconds(timeout_ms);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(open));
  }
  auto self = shared_from_this();
  watchdog_ = std::thread([self] {
    pthread_setname_np(pthread_self(), "ycs-watchdog");  // names show in top -H and /proc
    self->watchdog_loop();
  });
  // Detached: a thread stuck in the kernel must never be joined from the event loop.
  // It owns a reference to this worker and exits by itself once its syscall returns.
  std::thread([self] {
    pthread_setname_np(pthread_self(), "ycs-io");
    self->io_loop();
  }).detach();
}

IoWorker::Submit IoWorker::submit(IoRequest&& request, std::optional<IoOutcome>& done) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closing_) return Submit::Closed;
    if (health_ == Health::Stalled) return Submit::Stalled;
    if (submit_to_ring_locked(request)) {
      // The completion is posted before io_uring_enter returns to user space when the
      // kernel finished the I/O inline; then there is nothing to wait for.
      done = reap_ring_locked(false);
      return Submit::Queued;
    }
    enqueue_locked(std::move(request));
  }
  signal_io_thread();
  return Submit::Queued;
}

// After the mutex is released: a spinning I/O thread that sees the flag then takes the
// mutex at once instead of sleeping on it, and a sleeping one is not woken only to block
// on the mutex we hold.
void IoWorker::signal_io_thread() {
  work_signalled_.store(true, std::memory_order_release);
  io_cv_.notify_one();
}

void IoWorker::enqueue_locked(IoRequest&& request) {
  request.submitted = Clock::now();
  request.deadline = request.submitted + std::chrono::milliseconds(request.timeout_ms);
  Clock::time_point deadline = request.deadline;
  queue_.push_back(std::move(request));
  wake_watchdog_locked(deadline);
}

bool IoWorker::request_close(uint64_t close_id, uint32_t timeout_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (closing_) return false;
  closing_ = true;
  close_id_ = close_id;
  close_deadline_ = Clock::now() + std::chrono::milliseconds(timeout_ms);
  work_signalled_.store(true, std::memory_order_release);
  if (health_ == Health::Stalled) {
    close_reported_ = true;
    if (sink_ != nullptr) sink_->closed(close_id, false);
  }
  io_cv_.notify_one();
  wake_watchdog_locked(close_deadline_);
  return true;
}

void IoWorker::detach_sink() {
  std::lock_guard<std::mutex> lock(mutex_);
  sink_ = nullptr;
}

bool IoWorker::has_sink() {
  std::lock_guard<std::mutex> lock(mutex_);
  return sink_ != nullptr;
}

bool IoWorker::closing() {
  std::lock_guard<std::mutex> lock(mutex_);
  return closing_;
}

Health IoWorker::health() {
  std::lock_guard<std::mutex> lock(mutex_);
  return health_;
}

uint64_t IoWorker::stuck_ms() {
  std::lock_guard<std::mutex> lock(mutex_);
  return stuck_ms_locked(Clock::now());
}

std::optional<Geometry> IoWorker::geometry() {
  std::lock_guard<std::mutex> lock(mutex_);
  return geometry_;
}

uint64_t IoWorker::stuck_ms_locked(Clock::time_point now) {
  return in_flight_ ? elapsed_ms(in_flight_->started, now) : 0;
}

void IoWorker::io_loop() {
  Clock::time_point last_finished = Clock::time_point::min();
  bool spin = false;
  for (;;) {
    if (spin) spin_for_next_job(last_finished);
    IoRequest request;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      io_cv_.wait(lock, [this] { return closing_ || (!queue_.empty() && !ring_busy_locked()); });
      if (ring_busy_locked()) {
        reap_ring_while_closing(lock);
        continue;
      }
      if (queue_.empty()) break;
      request = std::move(queue_.front());
      queue_.pop_front();
      work_signalled_.store(!queue_.empty() || closing_, std::memory_order_relaxed);
      in_flight_ = InFlight{request.id, request.op, request.offset, request.length, request.timeout_ms,
                            Clock::now(), request.deadline};
    }
    const Clock::time_point started = Clock::now();
    IoOutcome outcome = execute(request);
    outcome.timings.finished = Clock::now();
    // Requests are frequent when this one came within the spin window of the previous
    // completion (or was queued while it ran): then the next one likely comes soon too.
    spin = spin_.count() > 0 && request.submitted < last_finished + spin_;
    last_finished = outcome.timings.finished;
    outcome.timings.queued_ns = nanoseconds_between(request.submitted, started);
    outcome.timings.syscall_ns = nanoseconds_between(started, outcome.timings.finished);
    last_io_ns_.store(outcome.timings.syscall_ns, std::memory_order_relaxed);
    const bool open_failed = request.op == IoOp::Open && !outcome.ok;
    if (request.op == IoOp::Open && outcome.ok) open_ring();  // before JS hears of the open
    std::lock_guard<std::mutex> lock(mutex_);
    const bool timed_out = in_flight_->timed_out;
    in_flight_.reset();
    if (request.op == IoOp::Open && outcome.ok) geometry_ = outcome.geometry;
    if (!timed_out && sink_ != nullptr) sink_->completed(std::move(outcome));
    if (health_ == Health::Stalled) {
      health_ = Health::Ok;
      if (sink_ != nullptr) sink_->health_changed(Health::Ok, 0);
    }
    if (open_failed) {
      // Nothing can run on a device that did not open: the handle is closed from now on.
      closing_ = true;
      close_reported_ = true;
      break;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ring_.reset();  // nothing is on it: reaped above; the JS thread stopped polling before close
  }
  if (backend_) backend_->close();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!close_reported_ && sink_ != nullptr) sink_->closed(close_id_, true);
    close_reported_ = true;
    for (IoRequest& left : queue_) {
      if (sink_ != nullptr) sink_->completed(closed_outcome(left));
    }
    queue_.clear();
    stopping_ = true;
    watchdog_cv_.notify_one();
  }
  watchdog_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  if (sink_ != nullptr) sink_->threads_exiting();
  sink_ = nullptr;
}

// A short bounded spin after a completion, only while requests come back to back: a
// request that arrives within it is taken without the futex wake-up, which on a VM costs
// an inter-processor interrupt to a halted vCPU (up to tens of microseconds,
// docs/native-io.md).
// Returns true when work arrived during the spin.
bool IoWorker::spin_for_next_job(Clock::time_point finished) {
  const Clock::time_point until = finished + spin_;
  while (!work_signalled_.load(std::memory_order_acquire)) {
    if (Clock::now() >= until) return false;
    // Yield rather than pause: when the scheduler has put the JS thread on this CPU, a
    // pause loop would hold it off until the spin ends (measured: p90 up 2-3x).
    sched_yield();
  }
  return true;
}

IoOutcome IoWorker::execute(IoRequest& request) {
  IoOutcome out;
  out.id = request.id;
  out.op = request.op;
  try {
    int rc = 0;
    switch (request.op) {
      case IoOp::Open: open_backend(out); return out;
      case IoOp::Read: rc = backend_->read(request.buffer.data(), request.length, request.offset); break;
      case IoOp::Write: rc = backend_->write(request.buffer.data(), request.length, request.offset); break;
      case IoOp::Scsi:
        out.scsi = backend_->scsi(request.cdb.data(), request.cdb.size(), request.scsi_direction,
                                  request.buffer.data(), request.length, request.scsi_timeout_ms);
        out.length = request.scsi_direction == ScsiDirection::FromDevice
                         ? std::min<size_t>(out.scsi.data_transferred, request.length)
                         : 0;
        out.buffer = std::move(request.buffer);
        return out;
      case IoOp::BlockPr: out.pr_result = backend_->block_pr(request.pr); return out;
    }
    if (rc < 0) {
      out.ok = false;
      out.error = io_error(-rc, op_name(request.op), request.length, request.offset, device_);
    } else if (request.op == IoOp::Read) {
      out.length = request.length;
    }
    out.buffer = std::move(request.buffer);  // read data; for a write, the buffer goes back for reuse
  } catch (const std::exception& e) {
    out.ok = false;
    out.error = {"E_INTERNAL", "",
                 describe_request(request.op, request.offset, request.length, device_) + " failed: " + e.what()};
  }
  return out;
}

void IoWorker::open_backend(IoOutcome& out) {
  try {
    backend_ = opener_();
    out.geometry = backend_->probe();
    return;
  } catch (const SystemError& e) {
    out.error = open_error(e.err, device_, e.what());
  } catch (const std::exception& e) {
    // iSCSI backends report "ERRNO_NAME: text".
    std::string text = e.what();
    size_t colon = text.find(':');
    std::string name = colon == std::string::npos ? "" : text.substr(0, colon);
    out.error = {code_for_errno_name(name, "E_ISCSI"), name, "cannot open " + device_ + ": " + text};
  }
  out.ok = false;
  if (backend_) backend_->close();
  backend_.reset();
}

// Wakes the watchdog only when a deadline earlier than the one it sleeps until appears:
// with deadlines seconds away and I/Os taking microseconds, the watchdog then wakes about
// once per timeout period instead of on every I/O (each wake-up is a context switch that
// the I/O thread and the event loop would pay for).
void IoWorker::wake_watchdog_locked(Clock::time_point deadline) {
  if (deadline < watchdog_sleeps_until_) watchdog_cv_.notify_one();
}

void IoWorker::watchdog_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    std::optional<Clock::time_point> next = next_deadline_locked();
    watchdog_sleeps_until_ = next ? *next : Clock::time_point::max();
    if (next) {
      watchdog_cv_.wait_until(lock, *next);
    } else {
      watchdog_cv_.wait(lock);
    }
    watchdog_sleeps_until_ = Clock::time_point::min();  // awake: nobody needs to wake it
    expire_locked(Clock::now());
  }
}

std::optional<Clock::time_point> IoWorker::next_deadline_locked() {
  std::optional<Clock::time_point> next;
  auto consider = [&next](Clock::time_point t) { next = next ? std::min(*next, t) : t; };
  if (in_flight_ && !in_flight_->timed_out) consider(in_flight_->deadline);
  for (const IoRequest& queued : queue_) consider(queued.deadline);
  if (closing_ && !close_reported_) consider(close_deadline_);
  return next;
}

void IoWorker::expire_locked(Clock::time_point now) {
  bool stall = false;
  if (in_flight_ && !in_flight_->timed_out && in_flight_->deadline <= now) {
    in_flight_->timed_out = true;
    const InFlight& f = *in_flight_;
    if (sink_ != nullptr) sink_->completed(timeout_outcome(f.id, f.op, f.offset, f.length, f.timeout_ms, false));
    stall = true;
    if (f.op == IoOp::Open && !closing_) {
      // Nobody holds a handle to a device whose open was abandoned: close it as soon as
      // the open returns.
      closing_ = true;
      close_reported_ = true;
      io_cv_.notify_one();
    }
  }
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (it->deadline > now) {
      ++it;
      continue;
    }
    if (sink_ != nullptr) sink_->completed(timeout_outcome(it->id, it->op, it->offset, it->length, it->timeout_ms, true));
    stall = stall || in_flight_.has_value();
    it = queue_.erase(it);
  }
  if (stall && health_ == Health::Ok) enter_stall_locked();
  if (closing_ && !close_reported_ && close_deadline_ <= now) {
    close_reported_ = true;
    if (sink_ != nullptr) sink_->closed(close_id_, false);
  }
}

void IoWorker::enter_stall_locked() {
  health_ = Health::Stalled;
  if (sink_ != nullptr) sink_->health_changed(Health::Stalled, stuck_ms_locked(Clock::now()));
  for (const IoRequest& queued : queue_) {
    if (sink_ != nullptr) sink_->completed(stalled_outcome(queued));
  }
  queue_.clear();
  if (closing_ && !close_reported_) {
    close_reported_ = true;
    if (sink_ != nullptr) sink_->closed(close_id_, false);
  }
}

IoOutcome IoWorker::timeout_outcome(uint64_t id, IoOp op, uint64_t offset, size_t length, uint32_t timeout_ms,
                                    bool queued) {
  std::string what = describe_request(op, offset, length, device_);
  std::string why = queued ? " waited in the queue behind an I/O that is stuck in the kernel"
                           : "; the I/O is still in the kernel";
  return failed_outcome(id, op,
                        {"E_DISK_TIMEOUT", "ETIMEDOUT",
                         what + " did not complete within " + std::to_string(timeout_ms) + " ms" + why + ", " +
                             device_ + " is stalled"});
}

IoOutcome IoWorker::stalled_outcome(const IoRequest& request) {
  return failed_outcome(request.id, request.op,
                        stalled_error(request.op, request.offset, request.length, device_, stuck_ms_locked(Clock::now())));
}

IoOutcome IoWorker::closed_outcome(const IoRequest& request) {
  return failed_outcome(request.id, request.op,
                        {"E_CLOSED", "", describe_request(request.op, request.offset, request.length, device_) +
                                             " refused: the device is closed"});
}

IoError stalled_error(IoOp op, uint64_t offset, size_t length, const std::string& device, uint64_t stuck_ms) {
  return {"E_DISK_STALLED", "",
          describe_request(op, offset, length, device) + " refused: " + device +
              " is stalled (an I/O has been stuck in the kernel for " + std::to_string(stuck_ms) + " ms)"};
}

}  // namespace ycs
