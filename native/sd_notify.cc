// sdNotify(state) -> boolean: the systemd notification protocol (sd_notify(3)) without
// libsystemd: one datagram with `state` ("READY=1\nSTATUS=...") to the AF_UNIX socket
// named by $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace). Node's dgram
// has no Unix datagram sockets, hence the addon. Returns false when NOTIFY_SOCKET is not
// set (not started by systemd with Type=notify); throws when the send fails.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "modules.h"

namespace ycs {
namespace {

Napi::Value SdNotify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "sdNotify(state): state must be a string");
  const std::string state = info[0].As<Napi::String>().Utf8Value();
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || path[0] == '\0') return Napi::Boolean::New(env, false);
  struct sockaddr_un addr;
  std::memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  const size_t len = std::strlen(path);
  if ((path[0] != '/' && path[0] != '@') || len >= sizeof(addr.sun_path)) {
    Napi::Error error = Napi::Error::New(env, std::string("NOTIFY_SOCKET is not a usable socket address: ") + path);
    error.Set("code", Napi::String::New(env, "E_CONFIG"));
    throw error;
  }
  std::memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  const socklen_t addrLen = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + len);
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<struct sockaddr*>(&addr), addrLen) < 0) {
    const int err = errno;
    if (fd >= 0) close(fd);
    Napi::Error error = Napi::Error::New(env, std::string("sd_notify to ") + path + " failed: " + std::strerror(err));
    error.Set("code", Napi::String::New(env, "E_IO"));
    throw error;
  }
  close(fd);
  return Napi::Boolean::New(env, true);
}

}  // namespace

void InitSdNotify(Napi::Env env, Napi::Object exports) {
  exports.Set("sdNotify", Napi::Function::New(env, SdNotify, "sdNotify"));
}

}  // namespace ycs
