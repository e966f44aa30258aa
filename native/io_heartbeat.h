// Native heartbeat writer (issue 2, item 4): writes this host's heartbeat sector on time,
// on its own thread, so that garbage collection or a busy event loop cannot delay it, but
// only while TypeScript keeps it armed. TypeScript hands over the next few encoded
// records (sequence n+1, n+2, ...) and a validity deadline; each tick writes the next
// record through the device's I/O queue (so deadlines and the stalled state apply).
// When the records run out or the deadline passes, writing stops: a heartbeat proves
// that the deciding logic is alive, not just a thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "io_worker.h"

namespace ycs {

// Heartbeat writes use job ids from here up; the index of the write is id - base.
constexpr uint64_t kHeartbeatIdBase = uint64_t{1} << 62;

class HeartbeatWriter {
 public:
  HeartbeatWriter(std::shared_ptr<IoWorker> worker, uint64_t offset, uint32_t interval_ms, uint32_t timeout_ms);
  ~HeartbeatWriter();  // stops and joins: the thread never blocks on I/O, so this is quick
  HeartbeatWriter(const HeartbeatWriter&) = delete;
  HeartbeatWriter& operator=(const HeartbeatWriter&) = delete;

  // Replaces the records still to be written and sets the validity deadline.
  void arm(std::deque<AlignedBuffer> records, Clock::time_point valid_until);

 private:
  void loop();
  bool take_due_record_locked(Clock::time_point now, AlignedBuffer& record);

  std::shared_ptr<IoWorker> worker_;
  const uint64_t offset_;
  const std::chrono::milliseconds interval_;
  const uint32_t timeout_ms_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<AlignedBuffer> records_;
  Clock::time_point valid_until_;
  bool stopping_ = false;
  uint64_t next_index_ = 0;
  std::thread thread_;
};

}  // namespace ycs
