// SCSI commands through the kernel: SG_IO (struct sg_io_hdr) on /dev/sd*, /dev/sg* and
// /dev/mapper/*, and the block layer's IOC_PR_* ioctls (NVMe, dm-multipath, sd).
// Called only on a device's I/O thread (file_backend.cc routes Backend::scsi/block_pr here).
//
// The request building is split from the ioctl so tests can check, byte for byte, what
// would be handed to the kernel: this machine has no SCSI or NVMe device to send it to
// (a loop device answers SG_IO with EINVAL and IOC_PR_* with EOPNOTSUPP).
#include "scsi_passthrough.h"

#include <linux/pr.h>
#include <scsi/sg.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "modules.h"

namespace ycs {
namespace {

constexpr unsigned char kSenseBufferLength = 64;  // SPC allows up to 252; 64 covers every format in use

void fill_sg_io_hdr(sg_io_hdr_t& hdr, const uint8_t* cdb, size_t cdb_len, ScsiDirection dir, uint8_t* data,
                    size_t data_len, uint32_t timeout_ms, uint8_t* sense) {
  std::memset(&hdr, 0, sizeof hdr);
  hdr.interface_id = 'S';
  hdr.dxfer_direction = dir == ScsiDirection::ToDevice     ? SG_DXFER_TO_DEV
                        : dir == ScsiDirection::FromDevice ? SG_DXFER_FROM_DEV
                                                           : SG_DXFER_NONE;
  hdr.cmd_len = static_cast<unsigned char>(cdb_len);
  hdr.cmdp = const_cast<unsigned char*>(cdb);  // the kernel only reads it
  hdr.mx_sb_len = kSenseBufferLength;
  hdr.sbp = sense;
  hdr.dxfer_len = dir == ScsiDirection::None ? 0 : static_cast<unsigned int>(data_len);
  hdr.dxferp = dir == ScsiDirection::None ? nullptr : data;
  hdr.timeout = timeout_ms;  // milliseconds; 0 would mean the driver's default
}

// The ioctl request number and argument struct for a block-layer PR request.
struct BlockPrCall {
  unsigned long request = 0;
  union {
    pr_registration registration;
    pr_reservation reservation;
    pr_preempt preempt;
    pr_clear clear;
  } arg;
  size_t arg_size = 0;
};

bool build_block_pr(const BlockPrRequest& req, BlockPrCall& call) {
  std::memset(&call.arg, 0, sizeof call.arg);
  switch (req.op) {
    case BlockPrRequest::Op::Register:
      call.request = IOC_PR_REGISTER;
      call.arg.registration = {req.old_key, req.new_key, req.flags, 0};
      call.arg_size = sizeof(pr_registration);
      return true;
    case BlockPrRequest::Op::Reserve:
    case BlockPrRequest::Op::Release:
      call.request = req.op == BlockPrRequest::Op::Reserve ? IOC_PR_RESERVE : IOC_PR_RELEASE;
      call.arg.reservation = {req.old_key, req.type, req.flags};
      call.arg_size = sizeof(pr_reservation);
      return true;
    case BlockPrRequest::Op::Preempt:
    case BlockPrRequest::Op::PreemptAbort:
      call.request = req.op == BlockPrRequest::Op::Preempt ? IOC_PR_PREEMPT : IOC_PR_PREEMPT_ABORT;
      call.arg.preempt = {req.old_key, req.new_key, req.type, req.flags};
      call.arg_size = sizeof(pr_preempt);
      return true;
    case BlockPrRequest::Op::Clear:
      call.request = IOC_PR_CLEAR;
      call.arg.clear = {req.old_key, req.flags, 0};
      call.arg_size = sizeof(pr_clear);
      return true;
  }
  return false;
}

}  // namespace

ScsiResult sg_io_command(int fd, const uint8_t* cdb, size_t cdb_len, ScsiDirection dir, uint8_t* data,
                         size_t data_len, uint32_t timeout_ms) {
  ScsiResult result;
  if (cdb_len == 0 || cdb_len > 255) {
    result.os_errno = EINVAL;
    return result;
  }
  uint8_t sense[kSenseBufferLength] = {};
  sg_io_hdr_t hdr;
  fill_sg_io_hdr(hdr, cdb, cdb_len, dir, data, data_len, timeout_ms, sense);
  if (ioctl(fd, SG_IO, &hdr) < 0) {
    result.os_errno = errno;
    return result;
  }
  result.status = hdr.status;
  result.host_status = hdr.host_status;
  result.sense.assign(sense, sense + std::min<unsigned>(hdr.sb_len_wr, kSenseBufferLength));
  if (dir != ScsiDirection::None && hdr.resid >= 0 && static_cast<size_t>(hdr.resid) <= data_len) {
    result.data_transferred = static_cast<uint32_t>(data_len - static_cast<size_t>(hdr.resid));
  }
  return result;
}

int block_pr_ioctl(int fd, const BlockPrRequest& req) {
  BlockPrCall call;
  if (!build_block_pr(req, call)) return -EINVAL;
  int rc = ioctl(fd, call.request, &call.arg);
  if (rc < 0) return -errno;
  return rc;  // 0, or a positive pr_status (PR_STS_RESERVATION_CONFLICT = 0x18, ...)
}

// ---- test hooks: what would be sent to the kernel, without a device ----

namespace {

Napi::Value SgIoHeaderForTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsTypedArray() || !info[1].IsString() || !info[2].IsNumber() || !info[3].IsNumber()) {
    throw Napi::TypeError::New(env, "sgIoHeaderForTest(cdb: Uint8Array, direction, dataLength, timeoutMs)");
  }
  auto cdb = info[0].As<Napi::Uint8Array>();
  std::string direction = info[1].As<Napi::String>();
  ScsiDirection dir = direction == "out" ? ScsiDirection::ToDevice
                      : direction == "in" ? ScsiDirection::FromDevice
                                          : ScsiDirection::None;
  uint8_t data_marker = 0;
  uint8_t sense[kSenseBufferLength] = {};
  sg_io_hdr_t hdr;
  fill_sg_io_hdr(hdr, cdb.Data(), cdb.ElementLength(), dir, &data_marker,
                 info[2].As<Napi::Number>().Uint32Value(), info[3].As<Napi::Number>().Uint32Value(), sense);
  Napi::Object out = Napi::Object::New(env);
  out.Set("interfaceId", hdr.interface_id);
  out.Set("dxferDirection", hdr.dxfer_direction);
  out.Set("cmdLen", hdr.cmd_len);
  out.Set("mxSbLen", hdr.mx_sb_len);
  out.Set("dxferLen", hdr.dxfer_len);
  out.Set("timeoutMs", hdr.timeout);
  out.Set("hasData", hdr.dxferp != nullptr);
  out.Set("cdb", Napi::Buffer<uint8_t>::Copy(env, hdr.cmdp, hdr.cmd_len));
  out.Set("sgIoRequest", static_cast<double>(SG_IO));
  return out;
}

Napi::Value BlockPrIoctlForTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "blockPrIoctlForTest(request)");
  Napi::Object o = info[0].As<Napi::Object>();
  static const char* const kOps[] = {"register", "reserve", "release", "preempt", "preempt-abort", "clear"};
  std::string op = o.Get("op").ToString();
  BlockPrRequest req{};
  bool known = false;
  for (int i = 0; i < 6; ++i) {
    if (op == kOps[i]) {
      req.op = static_cast<BlockPrRequest::Op>(i);
      known = true;
    }
  }
  if (!known) throw Napi::TypeError::New(env, "unknown PR op: " + op);
  bool lossless = true;
  req.old_key = o.Get("oldKey").As<Napi::BigInt>().Uint64Value(&lossless);
  req.new_key = o.Get("newKey").As<Napi::BigInt>().Uint64Value(&lossless);
  req.type = o.Get("type").ToNumber().Uint32Value();
  req.flags = o.Get("flags").ToNumber().Uint32Value();
  BlockPrCall call;
  build_block_pr(req, call);
  Napi::Object out = Napi::Object::New(env);
  out.Set("request", static_cast<double>(call.request));
  out.Set("arg", Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(&call.arg), call.arg_size));
  return out;
}

}  // namespace

void InitScsi(Napi::Env env, Napi::Object exports) {
  exports.Set("sgIoHeaderForTest", Napi::Function::New(env, SgIoHeaderForTest, "sgIoHeaderForTest"));
  exports.Set("blockPrIoctlForTest", Napi::Function::New(env, BlockPrIoctlForTest, "blockPrIoctlForTest"));
}

}  // namespace ycs
