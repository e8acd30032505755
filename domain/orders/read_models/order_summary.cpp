// Tables of the order-summary read model:
//   order_summary(order_id TEXT PRIMARY KEY, customer_id TEXT, status TEXT, currency TEXT,
//     total_minor INTEGER, item_count INTEGER, last_position INTEGER) WITHOUT ROWID,
//     indexed by (customer_id, order_id) and (status, order_id);
//   order_summary_lines(order_id TEXT, sku TEXT, quantity INTEGER, unit_price_minor INTEGER,
//     PRIMARY KEY (order_id, sku)) WITHOUT ROWID.
// The SQL is what SQLite and PostgreSQL share; the PostgreSQL store reads the DDL's INTEGER as
// BIGINT and drops WITHOUT ROWID (see docs/PROJECTIONS.md).

#include "strata/domain/orders/read_models/order_summary.hpp"

#include <map>
#include <unordered_map>
#include <variant>

#include "strata/domain/kernel/arithmetic.hpp"

#include "strata/domain/kernel/visit.hpp"
#include "strata/domain/orders/order.hpp"

namespace strata::read_models {

namespace {

constexpr const char* columns =
    "SELECT order_id, customer_id, status, currency, total_minor, item_count, last_position "
    "FROM order_summary ";

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

result<void> order_summary_projection::setup(read_model_tx& tx) {
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

result<void> order_summary_projection::drop(read_model_tx& tx) {
  if (auto r = tx.execute("DROP TABLE IF EXISTS order_summary"); !r) return r;
  return tx.execute("DROP TABLE IF EXISTS order_summary_lines");
}

namespace {

// SQL of the per-event handlers.
constexpr const char* set_status_sql =
    "UPDATE order_summary SET status = ?, last_position = ? WHERE order_id = ?";
// Totals and units come from the lines, so adding and removing lines keeps them exact.
constexpr const char* recount_sql =
    "UPDATE order_summary SET total_minor = (SELECT COALESCE(SUM(quantity * unit_price_minor), 0) "
    "FROM order_summary_lines WHERE order_id = ?1), item_count = (SELECT COALESCE(SUM(quantity), "
    "0) FROM order_summary_lines WHERE order_id = ?1), last_position = ?2 WHERE order_id = ?1";
constexpr const char* add_line_sql =
    "INSERT INTO order_summary_lines (order_id, sku, quantity, unit_price_minor) VALUES (?, ?, ?, "
    "?) ON CONFLICT (order_id, sku) DO UPDATE SET quantity = order_summary_lines.quantity + "
    "excluded.quantity";

// SQL of the batch fold, which writes whole rows; and of both, the line writes.
constexpr const char* put_line_sql =
    "INSERT INTO order_summary_lines (order_id, sku, quantity, unit_price_minor) VALUES (?, ?, "
    "?, ?) ON CONFLICT (order_id, sku) DO UPDATE SET quantity = excluded.quantity, "
    "unit_price_minor = excluded.unit_price_minor";
constexpr const char* set_quantity_sql =
    "UPDATE order_summary_lines SET quantity = ? WHERE order_id = ? AND sku = ?";
constexpr const char* set_totals_sql =
    "UPDATE order_summary SET total_minor = ?, item_count = ?, last_position = ? WHERE order_id "
    "= ?";
constexpr const char* delete_line_sql =
    "DELETE FROM order_summary_lines WHERE order_id = ? AND sku = ?";
// Writes the whole row, as INSERT OR REPLACE would (which PostgreSQL does not have).
constexpr const char* put_order_sql =
    "INSERT INTO order_summary (order_id, customer_id, status, currency, total_minor, "
    "item_count, last_position) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (order_id) DO UPDATE "
    "SET customer_id = excluded.customer_id, status = excluded.status, currency = "
    "excluded.currency, total_minor = excluded.total_minor, item_count = excluded.item_count, "
    "last_position = excluded.last_position";

/// A case the fold does not reproduce exactly (SQLite turns an overflowing integer into a
/// REAL): the runner then applies the batch event by event.
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

  // The handlers' recount: totals from the lines, on the row when there is one.
  result<void> recount(std::uint64_t at) {
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
    row.last_position = at;
    dirty = true;
    return ok();
  }
};

/// One stored line with its order, as the fold reads the lines of many orders at once.
struct stored_order_line {
  std::string order_id;
  std::string sku;
  std::int64_t quantity = 0;
  std::int64_t unit_price_minor = 0;
};
BOOST_DESCRIBE_STRUCT(stored_order_line, (), (order_id, sku, quantity, unit_price_minor))

/// Orders the fold reads with one query (a shorter list is padded with NULL, which matches no
/// order), so that a batch costs a few reads rather than two per order.
constexpr std::size_t orders_per_read = 64;

std::string in_list() {
  std::string out = "(?";
  for (std::size_t i = 1; i < orders_per_read; ++i) out += ", ?";
  return out + ")";
}

const std::string& find_many_sql() {
  static const std::string sql = std::string{columns} + "WHERE order_id IN " + in_list();
  return sql;
}

const std::string& find_many_lines_sql() {
  static const std::string sql =
      "SELECT order_id, sku, quantity, unit_price_minor FROM order_summary_lines WHERE order_id "
      "IN " +
      in_list();
  return sql;
}

// Reads the rows and lines of the orders `ids` (distinct) into `touched`, whose entries for
// them exist already, holding only their order id.
// A total stored as a REAL (after an overflow) does not read as an integer: the query's
// `corrupted` error hands the batch back to the handlers, which reproduce it exactly.
result<void> load_orders(read_model_tx& tx, const std::vector<std::string_view>& ids,
                         std::unordered_map<std::string_view, folded_order>& touched) {
  std::vector<persistence::sql_value> params;
  for (std::size_t first = 0; first < ids.size(); first += orders_per_read) {
    params.assign(orders_per_read, nullptr);
    for (std::size_t k = first; k < ids.size() && k < first + orders_per_read; ++k)
      params[k - first] = std::string{ids[k]};
    auto rows = detail::read_rows<order_summary>(tx.transaction().query(find_many_sql(), params));
    if (!rows) return std::move(rows).err();
    for (auto& row : *rows) {
      auto it = touched.find(row.order_id);
      if (it == touched.end()) continue;  // not asked for
      it->second.exists = true;
      it->second.stored = true;
      it->second.row = std::move(row);
    }
    auto lines =
        detail::read_rows<stored_order_line>(tx.transaction().query(find_many_lines_sql(), params));
    if (!lines) return std::move(lines).err();
    for (auto& l : *lines) {
      auto it = touched.find(l.order_id);
      if (it == touched.end()) continue;
      it->second.lines[std::move(l.sku)] =
          folded_line{l.quantity, l.unit_price_minor, true, false, true};
    }
  }
  return ok();
}

// One event on the folded order, with the effect the handlers' SQL has.
result<void> fold(folded_order& o, const orders::event& e, std::uint64_t at) {
  auto set_status = [&](orders::status s) -> result<void> {
    if (!o.exists) return ok();
    o.row.status = std::string{status_name(s)};
    o.row.last_position = at;
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
            o.row.last_position = at;
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

// The lines of one order, then (store_row) its row: the fold writes the lines of every order
// before the rows, so that a database server receives runs of like statements.
result<void> store_lines(read_model_tx& tx, const folded_order& o) {
  const std::string& id = o.row.order_id;
  for (const auto& [sku, l] : o.lines) {
    if (!l.dirty) continue;
    // An UPDATE of a stored line or row leaves the keys and indexes alone.
    auto w = !l.present ? tx.execute(delete_line_sql, id, sku)
             : l.stored ? tx.execute(set_quantity_sql, l.quantity, id, sku)
                        : tx.execute(put_line_sql, id, sku, l.quantity, l.unit_price_minor);
    if (!w) return w;
  }
  return ok();
}

result<void> store_row(read_model_tx& tx, const folded_order& o) {
  const std::string& id = o.row.order_id;
  if (!o.exists || !o.dirty) return ok();
  if (o.stored && !o.indexed)
    return tx.execute(set_totals_sql, o.row.total_minor, o.row.item_count, o.row.last_position, id);
  return tx.execute(put_order_sql, id, o.row.customer_id, o.row.status, o.row.currency,
                    o.row.total_minor, o.row.item_count, o.row.last_position);
}

result<void> fold_batch(read_model_tx& tx, const std::vector<recorded<orders::order>>& batch) {
  std::unordered_map<std::string_view, folded_order> touched;
  std::vector<const folded_order*> in_order;  // first-touch order, so the writes are stable
  std::vector<std::string_view> ids;
  for (const auto& r : batch) {
    auto [it, added] = touched.try_emplace(r.info.aggregate_id);
    if (!added) continue;
    it->second.row.order_id = r.info.aggregate_id;
    in_order.push_back(&it->second);
    ids.push_back(r.info.aggregate_id);
  }
  if (auto loaded = load_orders(tx, ids, touched); !loaded) return loaded;
  for (const auto& r : batch)
    if (auto f = fold(touched.find(r.info.aggregate_id)->second, r.event, r.info.position.value);
        !f)
      return f;
  for (const auto* o : in_order)
    if (auto w = store_lines(tx, *o); !w) return w;
  for (const auto* o : in_order)
    if (auto w = store_row(tx, *o); !w) return w;
  return ok();
}

result<void> set_status(read_model_tx& tx, const event_info& info, orders::status s) {
  return tx.execute(set_status_sql, status_name(s), info.position, info.aggregate_id);
}

result<void> recount(read_model_tx& tx, const event_info& info) {
  return tx.execute(recount_sql, info.aggregate_id, info.position);
}

}  // namespace

order_summary_projection::order_summary_projection() : projection(std::string{projection_name}) {
  on<orders::placed>([](read_model_tx& tx, const orders::placed& p,
                        const event_info& info) -> result<void> {
    std::int64_t units = 0;
    for (const auto& l : p.lines) {
      units += l.quantity;
      if (auto w =
              tx.execute(put_line_sql, info.aggregate_id, l.sku, l.quantity, l.unit_price.minor);
          !w)
        return w;
    }
    return tx.execute(put_order_sql, info.aggregate_id, p.customer_id,
                      status_name(orders::status::open), p.currency, p.total.minor, units,
                      info.position);
  });
  on<orders::item_added>(
      [](read_model_tx& tx, const orders::item_added& a, const event_info& info) -> result<void> {
        if (auto w = tx.execute(add_line_sql, info.aggregate_id, a.item.sku, a.item.quantity,
                                a.item.unit_price.minor);
            !w)
          return w;
        return recount(tx, info);
      });
  on<orders::item_removed>(
      [](read_model_tx& tx, const orders::item_removed& x, const event_info& info) -> result<void> {
        if (auto w = tx.execute(delete_line_sql, info.aggregate_id, x.sku); !w) return w;
        return recount(tx, info);
      });
  on<orders::confirmed>([](read_model_tx& tx, const orders::confirmed&, const event_info& info) {
    return set_status(tx, info, orders::status::confirmed);
  });
  on<orders::marked_ready>(
      [](read_model_tx& tx, const orders::marked_ready&, const event_info& info) {
        return set_status(tx, info, orders::status::ready_to_ship);
      });
  on<orders::cancelled>([](read_model_tx& tx, const orders::cancelled&, const event_info& info) {
    return set_status(tx, info, orders::status::cancelled);
  });
  on<orders::shipped>([](read_model_tx& tx, const orders::shipped&, const event_info& info) {
    return set_status(tx, info, orders::status::shipped);
  });
  fold_batches<orders::order>(&fold_batch);
}

result<std::optional<order_summary>> find_order(read_model_reader& store,
                                                std::string_view order_id) {
  return store.query_one<order_summary>(std::string{columns} + "WHERE order_id = ?", order_id);
}

result<std::vector<order_summary>> orders_by_customer(read_model_reader& store,
                                                      std::string_view customer_id) {
  return store.query<order_summary>(
      std::string{columns} + "WHERE customer_id = ? ORDER BY order_id", customer_id);
}

result<std::vector<order_summary>> orders_by_status(read_model_reader& store,
                                                    std::string_view status) {
  return store.query<order_summary>(std::string{columns} + "WHERE status = ? ORDER BY order_id",
                                    status);
}

result<std::vector<order_summary>> all_orders(read_model_reader& store) {
  return store.query<order_summary>(std::string{columns} + "ORDER BY order_id");
}

}  // namespace strata::read_models
