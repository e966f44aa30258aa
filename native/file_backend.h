// Backend for a local block device or a regular file, opened O_DIRECT | O_DSYNC so that
// every read bypasses the page cache and every write is durable when pwrite returns.
#pragma once

#include <memory>
#include <string>

#include "backend.h"

namespace ycs {

// Opens `path` (O_RDWR, or O_RDONLY when read_only) with O_DIRECT | O_DSYNC | O_CLOEXEC.
// Throws SystemError (io_errors.h). Blocks as long as the kernel does: call it on the
// device's I/O thread.
std::unique_ptr<Backend> open_file_backend(const std::string& path, bool read_only);

}  // namespace ycs
