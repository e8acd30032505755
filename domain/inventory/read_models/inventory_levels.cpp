// Table of the inventory-levels read model:
//   inventory_levels(sku TEXT PRIMARY KEY, on_hand INTEGER, reserved INTEGER) WITHOUT ROWID;
//   available is computed as on_hand - reserved when read.

#include "strata/domain/inventory/read_models/inventory_levels.hpp"

#include <variant>

#include "strata/domain/inventory/inventory_item.hpp"
#include "strata/domain/kernel/visit.hpp"

namespace strata::read_models {

namespace {

using persistence::sql_value;

// Adds the deltas to a SKU's row (creating it at zero); `set_on_hand` replaces on hand.
constexpr const char* add_sql =
    "INSERT INTO inventory_levels (sku, on_hand, reserved) VALUES (?1, ?2, ?3) ON CONFLICT (sku) "
    "DO UPDATE SET on_hand = on_hand + ?2, reserved = reserved + ?3";
constexpr const char* set_sql =
    "INSERT INTO inventory_levels (sku, on_hand, reserved) VALUES (?1, ?2, 0) ON CONFLICT (sku) "
    "DO UPDATE SET on_hand = ?2";

result<std::vector<inventory_level>> select(persistence::projection_store& store,
                                            std::string_view where, std::vector<sql_value> params) {
  auto rows = store.query(
      "SELECT sku, on_hand, reserved FROM inventory_levels " + std::string{where}, params);
  if (!rows) return std::move(rows).err();
  std::vector<inventory_level> out;
  for (const auto& r : *rows) {
    inventory_level l;
    l.sku = persistence::as_text(r[0]);
    l.on_hand = persistence::as_int(r[1]);
    l.reserved = persistence::as_int(r[2]);
    l.available = l.on_hand - l.reserved;
    out.push_back(std::move(l));
  }
  return out;
}

}  // namespace

std::vector<std::string> inventory_levels_projection::handles() const {
  return {"StockReceived", "StockReserved", "ReservationReleased", "ReservationCommitted",
          "StockAdjusted"};
}

result<void> inventory_levels_projection::setup(persistence::projection_transaction& tx) {
  return tx.execute(
      "CREATE TABLE IF NOT EXISTS inventory_levels (sku TEXT PRIMARY KEY, on_hand INTEGER NOT "
      "NULL, reserved INTEGER NOT NULL) WITHOUT ROWID");
}

result<void> inventory_levels_projection::drop(persistence::projection_transaction& tx) {
  return tx.execute("DROP TABLE IF EXISTS inventory_levels");
}

result<void> inventory_levels_projection::apply(persistence::projection_transaction& tx,
                                                const persistence::event_record& record) {
  auto events = inventory::inventory_item::events().decode(record.event_type, record.schema_version,
                                                           record.data);
  if (!events) return std::move(events).err();
  const sql_value sku{record.aggregate_id};
  auto add = [&](std::int64_t on_hand, std::int64_t reserved) {
    return tx.execute(add_sql, {sku, on_hand, reserved});
  };
  for (const auto& e : *events) {
    auto r =
        std::visit(overloaded{
                       [&](const inventory::received& x) { return add(x.quantity, 0); },
                       [&](const inventory::reserved& x) { return add(0, x.quantity); },
                       [&](const inventory::released& x) { return add(0, -x.quantity); },
                       [&](const inventory::committed& x) { return add(-x.quantity, -x.quantity); },
                       [&](const inventory::adjusted& x) {
                         return tx.execute(set_sql, {sku, std::int64_t{x.on_hand}});
                       },
                   },
                   e);
    if (!r) return r;
  }
  return ok();
}

result<std::optional<inventory_level>> find_level(persistence::projection_store& store,
                                                  std::string_view sku) {
  auto rows = select(store, "WHERE sku = ?", {std::string{sku}});
  if (!rows) return std::move(rows).err();
  if (rows->empty()) return std::optional<inventory_level>{};
  return std::optional<inventory_level>{std::move(rows->front())};
}

result<std::vector<inventory_level>> all_levels(persistence::projection_store& store) {
  return select(store, "ORDER BY sku", {});
}

}  // namespace strata::read_models
