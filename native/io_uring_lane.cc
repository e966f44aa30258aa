// The io_uring lane of the I/O worker: sector reads and writes on an idle device are
// submitted from the JS thread straight to the device's ring (native/io_ring.cc), reaped
// when the event loop sees the ring's eventfd, continued after a short transfer, and
// reaped by the I/O thread when the device closes. Everything else, and every device
// where io_uring is unavailable, takes the I/O thread (io_worker.cc): the fallback needs
// nothing here but `ring_` staying null.
#include "io_worker.h"

namespace ycs {

// A sector read or write on an idle device goes to the ring. Anything else, or a device
// with a job in flight or queued, keeps the one queue's order through the I/O thread.
bool IoWorker::submit_to_ring_locked(IoRequest& request) {
  if (!ring_ || (request.op != IoOp::Read && request.op != IoOp::Write) || in_flight_ ||
      !queue_.empty()) {
    return false;
  }
  request.submitted = Clock::now();
  request.deadline = request.submitted + std::chrono::milliseconds(request.timeout_ms);
  int rc = request.op == IoOp::Read
               ? ring_->submit_read(request.id, request.buffer.data(), request.length, request.offset)
               : ring_->submit_write(request.id, request.buffer.data(), request.length, request.offset);
  if (rc != 0) return false;  // the ring refused it (out of memory, say): the I/O thread runs it
  in_flight_ = InFlight{request.id,      request.op,        request.offset, request.length, request.timeout_ms,
                        request.submitted, request.deadline, false,          true};
  ring_done_ = 0;
  wake_watchdog_locked(request.deadline);
  ring_job_ = std::move(request);
  return true;
}

std::optional<IoOutcome> IoWorker::reap_ring() {
  std::optional<IoOutcome> outcome;
  bool queued_work = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!ring_ || closing_) return std::nullopt;
    outcome = reap_ring_locked(true);
    queued_work = !ring_busy_locked() && !queue_.empty();
  }
  if (queued_work) signal_io_thread();
  return outcome;
}

// The eventfd is cleared before the completion queue is read (and before a short transfer
// is resubmitted), so a completion posted after that signals it again. `woken`: the event
// loop saw the eventfd readable; otherwise (right after a submission) it is cleared only
// when a completion is there, sparing a syscall in the common case.
std::optional<IoOutcome> IoWorker::reap_ring_locked(bool woken) {
  std::optional<IoOutcome> outcome;
  if (woken) ring_->clear_event();
  while (!outcome && ring_busy_locked()) {
    std::optional<RingLane::Completion> completion = ring_->poll();
    if (!completion) break;
    if (!woken) ring_->clear_event();
    outcome = finish_ring_job_locked(*completion);
  }
  return outcome;
}

// A completion of the ring job: a short transfer is continued, anything else ends the
// job. Returns its outcome, or nothing when it goes on or had timed out (then dropped,
// as the I/O thread drops the late result of a stuck syscall).
std::optional<IoOutcome> IoWorker::finish_ring_job_locked(RingLane::Completion completion) {
  IoRequest& job = *ring_job_;
  const bool timed_out = in_flight_->timed_out;
  int result = completion.result;
  if (result > 0 && ring_done_ + static_cast<size_t>(result) < job.length && !timed_out) {
    ring_done_ += static_cast<size_t>(result);
    uint8_t* rest = job.buffer.data() + ring_done_;
    const size_t left = job.length - ring_done_;
    const uint64_t at = job.offset + ring_done_;
    int rc = job.op == IoOp::Read ? ring_->submit_read(job.id, rest, left, at) : ring_->submit_write(job.id, rest, left, at);
    if (rc == 0) return std::nullopt;
    result = rc;
  }
  IoOutcome out;
  out.id = job.id;
  out.op = job.op;
  out.timings.finished = Clock::now();
  out.timings.syscall_ns = nanoseconds_between(job.submitted, out.timings.finished);  // submit to completion
  last_io_ns_.store(out.timings.syscall_ns, std::memory_order_relaxed);
  if (result <= 0) {
    out.ok = false;  // a zero-byte transfer before the end: past the end, as on the I/O thread
    out.error = io_error(result == 0 ? EIO : -result, op_name(job.op), job.length, job.offset, device_);
  } else if (job.op == IoOp::Read) {
    out.length = job.length;
  }
  out.buffer = std::move(job.buffer);
  ring_job_.reset();
  in_flight_.reset();
  if (health_ == Health::Stalled) {
    health_ = Health::Ok;
    if (sink_ != nullptr) sink_->health_changed(Health::Ok, 0);
  }
  if (timed_out) return std::nullopt;
  return out;
}

// Closing with a job on the ring: the JS thread no longer polls, so the I/O thread waits
// for the completion (as it would wait in a stuck syscall) and reports it through the sink.
void IoWorker::reap_ring_while_closing(std::unique_lock<std::mutex>& lock) {
  while (ring_busy_locked()) {
    lock.unlock();
    std::optional<RingLane::Completion> completion = ring_->wait();
    lock.lock();
    if (!completion) return abandon_ring_locked();
    std::optional<IoOutcome> outcome = finish_ring_job_locked(*completion);
    if (outcome && sink_ != nullptr) sink_->completed(std::move(*outcome));
  }
}

// The ring failed while its request was still in the kernel, which may yet write into the
// job's buffer, and tearing the ring down would wait for the request: both are left
// behind, never freed. The job ends as an I/O error (unless it had timed out already).
void IoWorker::abandon_ring_locked() {
  new IoRequest(std::move(*ring_job_));  // leaked on purpose: owns the buffer
  static_cast<void>(ring_.release());    // leaked on purpose: owns the request
  const InFlight f = *in_flight_;
  ring_job_.reset();
  in_flight_.reset();
  if (!f.timed_out && sink_ != nullptr) {
    sink_->completed(failed_outcome(f.id, f.op, {"E_IO", "", describe_request(f.op, f.offset, f.length, device_) +
                                                             " failed: the I/O ring failed while the I/O was in the kernel"}));
  }
}

void IoWorker::drop_ring() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!ring_busy_locked()) ring_.reset();
}

int IoWorker::ring_event_fd() {
  std::lock_guard<std::mutex> lock(mutex_);
  return ring_ ? ring_->event_fd() : -1;
}

const char* IoWorker::engine() {
  std::lock_guard<std::mutex> lock(mutex_);
  return ring_ ? "io_uring" : "thread";
}

// After a successful open, on the I/O thread: a ring for the backend's descriptor, when
// it has one and io_uring works here; otherwise sector I/O stays on this thread.
void IoWorker::open_ring() {
  if (!use_ring_ || backend_->direct_fd() < 0) return;
  std::string why;
  std::unique_ptr<RingLane> ring = RingLane::create(backend_->direct_fd(), why);
  std::lock_guard<std::mutex> lock(mutex_);
  ring_ = std::move(ring);
}

}  // namespace ycs
