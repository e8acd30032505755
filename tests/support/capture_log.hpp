#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/domain/kernel/log.hpp"

namespace strata::testing {

/// Keeps every message it is given, with a bounded wait for one to arrive.
struct capture_sink final : log_sink {
  struct line {
    log_level level;
    std::string component;
    std::string message;
  };
  std::mutex mutex;
  std::condition_variable arrived;
  std::vector<line> lines;

  void write(log_level level, std::string_view component,
             std::string_view message) noexcept override {
    {
      std::lock_guard<std::mutex> lock{mutex};
      lines.push_back(line{level, std::string{component}, std::string{message}});
    }
    arrived.notify_all();
  }

  /// The first message of `component` (waiting up to 10 s for one), or nullopt.
  std::optional<line> first_of(std::string_view component) {
    std::unique_lock<std::mutex> lock{mutex};
    std::optional<line> found;
    arrived.wait_for(lock, std::chrono::seconds{10}, [&] {
      for (const auto& l : lines) {
        if (l.component != component) continue;
        found = l;
        return true;
      }
      return false;
    });
    return found;
  }
};

}  // namespace strata::testing
