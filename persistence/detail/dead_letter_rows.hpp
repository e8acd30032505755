#pragma once

// The dead-letter table as every read-model store keeps it: one query, one row decoder.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "strata/persistence/projection_store.hpp"
#include "strata/persistence/sql_value.hpp"

namespace strata::persistence::detail {

/// The parked events of one projection (bound to `?`), oldest position first.
inline constexpr const char* dead_letters_sql =
    "SELECT position, event_id, event_type, error, parked_us, attempts FROM "
    "projection_dead_letters WHERE projection = ? ORDER BY position";

/// The dead letters of `projection` from the rows of `dead_letters_sql`.
inline std::vector<dead_letter> dead_letters_of(std::string_view projection,
                                                const std::vector<sql_row>& rows) {
  std::vector<dead_letter> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    dead_letter d;
    d.projection = std::string{projection};
    d.position = global_position{static_cast<std::uint64_t>(as_int(r[0]))};
    d.event_id = as_text(r[1]);
    d.event_type = as_text(r[2]);
    d.error = as_text(r[3]);
    d.parked_at = from_unix_micros(as_int(r[4]));
    d.attempts = static_cast<std::uint32_t>(as_int(r[5], 1));
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace strata::persistence::detail
