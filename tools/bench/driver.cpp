#include "tools/bench/driver.hpp"

#include <condition_variable>
#include <mutex>

#include "tools/bench/common.hpp"

namespace strata::bench {

drive_outcome drive(std::size_t n, std::size_t window,
                    const std::function<void(std::size_t, command_callback)>& send) {
  drive_outcome out;
  out.latency_ns.assign(n, 0);
  std::vector<std::int64_t> started(n, 0);
  std::mutex m;
  std::condition_variable cv;
  std::size_t outstanding = 0;
  std::size_t done = 0;
  if (window == 0) window = 1;
  const auto t0 = now_ns();
  for (std::size_t i = 0; i < n; ++i) {
    {
      std::unique_lock<std::mutex> lock{m};
      cv.wait(lock, [&] { return outstanding < window; });
      ++outstanding;
    }
    started[i] = now_ns();
    send(i, [&, i](command_result r) {
      const auto t = now_ns();
      out.latency_ns[i] = t - started[i];
      {
        std::lock_guard<std::mutex> lock{m};
        if (r.is_accepted()) {
          ++out.accepted;
          out.events += r.events.size();
        } else {
          if (out.other == 0) out.first_other = to_string(r);
          ++out.other;
        }
        --outstanding;
        ++done;
        // Notified under the lock: once `done == n` the waiter may destroy `cv`.
        cv.notify_all();
      }
    });
  }
  {
    std::unique_lock<std::mutex> lock{m};
    cv.wait(lock, [&] { return done == n; });
  }
  out.seconds = static_cast<double>(now_ns() - t0) / 1e9;
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
