#include "tools/bench/driver.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>

#include "tools/bench/common.hpp"

namespace strata::bench {

drive_outcome drive(std::size_t n, std::size_t window,
                    const std::function<void(std::size_t, command_callback)>& send) {
  drive_outcome out;
  out.latency_ns.assign(n, 0);
  std::vector<std::int64_t> started(n, 0);
  if (n == 0) return out;
  if (window == 0) window = 1;
  // The sender refills the window in bursts: once it is full, the sender sleeps until the
  // replies brought it down to `low`, so it is woken once per burst instead of once per reply
  // (on this kind of VM a wake-up costs more than a command). In flight stays in [low, window].
  const std::size_t low = window - std::max<std::size_t>(1, window / 8);
  std::atomic<std::size_t> outstanding{0};
  std::atomic<std::size_t> done{0};
  std::atomic<std::size_t> accepted{0};
  std::atomic<std::uint64_t> events{0};
  std::mutex m;
  std::condition_variable cv;
  bool sleeping = false;  // guarded by m
  bool all_done = false;  // guarded by m; the last callback sets it, then touches nothing
  const auto t0 = now_ns();
  for (std::size_t i = 0; i < n; ++i) {
    if (outstanding.load(std::memory_order_acquire) >= window) {
      std::unique_lock<std::mutex> lock{m};
      sleeping = true;
      cv.wait(lock, [&] { return outstanding.load(std::memory_order_acquire) <= low; });
      sleeping = false;
    }
    outstanding.fetch_add(1, std::memory_order_acq_rel);
    started[i] = now_ns();
    send(i, [&, i](command_result r) {
      out.latency_ns[i] = now_ns() - started[i];
      if (r.is_accepted()) {
        accepted.fetch_add(1, std::memory_order_relaxed);
        events.fetch_add(r.records.size(), std::memory_order_relaxed);
      } else {
        std::lock_guard<std::mutex> lock{m};
        if (out.other == 0) out.first_other = to_string(r);
        ++out.other;
      }
      if (outstanding.fetch_sub(1, std::memory_order_acq_rel) - 1 <= low) {
        std::lock_guard<std::mutex> lock{m};
        if (sleeping) cv.notify_all();
      }
      if (done.fetch_add(1, std::memory_order_acq_rel) + 1 == n) {
        // Under the lock: the sender cannot see `all_done` and destroy `cv` before this ends.
        std::lock_guard<std::mutex> lock{m};
        all_done = true;
        cv.notify_all();
      }
    });
  }
  {
    std::unique_lock<std::mutex> lock{m};
    cv.wait(lock, [&] { return all_done; });
  }
  out.seconds = static_cast<double>(now_ns() - t0) / 1e9;
  out.accepted = accepted.load();
  out.events = events.load();
  return out;
}

namespace {
std::string& files_dir() {
  static std::string dir = ".";
  return dir;
}
}  // namespace

void set_files_dir(const std::string& dir) {
  files_dir() = dir;
}

runtime_config bench_config() {
  runtime_config c;
  // Files the runtime would create by default go into the bench's directory.
  c.journal.sqlite.path = files_dir() + "/runtime-default.db";
  c.projections.path = files_dir() + "/runtime-read-models.db";
  c.metrics.enabled = false;
  c.scheduler_threads = 2;
  c.commands.timeout_ms = 60000;
  return c;
}

runtime_overrides with_journal(std::shared_ptr<persistence::journal_factory> journal) {
  runtime_overrides o;
  o.journal = std::move(journal);
  return o;
}

}  // namespace strata::bench
