#pragma once

// A clock for runtime tests whose time is predictable, a bounded wait on a future, and a
// runtime with the Order aggregate on that clock.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>

#include <doctest/doctest.h>

#include "strata/domain/kernel/time.hpp"
#include "strata/domain/orders/order.hpp"
#include "strata/runtime/runtime.hpp"
#include "tests/runtime/temp_dir.hpp"

namespace strata::testing {

/// Each reading is one second after the previous one, from the Unix epoch on.
class stepping_clock final : public clock {
 public:
  timestamp now() const override { return from_unix_micros(1'000'000 * ++ticks_); }
  mutable std::atomic<std::int64_t> ticks_{0};
};

/// The value of `f`, which must be ready within 20 s (else the test fails).
template <class T>
T wait(std::future<T> f) {
  REQUIRE_MESSAGE(f.wait_for(std::chrono::seconds(20)) == std::future_status::ready,
                  "no answer within 20 s");
  return f.get();
}

/// A runtime on an SQLite file of a temporary directory and a `stepping_clock`, with Order
/// registered; `start()` again after `rt->stop()` restarts it on the same file.
struct clocked_orders {
  temp_dir dir;
  runtime_config config;
  std::shared_ptr<stepping_clock> clk = std::make_shared<stepping_clock>();
  std::unique_ptr<runtime> rt;

  explicit clocked_orders(std::uint32_t snapshot_every) {
    config.journal.sqlite.path = dir.file("strata.db");
    config.metrics.enabled = false;
    config.aggregates.snapshot_every = snapshot_every;
    start();
  }
  void start() {
    runtime_overrides o;
    o.time_source = clk;
    auto r = runtime::start(config, o);
    REQUIRE_MESSAGE(r, (r ? "" : to_string(r.err())));
    rt = std::move(*r);
    REQUIRE(rt->register_aggregate<orders::order>());
  }
};

}  // namespace strata::testing
