// Table of the user-activity read model:
//   user_activity_daily(user_id TEXT, day TEXT ("YYYY-MM-DD", UTC), actions INTEGER,
//     orders_placed INTEGER, searches INTEGER, PRIMARY KEY (user_id, day)) WITHOUT ROWID.

#include "strata/domain/users/read_models/user_activity_daily.hpp"

#include "strata/domain/kernel/time.hpp"
#include "strata/domain/users/user_activity.hpp"

namespace strata::read_models {

std::vector<std::string> user_activity_daily_projection::handles() const {
  return {"UserActionRecorded"};
}

result<void> user_activity_daily_projection::setup(persistence::projection_transaction& tx) {
  return tx.execute(
      "CREATE TABLE IF NOT EXISTS user_activity_daily (user_id TEXT NOT NULL, day TEXT NOT NULL, "
      "actions INTEGER NOT NULL, orders_placed INTEGER NOT NULL, searches INTEGER NOT NULL, "
      "PRIMARY KEY (user_id, day)) WITHOUT ROWID");
}

result<void> user_activity_daily_projection::drop(persistence::projection_transaction& tx) {
  return tx.execute("DROP TABLE IF EXISTS user_activity_daily");
}

result<void> user_activity_daily_projection::apply(persistence::projection_transaction& tx,
                                                   const persistence::event_record& record) {
  auto events =
      users::user_activity::events().decode(record.event_type, record.schema_version, record.data);
  if (!events) return std::move(events).err();
  for (const auto& e : *events) {
    const auto& a = std::get<users::action_recorded>(e);
    // The action's own time decides the day; ISO 8601 starts with the UTC date.
    const std::string day = to_iso8601(from_unix_micros(a.occurred_at_us)).substr(0, 10);
    const std::int64_t placed = a.kind == users::action_kind::placed_order ? 1 : 0;
    const std::int64_t searched = a.kind == users::action_kind::searched ? 1 : 0;
    if (auto r = tx.execute(
            "INSERT INTO user_activity_daily (user_id, day, actions, orders_placed, searches) "
            "VALUES (?1, ?2, 1, ?3, ?4) ON CONFLICT (user_id, day) DO UPDATE SET actions = "
            "actions + 1, orders_placed = orders_placed + ?3, searches = searches + ?4",
            {record.aggregate_id, day, placed, searched});
        !r)
      return r;
  }
  return ok();
}

result<std::vector<daily_activity>> activity_of(persistence::projection_store& store,
                                                std::string_view user_id) {
  auto rows = store.query(
      "SELECT user_id, day, actions, orders_placed, searches FROM user_activity_daily WHERE "
      "user_id = ? ORDER BY day",
      {std::string{user_id}});
  if (!rows) return std::move(rows).err();
  std::vector<daily_activity> out;
  for (const auto& r : *rows) {
    daily_activity d;
    d.user_id = persistence::as_text(r[0]);
    d.day = persistence::as_text(r[1]);
    d.actions = persistence::as_int(r[2]);
    d.orders_placed = persistence::as_int(r[3]);
    d.searches = persistence::as_int(r[4]);
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace strata::read_models
