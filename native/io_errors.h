// How a failed I/O is described to TypeScript: a stable ycs error code (src/errors.ts),
// the kernel's errno name, and a sentence naming the operation, size, offset and device.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace ycs {

struct IoError {
  std::string code;        // "E_IO", "E_MISALIGNED", ...
  std::string errno_name;  // "EIO", "EINVAL", ... ; empty when no errno applies
  std::string message;
};

// Thrown by backends while opening: a positive errno and what was being done.
struct SystemError : std::runtime_error {
  SystemError(int err, const std::string& what) : std::runtime_error(what), err(err) {}
  int err;
};

// "EIO"; "E123" for numbers glibc does not name.
std::string errno_name(int err);
// EINVAL->E_MISALIGNED, EIO->E_IO, EBADE->E_RESERVATION_CONFLICT, EROFS->E_READ_ONLY,
// EACCES/EPERM->E_ACCESS, ENOENT/ENXIO/ENODEV->E_NOT_FOUND, ENOSPC->E_NO_SPACE,
// ETIMEDOUT->E_DISK_TIMEOUT, anything else -> E_IO.
const char* code_for_errno(int err);
// The same mapping keyed by errno name ("EIO"); `fallback` for names not in the table.
const char* code_for_errno_name(const std::string& name, const char* fallback);

// "write of 512 bytes at offset 1024 on /dev/loop3 failed: EIO (Input/output error)"
std::string describe_io(const char* op, size_t length, uint64_t offset, const std::string& device);
IoError io_error(int err, const char* op, size_t length, uint64_t offset, const std::string& device);
// Failure to open or probe: ENOENT becomes "no such device or file: PATH".
IoError open_error(int err, const std::string& device, const std::string& detail);

}  // namespace ycs
