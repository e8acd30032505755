#include <doctest/doctest.h>

#include <chrono>

#include "strata/actors/detail/crash_throttle.hpp"

using strata::actors::detail::crash_throttle;
using namespace std::chrono_literals;

namespace {

const crash_throttle::time_point t0{std::chrono::hours(1)};

}  // namespace

TEST_CASE("an id is refused after max_crashes crashes within the window, and not before") {
  crash_throttle t{3, 10s};
  CHECK(t.empty());
  CHECK_FALSE(t.refuses("o-1", t0));
  t.record("o-1", t0);
  t.record("o-1", t0 + 1s);
  CHECK_FALSE(t.refuses("o-1", t0 + 2s));
  t.record("o-1", t0 + 3s);
  CHECK(t.refuses("o-1", t0 + 3s));
  CHECK(t.refuses("o-1", t0 + 10s));
  CHECK_FALSE(t.refuses("o-2", t0 + 3s));
}

TEST_CASE("a refused id is accepted and forgotten once its window has passed") {
  crash_throttle t{2, 10s};
  t.record("o-1", t0);
  t.record("o-1", t0 + 1s);
  REQUIRE(t.refuses("o-1", t0 + 5s));
  CHECK_FALSE(t.refuses("o-1", t0 + 11s));
  CHECK(t.empty());
}

TEST_CASE("crashes spread wider than the window never add up to a refusal") {
  crash_throttle t{2, 10s};
  t.record("o-1", t0);
  t.record("o-1", t0 + 11s);  // opens a new window: one crash in it
  CHECK_FALSE(t.refuses("o-1", t0 + 12s));
  t.record("o-1", t0 + 13s);
  CHECK(t.refuses("o-1", t0 + 13s));
  CHECK(t.size() == 1);
}

TEST_CASE("crashes of one id do not count against another") {
  crash_throttle t{1, 10s};
  t.record("o-1", t0);
  CHECK(t.refuses("o-1", t0));
  CHECK_FALSE(t.refuses("o-2", t0));
  CHECK(t.size() == 1);
}
