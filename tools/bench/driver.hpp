#pragma once

// Keeps a window of commands in flight through the callback form of `runtime::send` (no
// thread per command) and records each command's latency from send to reply.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "strata/runtime/runtime.hpp"

namespace strata::bench {

using actors::command_callback;

struct drive_outcome {
  double seconds = 0;
  std::vector<std::int64_t> latency_ns;  ///< One per command, send to reply.
  std::size_t accepted = 0;
  std::size_t other = 0;     ///< Replies that were not `accepted`.
  std::string first_other;   ///< The first of them, rendered.
  std::uint64_t events = 0;  ///< Events in the accepted replies.
};

/// Sends commands 0..n-1 with at most `window` awaiting a reply (and, once the window first
/// filled, at least `window - max(1, window / 8)` while commands remain to be sent). `send(i,
/// done)` must send command `i` and arrange for `done` to be called with its result.
drive_outcome drive(std::size_t n, std::size_t window,
                    const std::function<void(std::size_t, command_callback)>& send);

/// Where `bench_config` points the runtime's default files (set once, before any run).
void set_files_dir(const std::string& dir);

/// A runtime configuration for benchmarks: no metrics endpoint, 2 scheduler threads.
runtime_config bench_config();

/// Overrides that replace only the journal.
runtime_overrides with_journal(std::shared_ptr<persistence::journal_factory> journal);

}  // namespace strata::bench
