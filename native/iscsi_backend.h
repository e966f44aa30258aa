// iscsi://host[:port]/IQN/LUN devices through libiscsi (userspace initiator).
#pragma once
#include <memory>
#include <string>

#include "backend.h"

namespace ycs {
struct IscsiOptions {
  std::string initiator_iqn;  // this host's initiator name
  uint64_t isid = 0;          // pinned ISID (48 bits); 0 = derived from initiator_iqn
};
// Connects synchronously (call it on the device's I/O thread). Throws std::runtime_error
// with an "errno-name: message" text on failure.
std::unique_ptr<Backend> make_iscsi_backend(const std::string& url, const IscsiOptions& options, bool read_only);
}  // namespace ycs
