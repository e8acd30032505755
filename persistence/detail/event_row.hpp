#pragma once

// The one decoder of a stored event row, shared by the SQL backends (SQLite, PostgreSQL):
// which column holds which field of an `event_view`, and what each column must hold. A
// backend selects the columns in `event_column` order and hands its row through an accessor;
// a row that breaks a rule is `corrupted`, naming its global position and the column.
// (The memory backend stores `event_record`s: its rows are read with `event_view::of`.)

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "strata/domain/kernel/result.hpp"
#include "strata/domain/kernel/time.hpp"
#include "strata/persistence/journal.hpp"

namespace strata::persistence::detail {

/// The columns of a stored event, in the order every SQL backend selects them.
enum event_column : int {
  column_position,        ///< integer >= 1
  column_version,         ///< integer >= 1
  column_event_id,        ///< text
  column_event_type,      ///< text
  column_schema_version,  ///< integer, 0 .. 2^32 - 1
  column_time_us,         ///< integer, microseconds since the Unix epoch (UTC)
  column_user_id,         ///< text
  column_command_id,      ///< text
  column_correlation_id,  ///< text
  column_causation_id,    ///< text
  column_data,            ///< text (JSON, exactly as appended)
  column_hash,            ///< text
  event_column_count,     ///< The first column after the event's own (a backend's extras).
};

/// Decodes the event row `row` into `v`. `Row` is a backend's accessor of its current row:
///
///   std::optional<std::int64_t> integer(int column) const;  // nullopt: NULL or not an integer
///   std::optional<std::string_view> text(int column) const;  // nullopt: NULL or not text
///
/// The views in `v` point where `row`'s texts point (the backend's row buffers). Errors:
/// `corrupted` naming the global position and the column that breaks its rule.
template <class Row>
result<void> decode_event_row(const Row& row, event_view& v) {
  const std::optional<std::int64_t> position = row.integer(column_position);
  if (!position || *position < 1)
    return error{errc::corrupted, "event row without a positive integer global position"};
  v.position = global_position{static_cast<std::uint64_t>(*position)};
  auto bad = [&](const char* column, const char* expected) {
    return error{errc::corrupted, "event at global position " + std::to_string(*position) +
                                      ": column " + column + " is not " + expected};
  };
  auto text = [&](int column, std::string_view& out) {
    auto t = row.text(column);
    if (!t) return false;
    out = *t;
    return true;
  };
  const std::optional<std::int64_t> at = row.integer(column_version);
  if (!at || *at < 1) return bad("version", "a positive integer");
  v.stream_version = version{static_cast<std::uint64_t>(*at)};
  if (!text(column_event_id, v.event_id)) return bad("event_id", "text");
  if (!text(column_event_type, v.event_type)) return bad("event_type", "text");
  const std::optional<std::int64_t> schema = row.integer(column_schema_version);
  if (!schema || *schema < 0 || *schema > std::numeric_limits<std::uint32_t>::max())
    return bad("schema_version", "a 32-bit unsigned integer");
  v.schema_version = static_cast<std::uint32_t>(*schema);
  const std::optional<std::int64_t> micros = row.integer(column_time_us);
  if (!micros) return bad("timestamp_us", "an integer");
  v.time = from_unix_micros(*micros);
  if (!text(column_user_id, v.user_id)) return bad("user_id", "text");
  if (!text(column_command_id, v.command_id)) return bad("command_id", "text");
  if (!text(column_correlation_id, v.correlation_id)) return bad("correlation_id", "text");
  if (!text(column_causation_id, v.causation_id)) return bad("causation_id", "text");
  if (!text(column_data, v.data)) return bad("data", "JSON text");
  if (!text(column_hash, v.hash)) return bad("hash", "text");
  return ok();
}

}  // namespace strata::persistence::detail
