// The io_uring lane of a device (free of N-API): a sector read or write is submitted from
// the JS thread without blocking it, and its completion wakes that thread once, through
// an eventfd polled by the event loop. The I/O thread's path needs two wake-ups (the I/O
// thread when the syscall returns, then the JS thread); on a VM each is an IPI to a
// halted vCPU (docs/native-io.md).
//
// Submission never blocks: io_uring issues a block-device or O_DIRECT read/write with
// IOCB_NOWAIT, and anything that would block (a busy queue, a file system that cannot
// promise not to wait) is handed to the kernel's own io-wq workers. A stuck request
// stays in the kernel; the device's watchdog enforces its deadline as for any job.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace ycs {

class RingLane {
 public:
  struct Completion {
    uint64_t tag;
    int result;  // bytes transferred, or a negative errno
  };

  // A ring for `fd`, or nullptr (with `why` set) when io_uring is unavailable here:
  // an old kernel, kernel.io_uring_disabled, or a seccomp filter that refuses it.
  static std::unique_ptr<RingLane> create(int fd, std::string& why);
  ~RingLane();
  RingLane(const RingLane&) = delete;
  RingLane& operator=(const RingLane&) = delete;

  // 0, or a negative errno when the request could not be queued in the kernel.
  int submit_read(uint64_t tag, void* buf, size_t len, uint64_t offset);
  int submit_write(uint64_t tag, const void* buf, size_t len, uint64_t offset);
  // The event loop polls this fd: readable once a completion may be waiting.
  int event_fd() const { return event_fd_; }
  void clear_event();
  // A completion when one is waiting; never blocks.
  std::optional<Completion> poll();
  // Blocks until a completion arrives (the I/O thread, while closing); nothing when the
  // ring itself fails, and then nobody can tell when the kernel lets go of the buffer.
  std::optional<Completion> wait();

 private:
  RingLane(int fd, int event_fd) : fd_(fd), event_fd_(event_fd) {}
  int submit(io_uring_sqe* sqe, uint64_t tag);

  io_uring ring_{};
  bool ring_ready_ = false;  // io_uring_queue_init succeeded
  int fd_;
  int event_fd_;
};

}  // namespace ycs
