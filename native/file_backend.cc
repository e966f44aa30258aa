#include "file_backend.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <linux/stat.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "io_errors.h"
#include "scsi_passthrough.h"

namespace ycs {
namespace {

constexpr uint32_t kMinMemoryAlignment = 4096;  // older kernels want page-aligned DIO buffers

class FileBackend : public Backend {
 public:
  FileBackend(int fd, std::string path, bool read_only) : fd_(fd), path_(std::move(path)), read_only_(read_only) {}
  ~FileBackend() override { close(); }

  Geometry probe() override {
    struct stat st {};
    if (fstat(fd_, &st) != 0) throw SystemError(errno, "fstat of");
    return S_ISBLK(st.st_mode) ? probe_block(st) : probe_file(st);
  }

  int read(void* buf, size_t len, uint64_t offset) override {
    return transfer(static_cast<uint8_t*>(buf), len, offset, false);
  }

  int write(const void* buf, size_t len, uint64_t offset) override {
    return transfer(static_cast<uint8_t*>(const_cast<void*>(buf)), len, offset, true);
  }

  ScsiResult scsi(const uint8_t* cdb, size_t cdb_len, ScsiDirection dir, uint8_t* data, size_t data_len,
                  uint32_t timeout_ms) override {
    return sg_io_command(fd_, cdb, cdb_len, dir, data, data_len, timeout_ms);
  }

  int block_pr(const BlockPrRequest& req) override { return block_pr_ioctl(fd_, req); }
  int direct_fd() const override { return fd_; }

  void close() override {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  Geometry probe_block(const struct stat& st) {
    Geometry g;
    g.kind = DeviceKind::Block;
    int logical = 0;
    unsigned int physical = 0;
    uint64_t size = 0;
    int ro = 0;
    if (ioctl(fd_, BLKSSZGET, &logical) != 0) throw SystemError(errno, "BLKSSZGET on");
    if (ioctl(fd_, BLKPBSZGET, &physical) != 0) throw SystemError(errno, "BLKPBSZGET on");
    if (ioctl(fd_, BLKGETSIZE64, &size) != 0) throw SystemError(errno, "BLKGETSIZE64 on");
    if (ioctl(fd_, BLKROGET, &ro) != 0) throw SystemError(errno, "BLKROGET on");
    g.logical_sector_size = static_cast<uint32_t>(logical);
    g.physical_sector_size = physical;
    g.memory_alignment = std::max(kMinMemoryAlignment, dio_memory_alignment());
    g.size_bytes = size;
    g.identity = std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
    g.read_only = read_only_ || ro != 0;
    return g;
  }

  Geometry probe_file(const struct stat& st) {
    if (!S_ISREG(st.st_mode)) throw SystemError(ENODEV, "probe (not a block device or regular file) of");
    Geometry g;
    g.kind = DeviceKind::File;
    struct statx sx {};
    uint32_t offset_align = 512;  // file systems without STATX_DIOALIGN: assume 512
    if (statx(fd_, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN) &&
        sx.stx_dio_offset_align != 0) {
      offset_align = sx.stx_dio_offset_align;
    }
    g.logical_sector_size = offset_align;
    g.physical_sector_size = std::max<uint32_t>(offset_align, static_cast<uint32_t>(st.st_blksize));
    g.memory_alignment = std::max(kMinMemoryAlignment, dio_memory_alignment());
    g.size_bytes = static_cast<uint64_t>(st.st_size);
    g.identity = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
    g.read_only = read_only_;
    return g;
  }

  uint32_t dio_memory_alignment() {
    struct statx sx {};
    if (statx(fd_, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN)) {
      return sx.stx_dio_mem_align;
    }
    return 0;
  }

  // Loops over short transfers; a zero-byte transfer before the end is EIO (past the end).
  int transfer(uint8_t* buf, size_t len, uint64_t offset, bool is_write) {
    size_t done = 0;
    while (done < len) {
      ssize_t n = is_write ? pwrite(fd_, buf + done, len - done, static_cast<off_t>(offset + done))
                           : pread(fd_, buf + done, len - done, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return -errno;
      }
      if (n == 0) return -EIO;
      done += static_cast<size_t>(n);
    }
    return 0;
  }

  int fd_;
  std::string path_;
  bool read_only_;
};

// A write open of a read-only block device fails with EACCES or EROFS depending on the
// kernel; tell the caller plainly that the device is read-only.
bool is_read_only_block_device(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  int ro = 0;
  struct stat st {};
  bool result = fstat(fd, &st) == 0 && S_ISBLK(st.st_mode) && ioctl(fd, BLKROGET, &ro) == 0 && ro != 0;
  ::close(fd);
  return result;
}

}  // namespace

std::unique_ptr<Backend> open_file_backend(const std::string& path, bool read_only) {
  int flags = (read_only ? O_RDONLY : O_RDWR) | O_DIRECT | O_DSYNC | O_CLOEXEC;
  int fd = ::open(path.c_str(), flags);
  if (fd < 0) {
    int err = errno;
    if (!read_only && (err == EACCES || err == EROFS) && is_read_only_block_device(path)) err = EROFS;
    throw SystemError(err, "open of");
  }
  return std::make_unique<FileBackend>(fd, path, read_only);
}

}  // namespace ycs
