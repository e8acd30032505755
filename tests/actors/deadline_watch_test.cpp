#include <doctest/doctest.h>

#include <future>
#include <mutex>
#include <vector>

#include "strata/actors/deadline_watch.hpp"

using namespace strata;
using clk = actors::deadline_watch::clock;

TEST_CASE("a deadline watch calls each function once, in the order of their times") {
  actors::deadline_watch watch;
  std::mutex m;
  std::vector<int> order;
  std::promise<void> all;
  const auto t0 = clk::now();
  // Armed out of order; the last one armed is the earliest.
  const int times_ms[] = {30, 10, 20, 1};
  for (int k = 0; k < 4; ++k) {
    watch.arm(t0 + std::chrono::milliseconds(times_ms[k]), [&, k] {
      std::lock_guard<std::mutex> lock{m};
      order.push_back(times_ms[k]);
      if (order.size() == 4) all.set_value();
    });
  }
  REQUIRE(all.get_future().wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  std::lock_guard<std::mutex> lock{m};
  CHECK(order == std::vector<int>{1, 10, 20, 30});
  CHECK(watch.pending() == 0);
}

TEST_CASE("a deadline watch never calls a function before its time") {
  actors::deadline_watch watch;
  std::promise<clk::time_point> fired;
  const auto due = clk::now() + std::chrono::milliseconds(20);
  watch.arm(due, [&] { fired.set_value(clk::now()); });
  auto f = fired.get_future();
  REQUIRE(f.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  CHECK(f.get() >= due);
}

TEST_CASE("a stopped deadline watch drops what is not due and ignores new entries") {
  actors::deadline_watch watch;
  int calls = 0;  // only the watch's thread would touch it, and it must not
  watch.arm(clk::now() + std::chrono::hours(1), [&] { ++calls; });
  CHECK(watch.pending() == 1);
  watch.stop();
  watch.arm(clk::now(), [&] { ++calls; });
  CHECK(watch.pending() == 0);
  CHECK(calls == 0);
}
