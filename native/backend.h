// The one interface every voting-disk / LUN transport implements. A Device (device.h)
// owns one Backend and runs all of its calls on the device's dedicated I/O thread,
// so a backend may block (a hung SAN path blocks in the kernel) without blocking
// Node's event loop or the libuv thread pool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ycs {

enum class DeviceKind { Block, File, Iscsi };

struct Geometry {
  DeviceKind kind = DeviceKind::File;
  uint32_t logical_sector_size = 512;   // smallest aligned I/O unit
  uint32_t physical_sector_size = 512;
  uint32_t memory_alignment = 4096;     // required buffer alignment
  uint64_t size_bytes = 0;
  std::string identity;                 // "major:minor", "dev:inode" or the iSCSI URL
  bool read_only = false;
};

// Outcome of a SCSI command sent through a passthrough (SG_IO or libiscsi).
struct ScsiResult {
  int os_errno = 0;             // non-zero: the command never reached the device
  uint8_t status = 0;           // SAM status: 0 GOOD, 0x02 CHECK CONDITION, 0x18 RESERVATION CONFLICT
  uint32_t host_status = 0;     // transport-level status (DID_* for SG_IO)
  std::vector<uint8_t> sense;   // raw sense bytes as returned
  uint32_t data_transferred = 0;  // bytes placed in the data-in buffer
};

enum class ScsiDirection { None, ToDevice, FromDevice };

// Linux block-layer persistent reservation request (include/uapi/linux/pr.h).
struct BlockPrRequest {
  enum class Op { Register, Reserve, Release, Preempt, PreemptAbort, Clear } op;
  uint64_t old_key = 0;   // current key (register), key (reserve/release/clear/preempt)
  uint64_t new_key = 0;   // new key (register), victim key (preempt)
  uint32_t type = 0;      // block-layer type numbering: WE=1, EA=2, WERO=3, EARO=4, WEAR=5, EAAR=6
  uint32_t flags = 0;     // PR_FL_IGNORE_KEY = 1
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Geometry probe() = 0;
  // Return 0 or a negative errno. Buffers are aligned; lengths and offsets are whole sectors.
  virtual int read(void* buf, size_t len, uint64_t offset) = 0;
  virtual int write(const void* buf, size_t len, uint64_t offset) = 0;  // durable on return (O_DSYNC/FUA)
  virtual ScsiResult scsi(const uint8_t* cdb, size_t cdb_len, ScsiDirection dir, uint8_t* data,
                          size_t data_len, uint32_t timeout_ms) {
    (void)cdb; (void)cdb_len; (void)dir; (void)data; (void)data_len; (void)timeout_ms;
    ScsiResult r;
    r.os_errno = 95;  // EOPNOTSUPP
    return r;
  }
  // Returns 0, a negative errno, or a positive pr_status (0x18 = reservation conflict).
  virtual int block_pr(const BlockPrRequest& req) {
    (void)req;
    return -95;  // -EOPNOTSUPP
  }
  // The O_DIRECT descriptor that sector I/O may be submitted on through io_uring, or -1
  // when the backend has none (libiscsi runs its own protocol on a socket).
  virtual int direct_fd() const { return -1; }
  virtual void close() = 0;
};

}  // namespace ycs
