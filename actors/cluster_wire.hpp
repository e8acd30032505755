#pragma once

// What crosses between the nodes of a cluster when a command is forwarded to its shard's
// owner (docs/CLUSTER.md, "Forwarding"): the command with its metadata one way, its
// `command_result` the other, both in a compact binary form (a kind byte, a format byte, then
// the fields in a fixed order, numbers as LEB128 varints and texts with their lengths). No
// CAF: the transport (actors/node_link.hpp) carries opaque text.

#include <string>
#include <string_view>

#include "strata/actors/command_result.hpp"
#include "strata/domain/kernel/metadata.hpp"
#include "strata/domain/kernel/result.hpp"

namespace strata::actors {

/// A command on its way to the node that owns its aggregate's shard.
struct forwarded_command {
  std::string type;          ///< The aggregate type.
  std::string aggregate_id;  ///< The aggregate id.
  std::string command;       ///< `aggregate_model::encode_command` of the command.
  command_metadata meta;     ///< Command id, user, correlation, causation, expected version.
  std::string from_node;     ///< The node id that forwarded it (for messages and metrics).
};

/// The wire form of `c`. Thread-safety: pure functions, as the others below.
std::string encode_forwarded(const forwarded_command& c);

/// The forwarded command `text` holds. Errors: `invalid_argument` naming the first field
/// that is missing, malformed or out of range (and its byte offset), bytes after the last
/// field, another kind of text, or another format.
result<forwarded_command> decode_forwarded(std::string_view text);

/// The wire form of `r`: status, versions, position, the committed records as stored (data
/// and hash byte for byte), the duplicate flag, the rejection and the failure.
std::string encode_result(const command_result& r);

/// The result `text` holds. Errors: as `decode_forwarded`'s; a status or failure code that
/// names no value, and a record count the text cannot hold, are refused too.
result<command_result> decode_result(std::string_view text);

}  // namespace strata::actors
