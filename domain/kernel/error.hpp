#pragma once

#include <cstddef>
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
  duplicate,         ///< The command id was already applied to the stream: its first outcome
                     ///< stands (a journal's per-stream append outcome; see journal.hpp).
};

/// The stable lower-case name of `code`, e.g. "conflict".
std::string_view to_string(errc code) noexcept;

/// True when repeating the same request later may succeed.
constexpr bool is_retryable(errc code) noexcept {
  return code == errc::conflict || code == errc::unavailable || code == errc::overloaded ||
         code == errc::timeout;
}

/// How a command ended, from the caller's point of view. Also the `outcome` label of the
/// `strata_commands_total` metric (docs/METRICS.md), under `to_string`.
enum class command_status : std::uint8_t {
  accepted,     ///< Decided and, if it produced events, durably appended.
  rejected,     ///< A business rule said no; nothing was appended.
  conflict,     ///< The expected version did not match, or another writer moved the stream.
  overloaded,   ///< Refused at admission; nothing was done. Back off and retry.
  timeout,      ///< The deadline passed before the command was decided; nothing was done.
  unavailable,  ///< The journal could not be reached; nothing was appended. Retry later.
  failed,       ///< Anything else (corrupted history, a bug); see the failure's message.
};

/// The number of `command_status` values.
inline constexpr std::size_t command_status_count = 7;

/// The stable lower-case name of `s`, e.g. "accepted".
std::string_view to_string(command_status s) noexcept;

/// The status of a command that failed with `code`: `rejected`, `conflict`, `overloaded`,
/// `timeout` and `unavailable` map to themselves, every other code to `failed`. The one
/// mapping from errors to command outcomes; the actors and the metrics both use it.
constexpr command_status status_of(errc code) noexcept {
  switch (code) {
    case errc::rejected:
      return command_status::rejected;
    case errc::conflict:
      return command_status::conflict;
    case errc::overloaded:
      return command_status::overloaded;
    case errc::timeout:
      return command_status::timeout;
    case errc::unavailable:
      return command_status::unavailable;
    default:
      return command_status::failed;
  }
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
