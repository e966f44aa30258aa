// placeholder until the fencing work fills it in
#include "scsi_passthrough.h"

#include <cerrno>

#include "modules.h"

namespace ycs {
ScsiResult sg_io_command(int, const uint8_t*, size_t, ScsiDirection, uint8_t*, size_t, uint32_t) {
  ScsiResult r;
  r.os_errno = EOPNOTSUPP;
  return r;
}
int block_pr_ioctl(int, const BlockPrRequest&) { return -EOPNOTSUPP; }
void InitScsi(Napi::Env, Napi::Object) {}
}  // namespace ycs
