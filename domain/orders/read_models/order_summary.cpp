// Tables of the order-summary read model:
//   order_summary(order_id TEXT PRIMARY KEY, customer_id TEXT, status TEXT, currency TEXT,
//     total_minor INTEGER, item_count INTEGER, last_position INTEGER) WITHOUT ROWID,
//     indexed by (customer_id, order_id) and (status, order_id);
//   order_summary_lines(order_id TEXT, sku TEXT, quantity INTEGER, unit_price_minor INTEGER,
//     PRIMARY KEY (order_id, sku)) WITHOUT ROWID.

#include "strata/domain/orders/read_models/order_summary.hpp"

#include <map>
#include <unordered_map>
#include <variant>

#include "strata/domain/kernel/arithmetic.hpp"

#include "strata/domain/kernel/visit.hpp"
#include "strata/domain/orders/order.hpp"

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

namespace {

// SQL of the per-record path; the batch path writes whole rows with these.
constexpr const char* find_sql =
    "SELECT order_id, customer_id, status, currency, total_minor, item_count, last_position "
    "FROM order_summary WHERE order_id = ?";
constexpr const char* put_line_sql =
    "INSERT OR REPLACE INTO order_summary_lines (order_id, sku, quantity, unit_price_minor) "
    "VALUES (?, ?, ?, ?)";
constexpr const char* set_quantity_sql =
    "UPDATE order_summary_lines SET quantity = ? WHERE order_id = ? AND sku = ?";
constexpr const char* set_totals_sql =
    "UPDATE order_summary SET total_minor = ?, item_count = ?, last_position = ? WHERE order_id "
    "= ?";
constexpr const char* delete_line_sql =
    "DELETE FROM order_summary_lines WHERE order_id = ? AND sku = ?";
constexpr const char* put_order_sql =
    "INSERT OR REPLACE INTO order_summary (order_id, customer_id, status, currency, total_minor, "
    "item_count, last_position) VALUES (?, ?, ?, ?, ?, ?, ?)";

/// A case the fold does not reproduce exactly (SQLite turns an overflowing integer into a
/// REAL): the runner then applies the batch record by record.
error not_folded(const std::string& what) {
  return error{errc::invalid_argument, "order_summary batch fold: " + what};
}

struct folded_line {
  std::int64_t quantity = 0;
  std::int64_t unit_price_minor = 0;
  bool present = false;  ///< False once deleted (or never stored).
  bool dirty = false;    ///< To be written (or deleted) at the end of the batch.
  bool stored = false;   ///< Stored with this price when the batch began, and still present.
};

/// One order as the batch sees it: its row (when it exists) and its lines.
struct folded_order {
  bool exists = false;
  bool dirty = false;
  bool stored = false;   ///< The row was stored when the batch began.
  bool indexed = false;  ///< Customer, status or currency changed: write the whole row.
  order_summary row;
  std::map<std::string, folded_line, std::less<>> lines;

  // The per-record `recount`: totals from the lines, on the row when there is one.
  result<void> recount(std::int64_t at) {
    if (!exists) return ok();
    std::int64_t total = 0;
    std::int64_t units = 0;
    for (const auto& [sku, l] : lines) {
      if (!l.present) continue;
      auto value = checked_mul(l.quantity, l.unit_price_minor);
      auto t = value ? checked_add(total, *value) : std::nullopt;
      auto u = checked_add(units, l.quantity);
      if (!t || !u) return not_folded("totals of order " + row.order_id + " overflow");
      total = *t;
      units = *u;
    }
    row.total_minor = total;
    row.item_count = units;
    row.last_position = static_cast<std::uint64_t>(at);
    dirty = true;
    return ok();
  }
};

bool is_int(const sql_value& v) {
  return std::holds_alternative<std::int64_t>(v);
}

result<folded_order> load_order(persistence::projection_transaction& tx, const std::string& id) {
  folded_order o;
  o.row.order_id = id;
  auto rows = tx.query(find_sql, {id});
  if (!rows) return std::move(rows).err();
  if (!rows->empty()) {
    const auto& r = rows->front();
    if (!is_int(r[4]) || !is_int(r[5]) || !is_int(r[6]))
      return not_folded("order " + id + " holds a non-integer total");
    o.exists = true;
    o.stored = true;
    o.row = from_row(r);
  }
  auto lines = tx.query(
      "SELECT sku, quantity, unit_price_minor FROM order_summary_lines WHERE order_id = ?", {id});
  if (!lines) return std::move(lines).err();
  for (const auto& l : *lines) {
    if (!is_int(l[1]) || !is_int(l[2]))
      return not_folded("a line of order " + id + " holds a non-integer");
    o.lines[persistence::as_text(l[0])] =
        folded_line{persistence::as_int(l[1]), persistence::as_int(l[2]), true, false, true};
  }
  return o;
}

// One event on the folded order, with the effect the per-record SQL has.
result<void> fold(folded_order& o, const orders::event& e, std::int64_t at) {
  auto set_status = [&](orders::status s) -> result<void> {
    if (!o.exists) return ok();
    o.row.status = std::string{status_name(s)};
    o.row.last_position = static_cast<std::uint64_t>(at);
    o.dirty = true;
    o.indexed = true;
    return ok();
  };
  return std::visit(
      overloaded{
          [&](const orders::placed& p) -> result<void> {
            std::int64_t units = 0;
            for (const auto& l : p.lines) {
              auto u = checked_add(units, l.quantity);
              if (!u) return not_folded("units of order " + o.row.order_id + " overflow");
              units = *u;
              o.lines[l.sku] = folded_line{l.quantity, l.unit_price.minor, true, true, false};
            }
            o.exists = true;
            o.dirty = true;
            o.indexed = true;
            o.row.customer_id = p.customer_id;
            o.row.status = "open";
            o.row.currency = p.currency;
            o.row.total_minor = p.total.minor;
            o.row.item_count = units;
            o.row.last_position = static_cast<std::uint64_t>(at);
            return ok();
          },
          [&](const orders::item_added& a) -> result<void> {
            auto it = o.lines.find(a.item.sku);
            if (it != o.lines.end() && it->second.present) {
              auto q = checked_add(it->second.quantity, a.item.quantity);
              if (!q) return not_folded("quantity of a line of " + o.row.order_id + " overflows");
              it->second.quantity = *q;
              it->second.dirty = true;
            } else {
              o.lines[a.item.sku] =
                  folded_line{a.item.quantity, a.item.unit_price.minor, true, true, false};
            }
            return o.recount(at);
          },
          [&](const orders::item_removed& x) -> result<void> {
            auto it = o.lines.find(x.sku);
            if (it != o.lines.end()) {
              it->second.present = false;
              it->second.dirty = true;
              it->second.stored = false;
            }
            return o.recount(at);
          },
          [&](const orders::confirmed&) { return set_status(orders::status::confirmed); },
          [&](const orders::marked_ready&) { return set_status(orders::status::ready_to_ship); },
          [&](const orders::cancelled&) { return set_status(orders::status::cancelled); },
          [&](const orders::shipped&) { return set_status(orders::status::shipped); },
      },
      e);
}

result<void> store_order(persistence::projection_transaction& tx, const folded_order& o) {
  const sql_value id{o.row.order_id};
  for (const auto& [sku, l] : o.lines) {
    if (!l.dirty) continue;
    // An UPDATE of a stored line or row leaves the keys and indexes alone.
    auto w = !l.present ? tx.execute(delete_line_sql, {id, sku})
             : l.stored ? tx.execute(set_quantity_sql, {l.quantity, id, sku})
                        : tx.execute(put_line_sql, {id, sku, l.quantity, l.unit_price_minor});
    if (!w) return w;
  }
  if (!o.exists || !o.dirty) return ok();
  if (o.stored && !o.indexed)
    return tx.execute(set_totals_sql, {o.row.total_minor, o.row.item_count,
                                       static_cast<std::int64_t>(o.row.last_position), id});
  return tx.execute(put_order_sql,
                    {id, o.row.customer_id, o.row.status, o.row.currency, o.row.total_minor,
                     o.row.item_count, static_cast<std::int64_t>(o.row.last_position)});
}

}  // namespace

result<void> order_summary_projection::apply_batch(
    persistence::projection_transaction& tx,
    const std::vector<const persistence::event_record*>& records) {
  std::unordered_map<std::string_view, folded_order> touched;
  std::vector<const folded_order*> in_order;  // first-touch order, so the writes are stable
  for (const auto* record : records) {
    auto events =
        orders::order::events().decode(record->event_type, record->schema_version, record->data);
    if (!events) return std::move(events).err();
    auto it = touched.find(record->aggregate_id);
    if (it == touched.end()) {
      auto loaded = load_order(tx, record->aggregate_id);
      if (!loaded) return std::move(loaded).err();
      it = touched.emplace(record->aggregate_id, std::move(*loaded)).first;
      in_order.push_back(&it->second);
    }
    const auto at = static_cast<std::int64_t>(record->position.value);
    for (const auto& e : *events)
      if (auto f = fold(it->second, e, at); !f) return f;
  }
  for (const auto* o : in_order)
    if (auto w = store_order(tx, *o); !w) return w;
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
