// Table of the user-activity read model:
//   user_activity_daily(user_id TEXT, day TEXT ("YYYY-MM-DD", UTC), actions INTEGER,
//     orders_placed INTEGER, searches INTEGER, PRIMARY KEY (user_id, day)) WITHOUT ROWID.
// The SQL is what SQLite and PostgreSQL share; the PostgreSQL store reads the DDL's INTEGER as
// BIGINT and drops WITHOUT ROWID (see docs/PROJECTIONS.md).

#include "strata/domain/users/read_models/user_activity_daily.hpp"

#include "strata/domain/kernel/time.hpp"
#include "strata/domain/users/user_activity.hpp"

namespace strata::read_models {

namespace {

constexpr const char* count_sql =
    "INSERT INTO user_activity_daily (user_id, day, actions, orders_placed, searches) VALUES (?1, "
    "?2, 1, ?3, ?4) ON CONFLICT (user_id, day) DO UPDATE SET actions = "
    "user_activity_daily.actions + 1, orders_placed = user_activity_daily.orders_placed + ?3, "
    "searches = user_activity_daily.searches + ?4";

}  // namespace

user_activity_daily_projection::user_activity_daily_projection()
    : projection(std::string{projection_name}) {
  on<users::action_recorded>([](read_model_tx& tx, const users::action_recorded& a,
                                const event_info& info) -> result<void> {
    // The action's own time decides the day; ISO 8601 starts with the UTC date.
    const std::string day = to_iso8601(from_unix_micros(a.occurred_at_us)).substr(0, 10);
    return tx.execute(count_sql, info.aggregate_id, day, a.kind == users::action_kind::placed_order,
                      a.kind == users::action_kind::searched);
  });
}

result<void> user_activity_daily_projection::setup(read_model_tx& tx) {
  return tx.execute(
      "CREATE TABLE IF NOT EXISTS user_activity_daily (user_id TEXT NOT NULL, day TEXT NOT NULL, "
      "actions INTEGER NOT NULL, orders_placed INTEGER NOT NULL, searches INTEGER NOT NULL, "
      "PRIMARY KEY (user_id, day)) WITHOUT ROWID");
}

result<void> user_activity_daily_projection::drop(read_model_tx& tx) {
  return tx.execute("DROP TABLE IF EXISTS user_activity_daily");
}

result<std::vector<daily_activity>> activity_of(read_model_reader& store,
                                                std::string_view user_id) {
  return store.query<daily_activity>(
      "SELECT user_id, day, actions, orders_placed, searches FROM user_activity_daily WHERE "
      "user_id = ? ORDER BY day",
      user_id);
}

}  // namespace strata::read_models
