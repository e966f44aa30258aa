// SCSI commands through the kernel: SG_IO on /dev/sd*, /dev/sg*, /dev/mapper/*, and the
// block layer's generic IOC_PR_* ioctls. Called only on a device's I/O thread.
#pragma once
#include "backend.h"

namespace ycs {
ScsiResult sg_io_command(int fd, const uint8_t* cdb, size_t cdb_len, ScsiDirection dir, uint8_t* data,
                         size_t data_len, uint32_t timeout_ms);
// Returns 0, a negative errno, or a positive pr_status (0x18 = reservation conflict).
int block_pr_ioctl(int fd, const BlockPrRequest& req);
}  // namespace ycs
