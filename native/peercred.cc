// peerCredentials(fd) -> { pid, uid, gid }: who is on the other end of an accepted Unix
// stream socket (SO_PEERCRED). The kernel records these when the peer called connect(), so
// they cannot be forged by what the peer sends; the control socket uses them to decide
// whether a command that changes anything is allowed.
#include <sys/socket.h>
#include <sys/types.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "modules.h"

namespace ycs {
namespace {

Napi::Value PeerCredentials(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsNumber()) {
    throw Napi::TypeError::New(env, "peerCredentials(fd): fd must be a number");
  }
  const double raw = info[0].As<Napi::Number>().DoubleValue();
  const int fd = static_cast<int>(raw);
  if (raw != static_cast<double>(fd) || fd < 0) {
    throw Napi::TypeError::New(env, "peerCredentials(fd): fd must be a non-negative integer");
  }
  struct ucred cred;
  socklen_t len = sizeof(cred);
  std::memset(&cred, 0, sizeof(cred));
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    const int err = errno;
    Napi::Error error = Napi::Error::New(
        env, std::string("getsockopt(SO_PEERCRED) on fd ") + std::to_string(fd) + " failed: " + std::strerror(err));
    error.Set("code", Napi::String::New(env, "E_PROTOCOL"));
    error.Set("errno", Napi::Number::New(env, err));
    throw error;
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, cred.pid));
  result.Set("uid", Napi::Number::New(env, cred.uid));
  result.Set("gid", Napi::Number::New(env, cred.gid));
  return result;
}

}  // namespace

void InitPeercred(Napi::Env env, Napi::Object exports) {
  exports.Set("peerCredentials", Napi::Function::New(env, PeerCredentials, "peerCredentials"));
}

}  // namespace ycs
