#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace strata {

/// What went wrong, phrased as what the caller should do about it.
enum class errc : std::uint8_t {
  conflict = 1,      ///< The stream moved on: reload and decide again.
  unavailable,       ///< A store or peer is down: retry later.
  overloaded,        ///< Admission refused: back off and retry.
  timeout,           ///< The deadline passed; the outcome may be unknown (see the message).
  invalid_argument,  ///< The request itself is malformed: do not retry unchanged.
  not_found,         ///< The named thing does not exist.
  corrupted,         ///< Stored data is damaged or tampered with: alert a person.
  unsupported,       ///< Stored data is newer than this code understands: upgrade.
  rejected,          ///< A business rule said no (see `rejection`).
  internal,          ///< A bug or an unexpected state inside strata.
};

/// The stable lower-case name of `code`, e.g. "conflict".
std::string_view to_string(errc code) noexcept;

/// True when repeating the same request later may succeed.
constexpr bool is_retryable(errc code) noexcept {
  return code == errc::conflict || code == errc::unavailable || code == errc::overloaded ||
         code == errc::timeout;
}

/// An infrastructure failure: a code that says what to do and a message with the detail.
struct error {
  errc code = errc::internal;
  std::string message;

  friend bool operator==(const error& a, const error& b) {
    return a.code == b.code && a.message == b.message;
  }
};

/// Renders `e` as "code: message", e.g. "conflict: Order-1 expected version 3, head is 4".
std::string to_string(const error& e);

}  // namespace strata
