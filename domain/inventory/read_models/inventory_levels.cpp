// Table of the inventory-levels read model:
//   inventory_levels(sku TEXT PRIMARY KEY, on_hand INTEGER, reserved INTEGER) WITHOUT ROWID;
//   available is computed as on_hand - reserved when read.

#include "strata/domain/inventory/read_models/inventory_levels.hpp"

#include "strata/domain/inventory/inventory_item.hpp"

namespace strata::read_models {

namespace {

// Adds the deltas to a SKU's row (creating it at zero); `set_on_hand` replaces on hand.
constexpr const char* add_sql =
    "INSERT INTO inventory_levels (sku, on_hand, reserved) VALUES (?1, ?2, ?3) ON CONFLICT (sku) "
    "DO UPDATE SET on_hand = inventory_levels.on_hand + ?2, reserved = inventory_levels.reserved "
    "+ ?3";
constexpr const char* set_sql =
    "INSERT INTO inventory_levels (sku, on_hand, reserved) VALUES (?1, ?2, 0) ON CONFLICT (sku) "
    "DO UPDATE SET on_hand = ?2";
constexpr const char* columns =
    "SELECT sku, on_hand, reserved, on_hand - reserved FROM inventory_levels ";

result<void> add(read_model_tx& tx, const event_info& info, std::int64_t on_hand,
                 std::int64_t reserved) {
  return tx.execute(add_sql, info.aggregate_id, on_hand, reserved);
}

}  // namespace

inventory_levels_projection::inventory_levels_projection()
    : projection(std::string{projection_name}) {
  on<inventory::received>([](read_model_tx& tx, const inventory::received& x,
                             const event_info& info) { return add(tx, info, x.quantity, 0); });
  on<inventory::reserved>([](read_model_tx& tx, const inventory::reserved& x,
                             const event_info& info) { return add(tx, info, 0, x.quantity); });
  on<inventory::released>([](read_model_tx& tx, const inventory::released& x,
                             const event_info& info) { return add(tx, info, 0, -x.quantity); });
  on<inventory::committed>(
      [](read_model_tx& tx, const inventory::committed& x, const event_info& info) {
        return add(tx, info, -x.quantity, -x.quantity);
      });
  on<inventory::adjusted>(
      [](read_model_tx& tx, const inventory::adjusted& x, const event_info& info) {
        return tx.execute(set_sql, info.aggregate_id, x.on_hand);
      });
}

result<void> inventory_levels_projection::setup(read_model_tx& tx) {
  return tx.execute(
      "CREATE TABLE IF NOT EXISTS inventory_levels (sku TEXT PRIMARY KEY, on_hand INTEGER NOT "
      "NULL, reserved INTEGER NOT NULL) WITHOUT ROWID");
}

result<void> inventory_levels_projection::drop(read_model_tx& tx) {
  return tx.execute("DROP TABLE IF EXISTS inventory_levels");
}

result<std::optional<inventory_level>> find_level(read_model_reader& store, std::string_view sku) {
  return store.query_one<inventory_level>(std::string{columns} + "WHERE sku = ?", sku);
}

result<std::vector<inventory_level>> all_levels(read_model_reader& store) {
  return store.query<inventory_level>(std::string{columns} + "ORDER BY sku");
}

}  // namespace strata::read_models
