#include "io_heartbeat.h"

namespace ycs {

HeartbeatWriter::HeartbeatWriter(std::shared_ptr<IoWorker> worker, uint64_t offset, uint32_t interval_ms,
                                 uint32_t timeout_ms)
    : worker_(std::move(worker)), offset_(offset), interval_(interval_ms), timeout_ms_(timeout_ms) {
  // Its writes must not wait behind a ring job, whose completion needs the JS thread.
  worker_->hold_ring(true);
  thread_ = std::thread([this] { loop(); });
}

HeartbeatWriter::~HeartbeatWriter() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
  worker_->hold_ring(false);
}

void HeartbeatWriter::arm(std::deque<AlignedBuffer> records, Clock::time_point valid_until) {
  std::lock_guard<std::mutex> lock(mutex_);
  records_ = std::move(records);
  valid_until_ = valid_until;
}

bool HeartbeatWriter::take_due_record_locked(Clock::time_point now, AlignedBuffer& record) {
  if (records_.empty()) return false;
  if (now >= valid_until_) {
    records_.clear();  // disarmed: TypeScript did not re-arm in time
    return false;
  }
  record = std::move(records_.front());
  records_.pop_front();
  return true;
}

void HeartbeatWriter::loop() {
  Clock::time_point next_tick = Clock::now();
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    cv_.wait_until(lock, next_tick, [this] { return stopping_; });
    if (stopping_) break;
    const Clock::time_point now = Clock::now();
    if (now < next_tick) continue;
    // Ticks are start to start; after a late tick the next one is a full interval later
    // rather than a burst of catch-up writes.
    next_tick += interval_;
    if (next_tick <= now) next_tick = now + interval_;
    AlignedBuffer record;
    if (!take_due_record_locked(now, record)) continue;
    IoRequest request;
    request.op = IoOp::Write;
    request.id = kHeartbeatIdBase + next_index_++;
    request.offset = offset_;
    request.length = record.size();
    request.buffer = std::move(record);
    request.timeout_ms = timeout_ms_;
    lock.unlock();
    worker_->submit_or_report(std::move(request));
    lock.lock();
  }
}

}  // namespace ycs
