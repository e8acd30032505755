#pragma once

// Shared by the tests that read a runtime's metrics: the registry's text or a real HTTP
// scrape, parsed (tests/metrics/exposition.hpp), and a bounded wait on a condition.

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>

#include "strata/metrics/metrics.hpp"
#include "tests/metrics/exposition.hpp"
#include "tests/support/wait_until.hpp"

namespace strata::testing {

using metrics::testing::exposition;
using metrics::testing::parse_exposition;

/// Every series of `registry`, parsed; fails the test on a line the parser cannot read.
inline exposition read_series(const metrics::registry& registry) {
  auto parsed = parse_exposition(registry.scrape_text());
  if (!parsed.problems.empty()) FAIL("unreadable line in the scrape: " << parsed.problems.front());
  return parsed;
}

/// The value of one series, or -1 when it does not exist (so a failure shows which).
inline double value_of(const exposition& e, const std::string& name,
                       const std::map<std::string, std::string>& labels = {}) {
  return e.value(name, labels).value_or(-1.0);
}

/// The value of series `name` of projection `projection` in `registry`, or -1.
inline double projection_series(const metrics::registry& registry, const std::string& name,
                                const std::string& projection) {
  return value_of(read_series(registry), name, {{"projection", projection}});
}

}  // namespace strata::testing
