#pragma once

#include <optional>
#include <string>

#include "strata/domain/kernel/ids.hpp"

namespace strata {

/// What a command carries besides its payload; it ends up on every event the command causes.
struct command_metadata {
  /// Idempotency key: a repeated id gets the original outcome and appends nothing.
  /// Empty means "generate one" (no idempotency across retries).
  std::string command_id;
  std::string user_id;         ///< Who asked; recorded on every resulting event.
  std::string correlation_id;  ///< Ties together everything one business flow caused.
  std::string causation_id;    ///< The command or event that directly caused this command.
  /// When set, the command is a conflict unless the aggregate is at exactly this version.
  std::optional<version> expected_version;
};

}  // namespace strata
