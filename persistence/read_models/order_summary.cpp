// Tables of the order-summary read model:
//   order_summary(order_id TEXT PRIMARY KEY, customer_id TEXT, status TEXT, currency TEXT,
//     total_minor INTEGER, item_count INTEGER, last_position INTEGER) WITHOUT ROWID,
//     indexed by (customer_id, order_id) and (status, order_id);
//   order_summary_lines(order_id TEXT, sku TEXT, quantity INTEGER, unit_price_minor INTEGER,
//     PRIMARY KEY (order_id, sku)) WITHOUT ROWID.

#include "persistence/read_models/order_summary.hpp"

#include <variant>

#include "domain/kernel/visit.hpp"
#include "domain/orders/order.hpp"

namespace strata::read_models {

namespace {

using persistence::sql_value;

constexpr const char* columns =
    "SELECT order_id, customer_id, status, currency, total_minor, item_count, last_position "
    "FROM order_summary ";

order_summary from_row(const persistence::sql_row& r) {
  order_summary s;
  s.order_id = persistence::as_text(r[0]);
  s.customer_id = persistence::as_text(r[1]);
  s.status = persistence::as_text(r[2]);
  s.currency = persistence::as_text(r[3]);
  s.total_minor = persistence::as_int(r[4]);
  s.item_count = persistence::as_int(r[5]);
  s.last_position = static_cast<std::uint64_t>(persistence::as_int(r[6]));
  return s;
}

result<std::vector<order_summary>> select(persistence::projection_store& store,
                                          std::string_view where, std::vector<sql_value> params) {
  auto rows = store.query(std::string{columns} + std::string{where}, params);
  if (!rows) return std::move(rows).err();
  std::vector<order_summary> out;
  out.reserve(rows->size());
  for (const auto& r : *rows) out.push_back(from_row(r));
  return out;
}

std::string_view status_name(orders::status s) {
  switch (s) {
    case orders::status::open:
      return "open";
    case orders::status::confirmed:
      return "confirmed";
    case orders::status::ready_to_ship:
      return "ready_to_ship";
    case orders::status::shipped:
      return "shipped";
    case orders::status::cancelled:
      return "cancelled";
    case orders::status::none:
      break;
  }
  return "none";
}

}  // namespace

std::string to_string(const order_summary& s) {
  return s.order_id + " " + s.customer_id + " " + s.status + " " + std::to_string(s.item_count) +
         "x " + std::to_string(s.total_minor) + " " + s.currency;
}

std::vector<std::string> order_summary_projection::handles() const {
  return {"OrderPlaced",      "ItemAdded",      "ItemRemoved", "OrderConfirmed",
          "OrderMarkedReady", "OrderCancelled", "OrderShipped"};
}

result<void> order_summary_projection::setup(persistence::projection_transaction& tx) {
  for (const char* sql : {
           "CREATE TABLE IF NOT EXISTS order_summary (order_id TEXT PRIMARY KEY, customer_id "
           "TEXT NOT NULL, status TEXT NOT NULL, currency TEXT NOT NULL, total_minor INTEGER NOT "
           "NULL, item_count INTEGER NOT NULL, last_position INTEGER NOT NULL) WITHOUT ROWID",
           "CREATE INDEX IF NOT EXISTS order_summary_by_customer ON order_summary (customer_id, "
           "order_id)",
           "CREATE INDEX IF NOT EXISTS order_summary_by_status ON order_summary (status, order_id)",
           "CREATE TABLE IF NOT EXISTS order_summary_lines (order_id TEXT NOT NULL, sku TEXT NOT "
           "NULL, quantity INTEGER NOT NULL, unit_price_minor INTEGER NOT NULL, PRIMARY KEY "
           "(order_id, sku)) WITHOUT ROWID",
       }) {
    if (auto r = tx.execute(sql); !r) return r;
  }
  return ok();
}

result<void> order_summary_projection::drop(persistence::projection_transaction& tx) {
  if (auto r = tx.execute("DROP TABLE IF EXISTS order_summary"); !r) return r;
  return tx.execute("DROP TABLE IF EXISTS order_summary_lines");
}

result<void> order_summary_projection::apply(persistence::projection_transaction& tx,
                                             const persistence::event_record& record) {
  auto events =
      orders::order::events().decode(record.event_type, record.schema_version, record.data);
  if (!events) return std::move(events).err();
  const sql_value id{record.aggregate_id};
  const sql_value at{static_cast<std::int64_t>(record.position.value)};
  auto set_status = [&](orders::status s) {
    return tx.execute("UPDATE order_summary SET status = ?, last_position = ? WHERE order_id = ?",
                      {std::string{status_name(s)}, at, id});
  };
  // Totals and units come from the lines, so adding and removing lines keeps them exact.
  auto recount = [&]() {
    return tx.execute(
        "UPDATE order_summary SET total_minor = (SELECT COALESCE(SUM(quantity * "
        "unit_price_minor), 0) FROM order_summary_lines WHERE order_id = ?1), item_count = "
        "(SELECT COALESCE(SUM(quantity), 0) FROM order_summary_lines WHERE order_id = ?1), "
        "last_position = ?2 WHERE order_id = ?1",
        {id, at});
  };
  for (const auto& e : *events) {
    auto r = std::visit(
        overloaded{
            [&](const orders::placed& p) -> result<void> {
              std::int64_t units = 0;
              for (const auto& l : p.lines) {
                units += l.quantity;
                if (auto w = tx.execute(
                        "INSERT OR REPLACE INTO order_summary_lines (order_id, sku, quantity, "
                        "unit_price_minor) VALUES (?, ?, ?, ?)",
                        {id, l.sku, std::int64_t{l.quantity}, std::int64_t{l.unit_price.minor}});
                    !w)
                  return w;
              }
              return tx.execute(
                  "INSERT OR REPLACE INTO order_summary (order_id, customer_id, status, currency, "
                  "total_minor, item_count, last_position) VALUES (?, ?, 'open', ?, ?, ?, ?)",
                  {id, p.customer_id, p.currency, std::int64_t{p.total.minor}, units, at});
            },
            [&](const orders::item_added& a) -> result<void> {
              if (auto w = tx.execute(
                      "INSERT INTO order_summary_lines (order_id, sku, quantity, unit_price_minor) "
                      "VALUES (?, ?, ?, ?) ON CONFLICT (order_id, sku) DO UPDATE SET quantity = "
                      "quantity + excluded.quantity",
                      {id, a.item.sku, std::int64_t{a.item.quantity},
                       std::int64_t{a.item.unit_price.minor}});
                  !w)
                return w;
              return recount();
            },
            [&](const orders::item_removed& x) -> result<void> {
              if (auto w =
                      tx.execute("DELETE FROM order_summary_lines WHERE order_id = ? AND sku = ?",
                                 {id, x.sku});
                  !w)
                return w;
              return recount();
            },
            [&](const orders::confirmed&) { return set_status(orders::status::confirmed); },
            [&](const orders::marked_ready&) { return set_status(orders::status::ready_to_ship); },
            [&](const orders::cancelled&) { return set_status(orders::status::cancelled); },
            [&](const orders::shipped&) { return set_status(orders::status::shipped); },
        },
        e);
    if (!r) return r;
  }
  return ok();
}

result<std::optional<order_summary>> find_order(persistence::projection_store& store,
                                                std::string_view order_id) {
  auto rows = select(store, "WHERE order_id = ?", {std::string{order_id}});
  if (!rows) return std::move(rows).err();
  if (rows->empty()) return std::optional<order_summary>{};
  return std::optional<order_summary>{std::move(rows->front())};
}

result<std::vector<order_summary>> orders_by_customer(persistence::projection_store& store,
                                                      std::string_view customer_id) {
  return select(store, "WHERE customer_id = ? ORDER BY order_id", {std::string{customer_id}});
}

result<std::vector<order_summary>> orders_by_status(persistence::projection_store& store,
                                                    std::string_view status) {
  return select(store, "WHERE status = ? ORDER BY order_id", {std::string{status}});
}

result<std::vector<order_summary>> all_orders(persistence::projection_store& store) {
  return select(store, "ORDER BY order_id", {});
}

}  // namespace strata::read_models
