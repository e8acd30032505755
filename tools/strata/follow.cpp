// events --follow: the journal polled at a bounded interval, new events printed as they are
// committed, until SIGINT or SIGTERM (or --max-events).

#include <csignal>
#include <thread>

#include "strata/cli/command_support.hpp"

namespace strata::cli_support {

namespace {

volatile std::sig_atomic_t stop_requested = 0;

extern "C" void request_stop(int) {
  stop_requested = 1;
}

/// Installs the stop handlers for the lifetime of a follow, restoring the previous ones.
class stop_signals {
 public:
  stop_signals() {
    stop_requested = 0;
    struct sigaction sa {};
    sa.sa_handler = &request_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~stop_signals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  stop_signals(const stop_signals&) = delete;
  stop_signals& operator=(const stop_signals&) = delete;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

/// Waits `interval`, in slices short enough that a stop request ends the wait promptly.
/// Returns false when a stop was requested.
bool wait_or_stop(std::chrono::milliseconds interval) {
  const auto until = std::chrono::steady_clock::now() + interval;
  while (stop_requested == 0) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) return true;
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(until - now, std::chrono::milliseconds{20}));
  }
  return false;
}

}  // namespace

cli_exit follow_events(cli_context& c, persistence::journal& j, const follow_request& r) {
  stop_signals signals;
  std::uint64_t printed = 0;
  version next = r.from;
  global_position after = r.after;
  for (;;) {
    result<std::vector<persistence::event_record>> page = std::vector<persistence::event_record>{};
    if (r.stream) {
      persistence::stream_range range;
      range.from = next;
      range.limit = page_size;
      page = j.read_stream(*r.stream, range);
    } else {
      page = j.read_all(after, page_size);
    }
    if (!page) return store_failure(c, page.err());
    for (const persistence::event_record& e : *page) {
      if (auto shown = c.out().event(e); !shown) return store_failure(c, shown.err());
      next = e.stream_version.next();
      after = e.position;
      if (r.max_events && ++printed >= *r.max_events) {
        std::fflush(c.out().out());
        return cli_exit::ok;
      }
    }
    std::fflush(c.out().out());
    if (stop_requested != 0) return cli_exit::ok;
    if (page->size() == page_size) continue;
    if (!wait_or_stop(r.poll)) return cli_exit::ok;
  }
}

}  // namespace strata::cli_support
