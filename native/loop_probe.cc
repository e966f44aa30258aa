// startLoopProbe(periodMs) -> { take(), stop() }: the event loop's wake-up delay, i.e. how
// long an event posted from another thread waits before the loop runs it. This is the path
// every disk answer and agent result takes (an addon thread wakes the loop through libuv's
// async handle), so it is the delay the daemon's heartbeats see from a busy loop.
//
// Node's monitorEventLoopDelay measures a 10 ms timer instead; libuv keeps its timers on a
// millisecond clock read once per loop turn, so a timer that falls due after the loop woke
// for any I/O fires up to 1 ms late even when the loop was idle (docs/metrics.md, Cost).
// This probe has no such floor: a thread posts every periodMs and the loop records, in
// milliseconds, how long the oldest unanswered post waited (posts while one waits merge).
//   take() -> { count, p50Ms, p99Ms, maxMs } of the posts answered since the last take
//   stop()    ends the thread and closes the handle (also done when the environment ends
//             or the object is collected)
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "modules.h"

namespace ycs {
namespace {

using Clock = std::chrono::steady_clock;

// A window's samples are bounded: a probe whose results nobody takes does not grow.
constexpr size_t kMaxSamples = 1 << 16;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

struct Probe {
  uv_async_t async;
  napi_env env = nullptr;
  std::thread poster;
  std::mutex mu;
  std::condition_variable wake;
  bool stopping = false;
  bool stopped = false;                 // loop thread only, as the two below
  bool closed = false;                  // the handle's close callback ran
  bool finalized = false;               // the JS object is gone
  std::atomic<int64_t> postedAtNs{0};   // the oldest post not yet answered (0: none)
  std::vector<double> samplesMs;        // loop thread only

  void Post(std::chrono::milliseconds period) {
    std::unique_lock<std::mutex> lock(mu);
    auto next = Clock::now();
    while (!stopping) {
      int64_t none = 0;
      if (postedAtNs.compare_exchange_strong(none, NowNs())) uv_async_send(&async);
      next += period;
      wake.wait_until(lock, next, [this] { return stopping; });
    }
  }

  static void OnAsync(uv_async_t* handle) {
    Probe* probe = static_cast<Probe*>(handle->data);
    const int64_t posted = probe->postedAtNs.exchange(0);
    if (posted == 0 || probe->samplesMs.size() >= kMaxSamples) return;
    probe->samplesMs.push_back(static_cast<double>(NowNs() - posted) / 1e6);
  }

  // Ends the poster and closes the handle; the close callback frees the probe.
  void Stop() {
    if (stopped) return;
    stopped = true;
    {
      std::lock_guard<std::mutex> lock(mu);
      stopping = true;
    }
    wake.notify_all();
    poster.join();
    napi_remove_env_cleanup_hook(env, OnEnvTeardown, this);
    uv_close(reinterpret_cast<uv_handle_t*>(&async), [](uv_handle_t* h) {
      Probe* probe = static_cast<Probe*>(h->data);
      probe->closed = true;
      if (probe->finalized) delete probe;
    });
  }

  // The JS object was collected: the probe goes once its handle is closed too.
  static void OnFinalize(Napi::Env, Probe* probe) {
    probe->finalized = true;
    probe->Stop();
    if (probe->closed) delete probe;
  }

  static void OnEnvTeardown(void* arg) { static_cast<Probe*>(arg)->Stop(); }
};

// The value at quantile q of sorted samples (the smallest that q of them do not exceed).
double Quantile(const std::vector<double>& sorted, double q) {
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size(), std::max<size_t>(rank, 1)) - 1];
}

Probe* ProbeOf(const Napi::CallbackInfo& info) {
  Probe* probe = static_cast<Probe*>(info.Data());
  if (probe->stopped) throw Napi::Error::New(info.Env(), "loop probe: already stopped");
  return probe;
}

Napi::Value Take(const Napi::CallbackInfo& info) {
  Probe* probe = ProbeOf(info);
  std::vector<double> sorted;
  sorted.swap(probe->samplesMs);
  std::sort(sorted.begin(), sorted.end());
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("count", Napi::Number::New(env, static_cast<double>(sorted.size())));
  const bool any = !sorted.empty();
  out.Set("p50Ms", any ? Napi::Value(Napi::Number::New(env, Quantile(sorted, 0.5))) : env.Null());
  out.Set("p99Ms", any ? Napi::Value(Napi::Number::New(env, Quantile(sorted, 0.99))) : env.Null());
  out.Set("maxMs", any ? Napi::Value(Napi::Number::New(env, sorted.back())) : env.Null());
  return out;
}

Napi::Value Stop(const Napi::CallbackInfo& info) {
  Probe* probe = static_cast<Probe*>(info.Data());
  probe->Stop();  // the probe itself stays until the object is collected
  return info.Env().Undefined();
}

Napi::Value StartLoopProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const double periodMs = info.Length() == 1 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
  if (!(periodMs >= 1 && periodMs <= 60'000)) throw Napi::TypeError::New(env, "startLoopProbe(periodMs): periodMs must be a number from 1 to 60000");
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) throw Napi::Error::New(env, "loop probe: no event loop");
  Probe* probe = new Probe();
  probe->env = env;
  probe->async.data = probe;
  if (uv_async_init(loop, &probe->async, Probe::OnAsync) != 0) {
    delete probe;
    throw Napi::Error::New(env, "loop probe: cannot create the async handle");
  }
  uv_unref(reinterpret_cast<uv_handle_t*>(&probe->async));  // the probe never keeps a process alive
  probe->samplesMs.reserve(1024);
  probe->poster = std::thread([probe, periodMs] { probe->Post(std::chrono::milliseconds(static_cast<int64_t>(periodMs))); });
  napi_add_env_cleanup_hook(env, Probe::OnEnvTeardown, probe);
  Napi::Object out = Napi::Object::New(env);
  out.Set("take", Napi::Function::New(env, Take, "take", probe));
  out.Set("stop", Napi::Function::New(env, Stop, "stop", probe));
  out.AddFinalizer(Probe::OnFinalize, probe);  // the functions are called through `out`, which keeps them
  return out;
}

}  // namespace

void InitLoopProbe(Napi::Env env, Napi::Object exports) {
  exports.Set("startLoopProbe", Napi::Function::New(env, StartLoopProbe, "startLoopProbe"));
}

}  // namespace ycs
