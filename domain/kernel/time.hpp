#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace strata {

/// A UTC instant with microsecond precision, the resolution every store keeps.
using timestamp = std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds>;

/// Microseconds since the Unix epoch.
constexpr std::int64_t to_unix_micros(timestamp t) noexcept {
  return t.time_since_epoch().count();
}
constexpr timestamp from_unix_micros(std::int64_t us) noexcept {
  return timestamp{std::chrono::microseconds{us}};
}

/// ISO 8601 in UTC with microseconds, e.g. "2026-12-01T20:00:00.123456Z".
std::string to_iso8601(timestamp t);

/// Parses what `to_iso8601` writes; also accepts no fraction, fewer fraction digits and a
/// "+00:00" suffix. Returns nullopt for anything else.
std::optional<timestamp> parse_iso8601(std::string_view text);

/// The source of "now" for the runtime. The kernel only names the seam; implementations
/// live with the runtime (system clock) and the tests (a manual clock).
///
/// Thread-safety: implementations must be safe to call from any thread.
class clock {
 public:
  virtual ~clock() = default;
  virtual timestamp now() const = 0;
};

}  // namespace strata
