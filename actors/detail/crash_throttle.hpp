#pragma once

// Internal to actors/: no CAF, no clock of its own, so that it is tested without actors.

#include <chrono>
#include <cstddef>
#include <string>
#include <unordered_map>

namespace strata::actors::detail {

/// Counts the crashes of aggregate ids and says which ones must be refused: an id that
/// crashed `max_crashes` times within `window` of its first crash is refused until that window
/// has passed, then forgotten, so that a poisoned aggregate cannot spin through rehydration
/// after rehydration. Time comes in as an argument (`now`, on a monotonic clock); the type
/// reads no clock. Only ids that crashed take memory.
///
/// Thread-safety: none; one owner (the region of the aggregate type).
class crash_throttle {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;

  /// REQUIRES: `max_crashes` >= 1 (0 is taken as 1).
  crash_throttle(std::size_t max_crashes, duration window) noexcept
      : max_crashes_(max_crashes == 0 ? 1 : max_crashes), window_(window) {}

  /// Counts one crash of `id` at `now`. A crash after the window of the previous ones opens
  /// a new window.
  void record(const std::string& id, time_point now) {
    auto& r = crashes_[id];
    if (r.count == 0 || now - r.window_start > window_) r = entry{0, now};
    ++r.count;
  }

  /// True when `id` is refused at `now`. An id whose window has passed is forgotten.
  bool refuses(const std::string& id, time_point now) {
    auto it = crashes_.find(id);
    if (it == crashes_.end()) return false;
    if (now - it->second.window_start > window_) {
      crashes_.erase(it);
      return false;
    }
    return it->second.count >= max_crashes_;
  }

  /// True when no id is remembered: nothing can be refused (a check for the hot path).
  bool empty() const noexcept { return crashes_.empty(); }

  /// The ids remembered (crashed within a window not yet seen to have passed).
  std::size_t size() const noexcept { return crashes_.size(); }

 private:
  struct entry {
    std::size_t count = 0;
    time_point window_start;
  };

  std::size_t max_crashes_;
  duration window_;
  std::unordered_map<std::string, entry> crashes_;
};

}  // namespace strata::actors::detail
