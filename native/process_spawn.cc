// runProcess(file, args, env, options) -> Promise<{exitCode, signal, timedOut, output, spawnError?}>:
// runs a program off the JavaScript thread. Node's child_process.spawn forks on the event
// loop's thread and waits there until the child has exec'd, 7-35 ms per spawn on a loaded
// machine: for a daemon whose heartbeats are timers, a resource agent's monitor once a
// second was the largest source of event-loop lag (docs/metrics.md). Here one thread per
// run does everything: posix_spawn (glibc: clone with CLONE_VFORK, cheap whatever the
// daemon's size) into a new process group with default signal dispositions and an empty
// signal mask (Node ignores SIGPIPE; a child must not inherit that), stdin from /dev/null,
// stdout and stderr into one pipe whose last `outputTailBytes` are kept; it waits for the
// exit on a pidfd, and at `timeoutMs` sends SIGTERM to the group, SIGKILL `killGraceMs`
// later (and again to the group's leftovers once the leader has exited). The thread reaps
// its own child only (libuv waits only for the pids it spawned), so no other code can see
// or signal a recycled pid. After the result, a background process that still holds the
// pipe (a database an agent started without redirecting its output) is drained until it
// closes it, so it never blocks on a full pipe.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "modules.h"

namespace ycs {
namespace {

struct Run {
  std::string file;
  std::vector<std::string> args;  // argv[1..]
  std::vector<std::string> env;   // "NAME=value"
  int64_t timeout_ms = 0;
  int64_t kill_grace_ms = 0;
  size_t tail_bytes = 4096;
  // The outcome, written by the run's thread before it hands the run to the JS thread.
  int exit_code = -1;   // -1: none (killed by a signal, or never started)
  int signal = 0;       // 0: none
  bool timed_out = false;
  std::string output;
  std::string spawn_error;  // "CODE: message" when the program could not be started
};

using Deferred = Napi::Promise::Deferred;

void DeliverResult(Napi::Env env, Napi::Function, Deferred* deferred, Run* run) {
  std::unique_ptr<Run> owned(run);
  std::unique_ptr<Deferred> settle(deferred);
  if (env == nullptr) return;  // the environment is going away
  Napi::Object result = Napi::Object::New(env);
  result.Set("exitCode", run->exit_code >= 0 ? Napi::Number::New(env, run->exit_code) : env.Null());
  result.Set("signal", run->signal > 0 ? Napi::Number::New(env, run->signal) : env.Null());
  result.Set("timedOut", Napi::Boolean::New(env, run->timed_out));
  result.Set("output", Napi::String::New(env, run->output));
  if (!run->spawn_error.empty()) result.Set("spawnError", Napi::String::New(env, run->spawn_error));
  settle->Resolve(result);
}

using Tsfn = Napi::TypedThreadSafeFunction<Deferred, Run, DeliverResult>;

int64_t NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::string ErrnoText(int err, const std::string& what) {
  const char* name = strerrorname_np(err);
  return std::string(name != nullptr ? name : "ERROR") + ": " + what + ": " + strerror(err);
}

void KillGroup(pid_t pgid, int sig) { kill(-pgid, sig); }  // ESRCH: the group is gone

void KeepTail(std::string& output, const char* data, size_t n, size_t tail_bytes) {
  output.append(data, n);
  if (output.size() > tail_bytes) output.erase(0, output.size() - tail_bytes);
}

// Starts the program with stdout and stderr on `out_fd`; 0 or an errno.
int Spawn(const Run& run, int out_fd, pid_t* pid) {
  std::vector<char*> argv{const_cast<char*>(run.file.c_str())};
  for (const std::string& a : run.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& e : run.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 2);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);  // its own process group, so a timeout reaches all it started
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  const int rc = posix_spawn(pid, run.file.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  return rc;
}

// Reads what the pipe holds now (non-blocking); false at end of file or on an error.
bool ReadAvailable(int fd, Run& run) {
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n > 0) {
      KeepTail(run.output, buffer, static_cast<size_t>(n), run.tail_bytes);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
}

// Waits for the child's exit, collecting output and enforcing the deadline; fills `run`.
void Supervise(Run& run, pid_t pid, int& out_fd) {
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  int64_t next_deadline = NowMs() + run.timeout_ms;
  bool killed = false;
  int status = 0;
  bool have_status = true;
  for (;;) {
    const pid_t waited = waitpid(pid, &status, WNOHANG);
    if (waited == pid) break;
    if (waited < 0 && errno == ECHILD) {  // reaped elsewhere: the exit status is lost
      run.spawn_error = "ECHILD: the exit status of " + run.file + " was lost";
      have_status = false;
      break;
    }
    const int64_t now = NowMs();
    if (now >= next_deadline && !killed) {
      if (!run.timed_out) {
        run.timed_out = true;
        KillGroup(pid, SIGTERM);
        next_deadline = now + run.kill_grace_ms;
      } else {
        KillGroup(pid, SIGKILL);
        killed = true;
      }
      continue;
    }
    struct pollfd fds[2];
    nfds_t n = 0;
    if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
    if (pidfd >= 0) fds[n++] = {pidfd, POLLIN, 0};
    // Without a pidfd (a kernel before 5.3) the exit is checked every 10 ms.
    int64_t wait_ms = killed ? -1 : next_deadline - now;
    if (pidfd < 0 && (wait_ms < 0 || wait_ms > 10)) wait_ms = 10;
    poll(fds, n, static_cast<int>(wait_ms));  // EINTR or not: the loop looks again
    if (out_fd >= 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !ReadAvailable(out_fd, run)) {
      close(out_fd);
      out_fd = -1;
    }
  }
  if (pidfd >= 0) close(pidfd);
  if (run.timed_out) KillGroup(pid, SIGKILL);  // leftovers that ignored SIGTERM die with it
  if (out_fd >= 0 && !ReadAvailable(out_fd, run)) {  // output already in the pipe
    close(out_fd);
    out_fd = -1;
  }
  if (have_status && WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  if (have_status && WIFSIGNALED(status)) run.signal = WTERMSIG(status);
}

void Drain(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n > 0 || (n < 0 && errno == EINTR)) continue;
    break;
  }
  close(fd);
}

void RunThread(Run* run, Tsfn tsfn) {
  int pipe_fds[2];
  int out_fd = -1;
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    run->spawn_error = ErrnoText(errno, "pipe for " + run->file);
  } else {
    fcntl(pipe_fds[0], F_SETFL, fcntl(pipe_fds[0], F_GETFL) | O_NONBLOCK);
    pid_t pid = 0;
    const int rc = Spawn(*run, pipe_fds[1], &pid);
    close(pipe_fds[1]);
    out_fd = pipe_fds[0];
    if (rc != 0) {
      run->spawn_error = ErrnoText(rc, "spawn " + run->file);
    } else {
      Supervise(*run, pid, out_fd);
    }
  }
  if (tsfn.BlockingCall(run) != napi_ok) delete run;  // the environment is going away
  tsfn.Release();
  if (out_fd >= 0) Drain(out_fd);
}

std::vector<std::string> StringArray(Napi::Env env, Napi::Value value, const char* what) {
  if (!value.IsArray()) throw Napi::TypeError::New(env, std::string("runProcess: ") + what + " must be an array of strings");
  Napi::Array array = value.As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value item = array.Get(i);
    if (!item.IsString()) throw Napi::TypeError::New(env, std::string("runProcess: ") + what + " must be an array of strings");
    out.push_back(item.As<Napi::String>().Utf8Value());
  }
  return out;
}

int64_t NonNegative(Napi::Env env, Napi::Object options, const char* name) {
  Napi::Value value = options.Get(name);
  if (!value.IsNumber() || value.As<Napi::Number>().DoubleValue() < 0) {
    throw Napi::TypeError::New(env, std::string("runProcess: options.") + name + " must be a non-negative number");
  }
  return value.As<Napi::Number>().Int64Value();
}

Napi::Value RunProcess(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 4 || !info[0].IsString() || !info[3].IsObject()) {
    throw Napi::TypeError::New(env, "runProcess(file, args, env, {timeoutMs, killGraceMs, outputTailBytes})");
  }
  auto run = std::make_unique<Run>();
  run->file = info[0].As<Napi::String>().Utf8Value();
  run->args = StringArray(env, info[1], "args");
  run->env = StringArray(env, info[2], "env");
  Napi::Object options = info[3].As<Napi::Object>();
  run->timeout_ms = NonNegative(env, options, "timeoutMs");
  run->kill_grace_ms = NonNegative(env, options, "killGraceMs");
  run->tail_bytes = static_cast<size_t>(NonNegative(env, options, "outputTailBytes"));
  auto* deferred = new Deferred(Deferred::New(env));
  Napi::Promise promise = deferred->Promise();
  // Referenced: a running program keeps the event loop alive, as a child process does.
  Tsfn tsfn = Tsfn::New(env, "ycs-run-process", 0, 1, deferred);
  try {
    std::thread(RunThread, run.get(), tsfn).detach();
    run.release();  // the thread owns it now
  } catch (const std::system_error& err) {  // no thread to be had (EAGAIN): a result, not a throw
    run->spawn_error = ErrnoText(err.code().value(), "thread for " + run->file);
    tsfn.Release();
    DeliverResult(env, Napi::Function(), deferred, run.release());
  }
  return promise;
}

}  // namespace

void InitProcessSpawn(Napi::Env env, Napi::Object exports) {
  exports.Set("runProcess", Napi::Function::New(env, RunProcess, "runProcess"));
}

}  // namespace ycs
