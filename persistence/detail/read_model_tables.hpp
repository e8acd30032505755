#pragma once

// The bookkeeping tables every SQL read-model store keeps beside the read models
// (projection_checkpoints, projection_dead_letters): their statements and row decoders, and the
// transaction methods written with them, so that each store implements only its connection.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "strata/persistence/projection_store.hpp"
#include "strata/persistence/sql_value.hpp"

namespace strata::persistence::detail {

/// The checkpoint of one projection (bound to `?`).
inline constexpr const char* checkpoint_sql =
    "SELECT position, last_event_us, journal_id FROM projection_checkpoints WHERE name = ?";

/// The checkpoint of `projection` from the rows of `checkpoint_sql` (position 0 when none).
/// Errors: `corrupted` for a stored position that is not one.
inline result<checkpoint> checkpoint_of(std::string_view projection,
                                        const std::vector<sql_row>& rows) {
  if (rows.empty()) return checkpoint{};
  const auto pos = as_int(rows[0][0], -1);
  if (pos < 0)
    return error{errc::corrupted,
                 "checkpoint of projection " + std::string{projection} + " is not a position"};
  return checkpoint{global_position{static_cast<std::uint64_t>(pos)},
                    from_unix_micros(as_int(rows[0][1])), as_text(rows[0][2])};
}

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

/// A read-model transaction whose checkpoint and dead-letter writes are statements of its own
/// `execute` (SQL that SQLite and PostgreSQL both take).
class table_transaction : public projection_transaction {
 public:
  result<void> save_checkpoint(std::string_view projection, const checkpoint& c) override {
    // An empty journal id keeps the stored one: the per-batch saves carry no string.
    return execute(
        "INSERT INTO projection_checkpoints (name, position, last_event_us, journal_id) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET position = excluded.position, "
        "last_event_us = excluded.last_event_us, journal_id = CASE WHEN excluded.journal_id = '' "
        "THEN projection_checkpoints.journal_id ELSE excluded.journal_id END",
        {std::string{projection}, static_cast<std::int64_t>(c.position.value),
         std::int64_t{to_unix_micros(c.last_event_time)}, c.journal_id});
  }
  result<void> advance_checkpoint(std::string_view projection, global_position expected,
                                  const checkpoint& c) override {
    // The guard is in the write: under PostgreSQL's READ COMMITTED, an UPDATE that waited for
    // another transaction's lock on the row sees that transaction's position, not the one
    // this transaction started from. RETURNING tells whether the row moved.
    const std::int64_t position = static_cast<std::int64_t>(c.position.value);
    const std::int64_t event_us = to_unix_micros(c.last_event_time);
    auto moved =
        expected.value == 0
            ? query(
                  "INSERT INTO projection_checkpoints (name, position, last_event_us, "
                  "journal_id) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET position = "
                  "excluded.position, last_event_us = excluded.last_event_us, journal_id = CASE "
                  "WHEN excluded.journal_id = '' THEN projection_checkpoints.journal_id ELSE "
                  "excluded.journal_id END WHERE projection_checkpoints.position = 0 "
                  "RETURNING position",
                  {std::string{projection}, position, event_us, c.journal_id})
            : query(
                  "UPDATE projection_checkpoints SET position = ?, last_event_us = ?, "
                  "journal_id = CASE WHEN ? = '' THEN journal_id ELSE ? END "
                  "WHERE name = ? AND position = ? RETURNING position",
                  {position, event_us, c.journal_id, c.journal_id, std::string{projection},
                   static_cast<std::int64_t>(expected.value)});
    if (!moved) return std::move(moved).err();
    if (moved->empty()) return checkpoint_moved(projection, expected);
    return ok();
  }
  result<void> park(const dead_letter& d) override {
    return execute(
        "INSERT INTO projection_dead_letters (projection, position, event_id, event_type, error, "
        "parked_us, attempts) VALUES (?, ?, ?, ?, ?, ?, 1) ON CONFLICT (projection, position) DO "
        "UPDATE SET error = excluded.error, parked_us = excluded.parked_us, "
        "attempts = projection_dead_letters.attempts + 1",
        {d.projection, static_cast<std::int64_t>(d.position.value), d.event_id, d.event_type,
         d.error, std::int64_t{to_unix_micros(d.parked_at)}});
  }
  result<void> unpark(std::string_view projection, global_position position) override {
    return execute("DELETE FROM projection_dead_letters WHERE projection = ? AND position = ?",
                   {std::string{projection}, static_cast<std::int64_t>(position.value)});
  }
  result<void> unpark_once(std::string_view projection, global_position position) override {
    auto removed = query(
        "DELETE FROM projection_dead_letters WHERE projection = ? AND position = ? "
        "RETURNING position",
        {std::string{projection}, static_cast<std::int64_t>(position.value)});
    if (!removed) return std::move(removed).err();
    if (removed->empty())
      return error{errc::conflict, "event @" + std::to_string(position.value) +
                                       " is not parked for projection " + std::string{projection} +
                                       " any more (retried elsewhere)"};
    return ok();
  }
  result<void> forget(std::string_view projection) override {
    if (auto r = execute("DELETE FROM projection_dead_letters WHERE projection = ?",
                         {std::string{projection}});
        !r)
      return r;
    return execute("DELETE FROM projection_checkpoints WHERE name = ?", {std::string{projection}});
  }
};

}  // namespace strata::persistence::detail
