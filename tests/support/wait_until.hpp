#pragma once

// A bounded wait on a condition: what tests use instead of sleeping "long enough".

#include <chrono>
#include <thread>

namespace strata::testing {

/// Polls `condition` until it holds or `timeout` passed; true when it held.
template <class Condition>
bool wait_until(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the poll interval
  }
  return true;
}

}  // namespace strata::testing
