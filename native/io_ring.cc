#include "io_ring.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ycs {

namespace {
constexpr unsigned kRingEntries = 4;  // one request in flight per device; room to spare
}

std::unique_ptr<RingLane> RingLane::create(int fd, std::string& why) {
  int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) {
    why = std::string("eventfd: ") + std::strerror(errno);
    return nullptr;
  }
  std::unique_ptr<RingLane> lane(new RingLane(fd, efd));
  int rc = io_uring_queue_init(kRingEntries, &lane->ring_, 0);
  if (rc < 0) {
    why = std::string("io_uring_setup: ") + std::strerror(-rc);
    return nullptr;  // the destructor closes the eventfd
  }
  lane->ring_ready_ = true;
  rc = io_uring_register_eventfd(&lane->ring_, efd);
  if (rc < 0) {
    why = std::string("io_uring_register_eventfd: ") + std::strerror(-rc);
    return nullptr;  // the destructor releases the ring and the eventfd
  }
  return lane;
}

RingLane::~RingLane() {
  if (ring_ready_) io_uring_queue_exit(&ring_);
  if (event_fd_ >= 0) ::close(event_fd_);
}

int RingLane::submit_read(uint64_t tag, void* buf, size_t len, uint64_t offset) {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) return -EBUSY;
  io_uring_prep_read(sqe, fd_, buf, static_cast<unsigned>(len), offset);
  return submit(sqe, tag);
}

int RingLane::submit_write(uint64_t tag, const void* buf, size_t len, uint64_t offset) {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) return -EBUSY;
  io_uring_prep_write(sqe, fd_, buf, static_cast<unsigned>(len), offset);
  return submit(sqe, tag);
}

int RingLane::submit(io_uring_sqe* sqe, uint64_t tag) {
  io_uring_sqe_set_data64(sqe, tag);
  int rc = io_uring_submit(&ring_);
  return rc == 1 ? 0 : (rc < 0 ? rc : -EAGAIN);
}

void RingLane::clear_event() {
  eventfd_t ignored;
  (void)eventfd_read(event_fd_, &ignored);
}

std::optional<RingLane::Completion> RingLane::poll() {
  io_uring_cqe* cqe = nullptr;
  if (io_uring_peek_cqe(&ring_, &cqe) != 0 || cqe == nullptr) return std::nullopt;
  Completion c{io_uring_cqe_get_data64(cqe), cqe->res};
  io_uring_cqe_seen(&ring_, cqe);
  return c;
}

std::optional<RingLane::Completion> RingLane::wait() {
  for (;;) {
    io_uring_cqe* cqe = nullptr;
    int rc = io_uring_wait_cqe(&ring_, &cqe);
    if (rc == -EINTR || rc == -EAGAIN) continue;
    if (rc < 0) return std::nullopt;
    Completion c{io_uring_cqe_get_data64(cqe), cqe->res};
    io_uring_cqe_seen(&ring_, cqe);
    return c;
  }
}

}  // namespace ycs
