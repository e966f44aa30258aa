// Persistent-reservation reads for the block-layer PR path (src/fence/transport.ts,
// BlockPrTransport):
//   - IOC_PR_READ_KEYS / IOC_PR_READ_RESERVATION, added to include/uapi/linux/pr.h in
//     Linux 6.19 ("block: add IOC_PR_READ_KEYS ioctl", "block: add
//     IOC_PR_READ_RESERVATION ioctl"); defined here when the system headers predate them;
//   - SG_IO on a SCSI generic node (/dev/sgN), the fallback on kernels without them.
// Both open the node themselves and run on the libuv thread pool: a PR read is not tied
// to the I_T nexus (READ KEYS lists every registration of the LU), so it does not need
// the SectorDevice's own descriptor. The request building is split from the ioctl so
// tests can check the ioctl numbers and struct layouts byte for byte.
#include <fcntl.h>
#include <linux/pr.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "modules.h"
#include "scsi_passthrough.h"

#ifndef IOC_PR_READ_KEYS
struct pr_read_keys {
  __u32 generation;
  __u32 num_keys;  // in: capacity of keys_ptr (in keys); out: keys the device holds
  __u64 keys_ptr;  // user pointer to a __u64 array
};
#define IOC_PR_READ_KEYS _IOWR('p', 206, struct pr_read_keys)
#endif

#ifndef IOC_PR_READ_RESERVATION
struct pr_read_reservation {
  __u64 key;
  __u32 generation;
  __u32 type;  // enum pr_type (block-layer numbering), 0 without a reservation
};
#define IOC_PR_READ_RESERVATION _IOR('p', 207, struct pr_read_reservation)
#endif

#ifndef PR_KEYS_MAX
#define PR_KEYS_MAX (1u << 16)  // the kernel refuses more with EINVAL
#endif

static_assert(sizeof(pr_read_keys) == 16, "struct pr_read_keys is 16 bytes");
static_assert(offsetof(pr_read_keys, generation) == 0, "pr_read_keys.generation at 0");
static_assert(offsetof(pr_read_keys, num_keys) == 4, "pr_read_keys.num_keys at 4");
static_assert(offsetof(pr_read_keys, keys_ptr) == 8, "pr_read_keys.keys_ptr at 8");
static_assert(sizeof(pr_read_reservation) == 16, "struct pr_read_reservation is 16 bytes");
static_assert(offsetof(pr_read_reservation, key) == 0, "pr_read_reservation.key at 0");
static_assert(offsetof(pr_read_reservation, generation) == 8, "pr_read_reservation.generation at 8");
static_assert(offsetof(pr_read_reservation, type) == 12, "pr_read_reservation.type at 12");

namespace ycs {
namespace {

void build_read_keys(pr_read_keys& arg, uint32_t capacity, uint64_t keys_ptr) {
  std::memset(&arg, 0, sizeof arg);
  arg.num_keys = capacity;
  arg.keys_ptr = keys_ptr;
}

void build_read_reservation(pr_read_reservation& arg) { std::memset(&arg, 0, sizeof arg); }

// O_RDWR first (the kernel allows PR ioctls on a read-only descriptor only with
// CAP_SYS_ADMIN), O_RDONLY where writing is refused.
int open_node(const std::string& path, int extra_flags) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | extra_flags);
  if (fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM)) {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | extra_flags);
  }
  return fd;
}

// Settles a promise from the thread pool: Run() off the JS thread, Settle() on it.
class PromiseWorker : public Napi::AsyncWorker {
 public:
  explicit PromiseWorker(Napi::Env env) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  virtual Napi::Value Settle(Napi::Env env) = 0;
  void OnOK() override { deferred_.Resolve(Settle(Env())); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

  // "open" or "ioctl" and 0 or a negative errno, or a positive pr_status from the ioctl.
  std::string stage_ = "ioctl";
  int rc_ = 0;

  Napi::Object Outcome(Napi::Env env) const {
    Napi::Object out = Napi::Object::New(env);
    out.Set("stage", stage_);
    out.Set("rc", rc_);
    return out;
  }

 private:
  Napi::Promise::Deferred deferred_;
};

class ReadKeysWorker : public PromiseWorker {
 public:
  ReadKeysWorker(Napi::Env env, std::string path, uint32_t capacity)
      : PromiseWorker(env), path_(std::move(path)), keys_(capacity) {}

  void Execute() override {
    int fd = open_node(path_, 0);
    if (fd < 0) {
      stage_ = "open";
      rc_ = -errno;
      return;
    }
    build_read_keys(arg_, static_cast<uint32_t>(keys_.size()), reinterpret_cast<uintptr_t>(keys_.data()));
    int rc = ioctl(fd, IOC_PR_READ_KEYS, &arg_);
    rc_ = rc < 0 ? -errno : rc;
    ::close(fd);
  }

  Napi::Value Settle(Napi::Env env) override {
    Napi::Object out = Outcome(env);
    out.Set("generation", arg_.generation);
    out.Set("numKeys", arg_.num_keys);
    size_t n = rc_ == 0 ? std::min<size_t>(arg_.num_keys, keys_.size()) : 0;
    Napi::Array keys = Napi::Array::New(env, n);
    for (size_t i = 0; i < n; ++i) keys.Set(static_cast<uint32_t>(i), Napi::BigInt::New(env, keys_[i]));
    out.Set("keys", keys);
    return out;
  }

 private:
  std::string path_;
  std::vector<uint64_t> keys_;
  pr_read_keys arg_{};
};

class ReadReservationWorker : public PromiseWorker {
 public:
  ReadReservationWorker(Napi::Env env, std::string path) : PromiseWorker(env), path_(std::move(path)) {}

  void Execute() override {
    int fd = open_node(path_, 0);
    if (fd < 0) {
      stage_ = "open";
      rc_ = -errno;
      return;
    }
    build_read_reservation(arg_);
    int rc = ioctl(fd, IOC_PR_READ_RESERVATION, &arg_);
    rc_ = rc < 0 ? -errno : rc;
    ::close(fd);
  }

  Napi::Value Settle(Napi::Env env) override {
    Napi::Object out = Outcome(env);
    out.Set("key", Napi::BigInt::New(env, static_cast<uint64_t>(arg_.key)));
    out.Set("generation", arg_.generation);
    out.Set("type", arg_.type);
    return out;
  }

 private:
  std::string path_;
  pr_read_reservation arg_{};
};

class SgIoWorker : public PromiseWorker {
 public:
  SgIoWorker(Napi::Env env, std::string path, std::vector<uint8_t> cdb, ScsiDirection dir, std::vector<uint8_t> data,
             uint32_t timeout_ms)
      : PromiseWorker(env), path_(std::move(path)), cdb_(std::move(cdb)), dir_(dir), data_(std::move(data)),
        timeout_ms_(timeout_ms) {}

  void Execute() override {
    int fd = open_node(path_, O_NONBLOCK);  // O_NONBLOCK: sg's open does not wait for O_EXCL holders
    if (fd < 0) {
      result_.os_errno = errno;
      return;
    }
    result_ = sg_io_command(fd, cdb_.data(), cdb_.size(), dir_, data_.data(), data_.size(), timeout_ms_);
    ::close(fd);
  }

  Napi::Value Settle(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("osErrno", result_.os_errno);
    out.Set("status", result_.status);
    out.Set("hostStatus", result_.host_status);
    out.Set("sense", Napi::Buffer<uint8_t>::Copy(env, result_.sense.data(), result_.sense.size()));
    size_t n = dir_ == ScsiDirection::FromDevice ? std::min<size_t>(result_.data_transferred, data_.size()) : 0;
    out.Set("data", Napi::Buffer<uint8_t>::Copy(env, data_.data(), n));
    return out;
  }

 private:
  std::string path_;
  std::vector<uint8_t> cdb_;
  ScsiDirection dir_;
  std::vector<uint8_t> data_;
  uint32_t timeout_ms_;
  ScsiResult result_;
};

std::string path_arg(const Napi::CallbackInfo& info, const char* usage) {
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(info.Env(), usage);
  return info[0].As<Napi::String>();
}

// prReadKeys(path, capacity) -> Promise<{ stage, rc, generation, numKeys, keys: bigint[] }>
Napi::Value PrReadKeys(const Napi::CallbackInfo& info) {
  const char* usage = "prReadKeys(path: string, capacity: number)";
  std::string path = path_arg(info, usage);
  if (info.Length() < 2 || !info[1].IsNumber()) throw Napi::TypeError::New(info.Env(), usage);
  uint32_t capacity = info[1].As<Napi::Number>().Uint32Value();
  if (capacity == 0 || capacity > PR_KEYS_MAX) throw Napi::RangeError::New(info.Env(), "prReadKeys: capacity must be 1..65536");
  auto* worker = new ReadKeysWorker(info.Env(), std::move(path), capacity);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// prReadReservation(path) -> Promise<{ stage, rc, key: bigint, generation, type }>
Napi::Value PrReadReservation(const Napi::CallbackInfo& info) {
  auto* worker = new ReadReservationWorker(info.Env(), path_arg(info, "prReadReservation(path: string)"));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// sgIoOnNode(path, cdb, direction, data | allocationLength, timeoutMs) -> Promise<ScsiReply>
Napi::Value SgIoOnNode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "sgIoOnNode(path: string, cdb: Uint8Array, direction, data: Uint8Array | number, timeoutMs: number)";
  std::string path = path_arg(info, usage);
  if (info.Length() < 5 || !info[1].IsTypedArray() || !info[2].IsString() || !info[4].IsNumber()) {
    throw Napi::TypeError::New(env, usage);
  }
  auto cdb_arr = info[1].As<Napi::Uint8Array>();
  std::vector<uint8_t> cdb(cdb_arr.Data(), cdb_arr.Data() + cdb_arr.ElementLength());
  std::string direction = info[2].As<Napi::String>();
  ScsiDirection dir = direction == "out" ? ScsiDirection::ToDevice
                      : direction == "in" ? ScsiDirection::FromDevice
                                          : ScsiDirection::None;
  std::vector<uint8_t> data;
  if (dir == ScsiDirection::ToDevice) {
    if (!info[3].IsTypedArray()) throw Napi::TypeError::New(env, "sgIoOnNode: data-out must be a Uint8Array");
    auto d = info[3].As<Napi::Uint8Array>();
    data.assign(d.Data(), d.Data() + d.ElementLength());
  } else if (dir == ScsiDirection::FromDevice) {
    if (!info[3].IsNumber()) throw Napi::TypeError::New(env, "sgIoOnNode: data-in needs an allocation length");
    uint32_t length = info[3].As<Napi::Number>().Uint32Value();
    if (length > (1u << 20)) throw Napi::RangeError::New(env, "sgIoOnNode: allocation length above 1 MiB");
    data.assign(length, 0);
  }
  auto* worker = new SgIoWorker(env, std::move(path), std::move(cdb), dir, std::move(data),
                                info[4].As<Napi::Number>().Uint32Value());
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// ---- test hooks: the ioctl numbers and argument structs, without a device ----

// prReadIoctlsForTest(capacity, keysPtr: bigint) -> the two requests, their struct
// layouts, and the pr_read_keys argument as build_read_keys fills it.
Napi::Value PrReadIoctlsForTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsBigInt()) {
    throw Napi::TypeError::New(env, "prReadIoctlsForTest(capacity: number, keysPtr: bigint)");
  }
  bool lossless = true;
  pr_read_keys keys;
  build_read_keys(keys, info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::BigInt>().Uint64Value(&lossless));
  pr_read_reservation rsv;
  build_read_reservation(rsv);

  Napi::Object read_keys = Napi::Object::New(env);
  read_keys.Set("request", static_cast<double>(IOC_PR_READ_KEYS));
  read_keys.Set("size", static_cast<double>(sizeof(pr_read_keys)));
  Napi::Object ko = Napi::Object::New(env);
  ko.Set("generation", static_cast<double>(offsetof(pr_read_keys, generation)));
  ko.Set("numKeys", static_cast<double>(offsetof(pr_read_keys, num_keys)));
  ko.Set("keysPtr", static_cast<double>(offsetof(pr_read_keys, keys_ptr)));
  read_keys.Set("offsets", ko);
  read_keys.Set("arg", Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(&keys), sizeof keys));
  read_keys.Set("maxKeys", static_cast<double>(PR_KEYS_MAX));

  Napi::Object read_rsv = Napi::Object::New(env);
  read_rsv.Set("request", static_cast<double>(IOC_PR_READ_RESERVATION));
  read_rsv.Set("size", static_cast<double>(sizeof(pr_read_reservation)));
  Napi::Object ro = Napi::Object::New(env);
  ro.Set("key", static_cast<double>(offsetof(pr_read_reservation, key)));
  ro.Set("generation", static_cast<double>(offsetof(pr_read_reservation, generation)));
  ro.Set("type", static_cast<double>(offsetof(pr_read_reservation, type)));
  read_rsv.Set("offsets", ro);
  read_rsv.Set("arg", Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(&rsv), sizeof rsv));

  Napi::Object out = Napi::Object::New(env);
  out.Set("readKeys", read_keys);
  out.Set("readReservation", read_rsv);
  return out;
}

}  // namespace

void InitPrRead(Napi::Env env, Napi::Object exports) {
  exports.Set("prReadKeys", Napi::Function::New(env, PrReadKeys, "prReadKeys"));
  exports.Set("prReadReservation", Napi::Function::New(env, PrReadReservation, "prReadReservation"));
  exports.Set("sgIoOnNode", Napi::Function::New(env, SgIoOnNode, "sgIoOnNode"));
  exports.Set("prReadIoctlsForTest", Napi::Function::New(env, PrReadIoctlsForTest, "prReadIoctlsForTest"));
}

}  // namespace ycs
