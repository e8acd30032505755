#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "strata/domain/kernel/metadata.hpp"
#include "strata/domain/kernel/result.hpp"

namespace strata {

/// The longest aggregate id strata accepts, in bytes. A stream name is `<type>-<id>`, and it is
/// indexed by every journal (PostgreSQL's btree entries stop near 2.7 kB).
inline constexpr std::size_t max_aggregate_id_bytes = 1024;

/// The deepest nesting of arrays and objects strata decodes from JSON it did not write itself
/// (configuration files, import lines, stored event and snapshot rows): Boost.JSON's default
/// `parse_options::max_depth`. Deeper text is refused as "nested too deeply".
inline constexpr std::size_t max_json_depth = 32;

/// The offset of the first byte of `text` that does not belong to a well-formed UTF-8
/// sequence (overlong forms, surrogates and code points above U+10FFFF included), or
/// `std::string_view::npos` when all of it is valid.
std::size_t first_invalid_utf8(std::string_view text) noexcept;

/// Checks an aggregate id at the edge of the runtime and the command line: it must be
/// non-empty, at most `max_aggregate_id_bytes` long, valid UTF-8 and hold no NUL byte. A scan
/// of the id's bytes; allocates only when it refuses. Errors: `invalid_argument`, naming
/// "aggregate id" and what is wrong with it (its length, the offset of the bad byte).
result<void> check_aggregate_id(std::string_view id);

/// Checks the ids of a command's metadata, stored with every event it causes: each must be
/// valid UTF-8 and hold no NUL byte (empty is fine). Errors: `invalid_argument` naming the
/// member, e.g. "command metadata user_id holds a NUL byte at offset 3".
result<void> check_metadata(const command_metadata& meta);

/// Checks JSON text strata is about to store (an encoded event body): it must be valid UTF-8
/// and hold no NUL character (the escape `\u0000`, which PostgreSQL's jsonb refuses and which
/// no stored text should carry). A scan of the bytes; allocates only when it refuses.
/// Errors: `invalid_argument`, naming `what` and the member holding the bad string, e.g.
/// "event OrderPlaced: member customer_id holds a NUL character".
result<void> check_json_text(std::string_view what, std::string_view json_text);

/// True when `check_json_text` would accept `json_text`; never allocates.
bool storable_json_text(std::string_view json_text) noexcept;

/// `text` quoted for an error message: at most 64 bytes of it, with control characters,
/// quotes and bytes that are not UTF-8 written as escapes, and the length when it was cut.
std::string quote_for_message(std::string_view text);

}  // namespace strata
