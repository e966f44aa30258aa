#include "io_errors.h"

#include <cerrno>
#include <cstring>

namespace ycs {

std::string errno_name(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? std::string(name) : "E" + std::to_string(err);
}

const char* code_for_errno(int err) {
  switch (err) {
    case EINVAL: return "E_MISALIGNED";
    case EIO: return "E_IO";
    case EBADE: return "E_RESERVATION_CONFLICT";
    case EROFS: return "E_READ_ONLY";
    case EACCES:
    case EPERM: return "E_ACCESS";
    case ENOENT:
    case ENXIO:
    case ENODEV: return "E_NOT_FOUND";
    case ENOSPC: return "E_NO_SPACE";
    case ETIMEDOUT: return "E_DISK_TIMEOUT";
    default: return "E_IO";
  }
}

const char* code_for_errno_name(const std::string& name, const char* fallback) {
  static const int known[] = {EINVAL, EIO, EBADE, EROFS, EACCES, EPERM, ENOENT, ENXIO, ENODEV, ENOSPC, ETIMEDOUT};
  for (int err : known) {
    if (errno_name(err) == name) return code_for_errno(err);
  }
  return fallback;
}

static std::string errno_text(int err) {
  return errno_name(err) + " (" + strerrordesc_np(err) + ")";
}

std::string describe_io(const char* op, size_t length, uint64_t offset, const std::string& device) {
  return std::string(op) + " of " + std::to_string(length) + " bytes at offset " + std::to_string(offset) +
         " on " + device;
}

IoError io_error(int err, const char* op, size_t length, uint64_t offset, const std::string& device) {
  return {code_for_errno(err), errno_name(err), describe_io(op, length, offset, device) + " failed: " + errno_text(err)};
}

IoError open_error(int err, const std::string& device, const std::string& detail) {
  if (err == ENOENT) return {"E_NOT_FOUND", errno_name(err), "no such device or file: " + device};
  const char* code = err == EINVAL ? "E_IO" : code_for_errno(err);  // EINVAL at open is not alignment
  return {code, errno_name(err), detail + " " + device + " failed: " + errno_text(err)};
}

}  // namespace ycs
