#pragma once

// Helpers shared by the persistence tests: temporary directories, event builders, rendering.

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <doctest/doctest.h>

#include "strata/domain/kernel/error.hpp"
#include "strata/domain/kernel/ids.hpp"
#include "strata/domain/kernel/result.hpp"
#include "strata/domain/kernel/time.hpp"
#include "strata/persistence/event_record.hpp"
#include "strata/persistence/journal.hpp"

namespace strata::persistence::testing {

/// A fresh directory under the system temp directory, removed with everything in it.
class temp_dir {
 public:
  temp_dir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "strata-persistence-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) FAIL("cannot create a temporary directory");
    path_ = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// 2026-03-01T12:00:00Z plus `seconds`.
inline timestamp test_time(std::int64_t seconds = 0) {
  return from_unix_micros((1'772'366'400 + seconds) * 1'000'000 + 123'456);
}

inline new_event make_event(std::string type, std::string data = "{}", timestamp t = test_time()) {
  static std::atomic<int> next{0};
  const int counter = ++next;
  new_event e;
  e.event_id = "evt-" + std::to_string(counter);
  e.event_type = std::move(type);
  e.time = t;
  e.user_id = "user-1";
  e.command_id = "cmd-" + std::to_string(counter);
  e.correlation_id = "corr-1";
  e.causation_id = "cause-" + std::to_string(counter);
  e.data = std::move(data);
  return e;
}

inline stream_append part(stream_id s, std::uint64_t expected, std::vector<new_event> events) {
  return stream_append{std::move(s), version{expected}, std::move(events)};
}

/// Appends one stream and returns its outcome, failing the test on an outer error.
inline stream_outcome append_one(journal& j, stream_id s, std::uint64_t expected,
                                 std::vector<new_event> events) {
  auto out = j.append({part(std::move(s), expected, std::move(events))});
  if (!out) FAIL("append failed: " << to_string(out.err()));
  REQUIRE(out->size() == 1);
  return std::move(out->front());
}

/// Renders records as "type@version" words, e.g. "placed@1 confirmed@2".
inline std::string render(const std::vector<event_record>& records) {
  std::string out;
  for (const auto& r : records) {
    if (!out.empty()) out += ' ';
    out += r.event_type + '@' + std::to_string(r.stream_version.value);
  }
  return out;
}

inline std::string describe(const error& e) {
  return to_string(e);
}

}  // namespace strata::persistence::testing
