// iscsi://host[:port]/IQN/LUN devices through libiscsi, a userspace initiator, so that a
// voting disk or data LUN on an iSCSI target needs no kernel initiator and the target
// itself enforces persistent reservations on our sector I/O.
//
// Runs only on the device's I/O thread. We drive libiscsi's async API with our own poll
// loop instead of its *_sync helpers: those keep their completion state on the stack and
// return early when the socket fails, leaving a queued PDU whose callback would later
// write into a dead stack frame when the context is destroyed. Our completion state
// always outlives the context it is registered with, and every command has a deadline.
//
// Sessions: the ISID is pinned (given, or derived from the initiator IQN), so a reconnect
// logs in as the same I_T nexus and the target reinstates the session instead of keeping
// a stale one. libiscsi's automatic reconnect is off (it would pick a new ISID). When a
// command fails at the transport, we reconnect once at once and fail that command with
// ECONNRESET: the command may or may not have run, and on some targets (tgt) the new
// session has lost this initiator's PR registration, so the policy layer must decide
// whether to re-register (only while the cluster admits this host) before writing again.
#include "iscsi_backend.h"

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>

#include "io_errors.h"

namespace ycs {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kUnitAttentionRetries = 3;   // UAs after a preempt/reset: 2A/03, 29/xx, ...
constexpr uint32_t kIoTimeoutMs = 10000;   // our own deadline for sector I/O and probing
constexpr uint32_t kConnectTimeoutMs = 10000;
constexpr uint32_t kLogoutTimeoutMs = 2000;
constexpr uint32_t kReadCapacityLength = 32;

// 64-bit FNV-1a: a stable, dependency-free hash to derive an ISID from the IQN.
uint64_t fnv1a64(const std::string& text) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

// ISID format T=10 ("random"): byte 0 = 0x80, then 24 bits and a 16-bit qualifier, here
// taken from the IQN's hash so the same host always logs in with the same ISID.
uint64_t derived_isid(const std::string& iqn) {
  return (uint64_t{0x80} << 40) | (fnv1a64(iqn) & 0xffffffffffull);
}

void apply_isid(iscsi_context* ctx, uint64_t isid) {
  const unsigned type = static_cast<unsigned>(isid >> 46) & 0x3;
  const unsigned reserved_a = static_cast<unsigned>(isid >> 40) & 0x3f;
  const uint32_t qualifier16 = static_cast<uint32_t>(isid & 0xffff);
  const uint32_t middle24 = static_cast<uint32_t>((isid >> 16) & 0xffffff);
  if (isid >> 48) throw SystemError(EINVAL, "ISID must fit in 48 bits");
  if (type == 0) {
    iscsi_set_isid_oui(ctx, static_cast<uint32_t>((isid >> 24) & 0x3fffff), static_cast<uint32_t>(isid & 0xffffff));
  } else if (type == 1 && reserved_a == 0) {
    iscsi_set_isid_en(ctx, middle24, qualifier16);
  } else if (type == 2 && reserved_a == 0) {
    iscsi_set_isid_random(ctx, middle24, qualifier16);
  } else {
    throw SystemError(EINVAL, "ISID has a reserved format (T=11, or non-zero A field for T=01/10)");
  }
}

void put_be64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
void put_be32(uint8_t* p, uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
uint64_t get_be64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}
uint32_t get_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// libiscsi words a refused TCP connect as "can not reconnect right now" once automatic
// reconnect is off; the socket's own error says what happened.
std::string socket_error_text(iscsi_context* ctx) {
  int err = 0;
  socklen_t len = sizeof err;
  int fd = iscsi_get_fd(ctx);
  if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err == 0) return "";
  return std::string("cannot connect to the portal: ") + strerror(err);
}

// Completion record for one command. Lives in the backend, not on a stack frame, so a
// callback fired late (context destroyed after a failure) still writes to valid memory.
struct Pending {
  bool finished = false;
  int status = 0;
};

void on_command_done(iscsi_context*, int status, void*, void* private_data) {
  auto* pending = static_cast<Pending*>(private_data);
  pending->status = status;
  pending->finished = true;
}

struct TaskFree {
  void operator()(scsi_task* task) const {
    if (task != nullptr) scsi_free_scsi_task(task);
  }
};
using TaskPtr = std::unique_ptr<scsi_task, TaskFree>;

enum class Outcome { Done, TransportFailed, TimedOut };

class IscsiBackend final : public Backend {
 public:
  IscsiBackend(const std::string& url, const IscsiOptions& options, bool read_only)
      : initiator_iqn_(options.initiator_iqn),
        isid_(options.isid != 0 ? options.isid : derived_isid(options.initiator_iqn)),
        read_only_(read_only) {
    if (initiator_iqn_.empty()) throw SystemError(EINVAL, "an initiator IQN is required for iscsi:// devices");
    parse_url(url);
    std::string error;
    // "ERRNO: text" makes the device layer report E_ISCSI (see iscsi_backend.h).
    if (!connect(&error)) throw std::runtime_error("ECONNREFUSED: iSCSI login to " + identity_ + " failed: " + error);
  }

  ~IscsiBackend() override { close(); }

  Geometry probe() override;
  int read(void* buf, size_t len, uint64_t offset) override;
  int write(const void* buf, size_t len, uint64_t offset) override;
  ScsiResult scsi(const uint8_t* cdb, size_t cdb_len, ScsiDirection dir, uint8_t* data, size_t data_len,
                  uint32_t timeout_ms) override;
  void close() override;

 private:
  void parse_url(const std::string& url);
  bool connect(std::string* error);
  void disconnect();
  Outcome wait_for(Pending& pending, Clock::time_point deadline);
  Outcome run(scsi_task* task, iscsi_data* data_out, uint32_t timeout_ms);
  int recover_session(Outcome outcome);
  int ensure_session();
  int sector_command(uint8_t opcode, uint8_t* buf, size_t len, uint64_t offset);
  static int errno_for(const scsi_task* task);

  std::string initiator_iqn_;
  uint64_t isid_;
  bool read_only_;
  std::string portal_, target_, user_, password_, identity_;
  int lun_ = 0;
  iscsi_context* ctx_ = nullptr;
  Pending pending_;  // outlives ctx_: see Pending
  uint32_t block_size_ = 0;
  uint64_t size_bytes_ = 0;
  uint64_t sessions_ = 0;  // logins so far; > 1 means we reconnected
  std::string last_error_;
};

void IscsiBackend::parse_url(const std::string& url) {
  iscsi_context* parser = iscsi_create_context(initiator_iqn_.c_str());
  if (parser == nullptr) throw SystemError(ENOMEM, "cannot create an iSCSI context");
  iscsi_url* parsed = iscsi_parse_full_url(parser, url.c_str());
  if (parsed == nullptr) {
    std::string why = iscsi_get_error(parser);
    iscsi_destroy_context(parser);
    throw SystemError(EINVAL, "not an iscsi://host[:port]/IQN/LUN URL: " + url + " (" + why + ")");
  }
  portal_ = parsed->portal;
  target_ = parsed->target;
  user_ = parsed->user;
  password_ = parsed->passwd;
  lun_ = parsed->lun;
  iscsi_destroy_url(parsed);
  iscsi_destroy_context(parser);
  identity_ = "iscsi://" + portal_ + "/" + target_ + "/" + std::to_string(lun_);  // never the password
}

bool IscsiBackend::connect(std::string* error) {
  disconnect();
  ctx_ = iscsi_create_context(initiator_iqn_.c_str());
  if (ctx_ == nullptr) {
    *error = "cannot create an iSCSI context";
    return false;
  }
  apply_isid(ctx_, isid_);
  iscsi_set_noautoreconnect(ctx_, 1);
  iscsi_set_targetname(ctx_, target_.c_str());
  iscsi_set_session_type(ctx_, ISCSI_SESSION_NORMAL);
  iscsi_set_header_digest(ctx_, ISCSI_HEADER_DIGEST_NONE_CRC32C);
  if (!user_.empty()) iscsi_set_initiator_username_pwd(ctx_, user_.c_str(), password_.c_str());
  pending_ = Pending{};
  if (iscsi_full_connect_async(ctx_, portal_.c_str(), lun_, on_command_done, &pending_) != 0) {
    *error = iscsi_get_error(ctx_);
    disconnect();
    return false;
  }
  auto deadline = Clock::now() + std::chrono::milliseconds(kConnectTimeoutMs);
  Outcome outcome = wait_for(pending_, deadline);
  if (outcome != Outcome::Done || pending_.status != SCSI_STATUS_GOOD) {
    *error = outcome == Outcome::TimedOut ? "login timed out" : socket_error_text(ctx_);
    if (error->empty()) *error = iscsi_get_error(ctx_);
    if (error->find("reconnect") != std::string::npos) *error = "cannot connect to the portal " + portal_;
    if (error->empty()) *error = "login failed";
    disconnect();
    return false;
  }
  ++sessions_;
  return true;
}

// Destroying the context cancels its queued PDUs; their callbacks write into pending_,
// which is a member and therefore still valid.
void IscsiBackend::disconnect() {
  if (ctx_ == nullptr) return;
  iscsi_destroy_context(ctx_);
  ctx_ = nullptr;
}

Outcome IscsiBackend::wait_for(Pending& pending, Clock::time_point deadline) {
  while (!pending.finished) {
    auto now = Clock::now();
    if (now >= deadline) return Outcome::TimedOut;
    auto left_ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    pollfd pfd{iscsi_get_fd(ctx_), static_cast<short>(iscsi_which_events(ctx_)), 0};
    int ready = poll(&pfd, 1, static_cast<int>(std::min<long long>(left_ms, 1000)));
    if (ready < 0 && errno != EINTR) return Outcome::TransportFailed;
    if (ready < 0) continue;
    // revents 0 on a poll timeout still lets libiscsi run its own timeout scan.
    if (iscsi_service(ctx_, ready == 0 ? 0 : pfd.revents) < 0) return Outcome::TransportFailed;
  }
  return Outcome::Done;
}

Outcome IscsiBackend::run(scsi_task* task, iscsi_data* data_out, uint32_t timeout_ms) {
  pending_ = Pending{};
  if (iscsi_scsi_command_async(ctx_, lun_, task, on_command_done, data_out, &pending_) != 0) {
    return Outcome::TransportFailed;
  }
  Outcome outcome = wait_for(pending_, Clock::now() + std::chrono::milliseconds(timeout_ms));
  if (outcome != Outcome::Done) return outcome;
  // libiscsi reports its own transport failures as pseudo statuses 0x0f00000x.
  if (pending_.status == SCSI_STATUS_TIMEOUT) return Outcome::TimedOut;
  if (pending_.status == SCSI_STATUS_ERROR || pending_.status == SCSI_STATUS_CANCELLED) {
    return Outcome::TransportFailed;
  }
  task->status = pending_.status;
  return Outcome::Done;
}

// The session failed under a command: drop it, log in again at once with the same ISID,
// and report ECONNRESET (new session: re-register before writing) or the failure.
int IscsiBackend::recover_session(Outcome outcome) {
  last_error_ = ctx_ != nullptr ? iscsi_get_error(ctx_) : "no session";
  if (outcome == Outcome::TimedOut) last_error_ = "command timed out: " + last_error_;
  disconnect();
  std::string error;
  if (connect(&error)) return -ECONNRESET;
  last_error_ += "; reconnect failed: " + error;
  return outcome == Outcome::TimedOut ? -ETIMEDOUT : -EIO;
}

// Called before every command: a session lost earlier is re-established first, and the
// caller learns about the new session through ECONNRESET.
int IscsiBackend::ensure_session() {
  if (ctx_ != nullptr) return 0;
  std::string error;
  if (connect(&error)) return -ECONNRESET;
  last_error_ = "reconnect failed: " + error;
  return -ENOTCONN;
}

int IscsiBackend::errno_for(const scsi_task* task) {
  switch (task->status) {
    case SCSI_STATUS_GOOD:
      return 0;
    case SCSI_STATUS_RESERVATION_CONFLICT:
      return -EBADE;  // what the block layer reports for it: "fenced"
    case SCSI_STATUS_BUSY:
    case SCSI_STATUS_TASK_SET_FULL:
      return -EBUSY;
    case SCSI_STATUS_CHECK_CONDITION:
      break;
    default:
      return -EIO;
  }
  switch (task->sense.key) {
    case SCSI_SENSE_UNIT_ATTENTION:
      return -EAGAIN;  // retried by the caller
    case SCSI_SENSE_DATA_PROTECTION:
      return -EROFS;
    case SCSI_SENSE_ILLEGAL_REQUEST:
      return task->sense.ascq == SCSI_SENSE_ASCQ_LBA_OUT_OF_RANGE ? -ENOSPC : -EINVAL;
    default:
      return -EIO;
  }
}

// READ(16) / WRITE(16) with FUA, retrying UNIT ATTENTION a bounded number of times.
int IscsiBackend::sector_command(uint8_t opcode, uint8_t* buf, size_t len, uint64_t offset) {
  if (block_size_ == 0 || len % block_size_ != 0 || offset % block_size_ != 0) return -EINVAL;
  if (offset + len > size_bytes_) return -ENOSPC;
  if (len / block_size_ > 0xffffffffull) return -EINVAL;
  int err = ensure_session();
  if (err != 0) return err;
  const bool writing = opcode == 0x8a;
  for (int attempt = 0;; ++attempt) {
    uint8_t cdb[16] = {};
    cdb[0] = opcode;
    cdb[1] = writing ? 0x08 : 0x00;  // FUA: durable when the target answers GOOD
    put_be64(cdb + 2, offset / block_size_);
    put_be32(cdb + 10, static_cast<uint32_t>(len / block_size_));
    TaskPtr task(scsi_create_task(16, cdb, writing ? SCSI_XFER_WRITE : SCSI_XFER_READ, static_cast<int>(len)));
    if (!task) return -ENOMEM;
    iscsi_data out{len, buf};
    if (!writing) scsi_task_add_data_in_buffer(task.get(), static_cast<int>(len), buf);
    Outcome outcome = run(task.get(), writing ? &out : nullptr, kIoTimeoutMs);
    if (outcome != Outcome::Done) return recover_session(outcome);
    err = errno_for(task.get());
    if (err != -EAGAIN) return err;
    if (attempt >= kUnitAttentionRetries) {
      last_error_ = std::string("UNIT ATTENTION persisted: ") + scsi_sense_ascq_str(task->sense.ascq);
      return -EIO;
    }
  }
}

Geometry IscsiBackend::probe() {
  uint8_t cdb[16] = {0x9e, 0x10};  // SERVICE ACTION IN(16) / READ CAPACITY(16)
  put_be32(cdb + 10, kReadCapacityLength);
  for (int attempt = 0;; ++attempt) {
    TaskPtr task(scsi_create_task(16, cdb, SCSI_XFER_READ, kReadCapacityLength));
    if (!task) throw SystemError(ENOMEM, "cannot allocate a SCSI task");
    Outcome outcome = run(task.get(), nullptr, kIoTimeoutMs);
    if (outcome != Outcome::Done) {
      int err = recover_session(outcome);
      throw SystemError(-err, "READ CAPACITY(16) on " + identity_ + " failed: " + last_error_);
    }
    int err = errno_for(task.get());
    if (err == -EAGAIN && attempt < kUnitAttentionRetries) continue;
    if (err != 0 || task->datain.size < 14) {
      throw SystemError(err != 0 ? -err : EIO, "READ CAPACITY(16) on " + identity_ + " failed");
    }
    const uint8_t* d = task->datain.data;
    block_size_ = get_be32(d + 8);
    size_bytes_ = (get_be64(d) + 1) * block_size_;
    Geometry g;
    g.kind = DeviceKind::Iscsi;
    g.logical_sector_size = block_size_;
    g.physical_sector_size = block_size_ << (d[13] & 0x0f);
    g.memory_alignment = 4096;
    g.size_bytes = size_bytes_;
    g.identity = identity_;
    g.read_only = read_only_;
    return g;
  }
}

int IscsiBackend::read(void* buf, size_t len, uint64_t offset) {
  return sector_command(0x88, static_cast<uint8_t*>(buf), len, offset);
}

int IscsiBackend::write(const void* buf, size_t len, uint64_t offset) {
  if (read_only_) return -EROFS;
  // libiscsi only reads from the data-out buffer; its API is not const-correct.
  return sector_command(0x8a, static_cast<uint8_t*>(const_cast<void*>(buf)), len, offset);
}

// Raw passthrough: one attempt, no retries (the PR transport in TypeScript decides),
// status and raw sense returned as the target sent them.
ScsiResult IscsiBackend::scsi(const uint8_t* cdb, size_t cdb_len, ScsiDirection dir, uint8_t* data, size_t data_len,
                              uint32_t timeout_ms) {
  ScsiResult result;
  if (cdb_len == 0 || cdb_len > SCSI_CDB_MAX_SIZE) {
    result.os_errno = EINVAL;
    return result;
  }
  if (int err = ensure_session(); err != 0) {
    result.os_errno = -err;
    return result;
  }
  const int xfer = dir == ScsiDirection::ToDevice ? SCSI_XFER_WRITE
                   : dir == ScsiDirection::FromDevice ? SCSI_XFER_READ : SCSI_XFER_NONE;
  const size_t xfer_len = dir == ScsiDirection::None ? 0 : data_len;
  TaskPtr task(scsi_create_task(static_cast<int>(cdb_len), const_cast<uint8_t*>(cdb), xfer, static_cast<int>(xfer_len)));
  if (!task) {
    result.os_errno = ENOMEM;
    return result;
  }
  iscsi_data out{xfer_len, data};
  Outcome outcome = run(task.get(), dir == ScsiDirection::ToDevice ? &out : nullptr, timeout_ms == 0 ? kIoTimeoutMs : timeout_ms);
  if (outcome != Outcome::Done) {
    result.os_errno = -recover_session(outcome);
    return result;
  }
  result.status = static_cast<uint8_t>(task->status);
  const scsi_data& in = task->datain;
  if (task->status == SCSI_STATUS_CHECK_CONDITION && in.size >= 2 && in.data != nullptr) {
    // The SCSI response's data segment: a 2-byte SenseLength, then the sense bytes.
    size_t sense_len = std::min<size_t>((size_t{in.data[0]} << 8) | in.data[1], static_cast<size_t>(in.size) - 2);
    result.sense.assign(in.data + 2, in.data + 2 + sense_len);
  } else if (dir == ScsiDirection::FromDevice && in.data != nullptr && in.size > 0) {
    size_t n = std::min<size_t>(static_cast<size_t>(in.size), data_len);
    std::memcpy(data, in.data, n);
    result.data_transferred = static_cast<uint32_t>(n);
  } else if (dir == ScsiDirection::ToDevice && task->status == SCSI_STATUS_GOOD) {
    result.data_transferred = static_cast<uint32_t>(xfer_len);
  }
  return result;
}

void IscsiBackend::close() {
  if (ctx_ == nullptr) return;
  // Log out politely so the target drops the session now rather than at a TCP timeout.
  pending_ = Pending{};
  if (iscsi_logout_async(ctx_, on_command_done, &pending_) == 0) {
    wait_for(pending_, Clock::now() + std::chrono::milliseconds(kLogoutTimeoutMs));
  }
  disconnect();
}

}  // namespace

std::unique_ptr<Backend> make_iscsi_backend(const std::string& url, const IscsiOptions& options, bool read_only) {
  return std::make_unique<IscsiBackend>(url, options, read_only);
}

}  // namespace ycs
