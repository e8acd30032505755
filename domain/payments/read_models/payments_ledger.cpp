// Tables of the payments-ledger read model:
//   payments_ledger(position INTEGER PRIMARY KEY, payment_id TEXT, kind TEXT,
//     amount_minor INTEGER, currency TEXT, reference TEXT), indexed by (payment_id, position);
//   payment_balances(payment_id TEXT PRIMARY KEY, order_id TEXT, currency TEXT,
//     authorized_minor INTEGER, captured_minor INTEGER, refunded_minor INTEGER, status TEXT)
//     WITHOUT ROWID.
// The SQL is what SQLite and PostgreSQL share; the PostgreSQL store reads the DDL's INTEGER as
// BIGINT and drops WITHOUT ROWID (see docs/PROJECTIONS.md).

#include "strata/domain/payments/read_models/payments_ledger.hpp"

#include "strata/domain/payments/payment.hpp"

namespace strata::read_models {

namespace {

// The currency of an entry without one is its payment's.
constexpr const char* entry_sql =
    "INSERT INTO payments_ledger (position, payment_id, kind, amount_minor, currency, "
    "reference) VALUES (?, ?, ?, ?, COALESCE(NULLIF(?, ''), (SELECT currency FROM "
    "payment_balances WHERE payment_id = ?), ''), ?) ON CONFLICT (position) DO UPDATE SET "
    "payment_id = excluded.payment_id, kind = excluded.kind, amount_minor = "
    "excluded.amount_minor, currency = excluded.currency, reference = excluded.reference";
constexpr const char* bump_sql =
    "UPDATE payment_balances SET captured_minor = captured_minor + ?, refunded_minor = "
    "refunded_minor + ?, status = ? WHERE payment_id = ?";
constexpr const char* authorize_sql =
    "INSERT INTO payment_balances (payment_id, order_id, currency, authorized_minor, "
    "captured_minor, refunded_minor, status) VALUES (?, ?, ?, ?, 0, 0, 'authorized') ON "
    "CONFLICT (payment_id) DO UPDATE SET order_id = excluded.order_id, currency = "
    "excluded.currency, authorized_minor = excluded.authorized_minor, captured_minor = 0, "
    "refunded_minor = 0, status = excluded.status";

result<void> entry(read_model_tx& tx, const event_info& info, std::string_view kind,
                   std::int64_t amount, std::string_view currency, std::string_view reference) {
  return tx.execute(entry_sql, info.position, info.aggregate_id, kind, amount, currency,
                    info.aggregate_id, reference);
}

/// Records an entry of `kind` and adds to the payment's balance.
result<void> move(read_model_tx& tx, const event_info& info, std::string_view kind,
                  std::int64_t amount, std::string_view currency, std::string_view reference,
                  std::int64_t captured, std::int64_t refunded) {
  if (auto w = entry(tx, info, kind, amount, currency, reference); !w) return w;
  return tx.execute(bump_sql, captured, refunded, kind, info.aggregate_id);
}

}  // namespace

payments_ledger_projection::payments_ledger_projection()
    : projection(std::string{projection_name}) {
  on<payments::authorized>(
      [](read_model_tx& tx, const payments::authorized& x, const event_info& info) -> result<void> {
        if (auto w = tx.execute(authorize_sql, info.aggregate_id, x.order_id, x.amount.currency,
                                x.amount.minor);
            !w)
          return w;
        return entry(tx, info, "authorized", x.amount.minor, x.amount.currency, x.method);
      });
  on<payments::captured>(
      [](read_model_tx& tx, const payments::captured& x, const event_info& info) {
        return move(tx, info, "captured", x.amount.minor, x.amount.currency, x.capture_id,
                    x.amount.minor, 0);
      });
  on<payments::refunded>(
      [](read_model_tx& tx, const payments::refunded& x, const event_info& info) {
        return move(tx, info, "refunded", x.amount.minor, x.amount.currency, x.refund_id, 0,
                    x.amount.minor);
      });
  on<payments::voided>([](read_model_tx& tx, const payments::voided&, const event_info& info) {
    return move(tx, info, "voided", 0, "", "", 0, 0);
  });
  on<payments::failed>([](read_model_tx& tx, const payments::failed& x, const event_info& info) {
    return move(tx, info, "failed", 0, "", x.reason, 0, 0);
  });
}

result<void> payments_ledger_projection::setup(read_model_tx& tx) {
  for (const char* sql : {
           "CREATE TABLE IF NOT EXISTS payments_ledger (position INTEGER PRIMARY KEY, payment_id "
           "TEXT NOT NULL, kind TEXT NOT NULL, amount_minor INTEGER NOT NULL, currency TEXT NOT "
           "NULL, reference TEXT NOT NULL)",
           "CREATE INDEX IF NOT EXISTS payments_ledger_by_payment ON payments_ledger "
           "(payment_id, position)",
           "CREATE TABLE IF NOT EXISTS payment_balances (payment_id TEXT PRIMARY KEY, order_id "
           "TEXT NOT NULL, currency TEXT NOT NULL, authorized_minor INTEGER NOT NULL, "
           "captured_minor INTEGER NOT NULL, refunded_minor INTEGER NOT NULL, status TEXT NOT "
           "NULL) WITHOUT ROWID",
       }) {
    if (auto r = tx.execute(sql); !r) return r;
  }
  return ok();
}

result<void> payments_ledger_projection::drop(read_model_tx& tx) {
  if (auto r = tx.execute("DROP TABLE IF EXISTS payments_ledger"); !r) return r;
  return tx.execute("DROP TABLE IF EXISTS payment_balances");
}

result<std::vector<ledger_entry>> ledger_of(read_model_reader& store, std::string_view payment_id) {
  return store.query<ledger_entry>(
      "SELECT position, payment_id, kind, amount_minor, currency, reference FROM payments_ledger "
      "WHERE payment_id = ? ORDER BY position",
      payment_id);
}

result<std::optional<payment_balance>> balance_of(read_model_reader& store,
                                                  std::string_view payment_id) {
  return store.query_one<payment_balance>(
      "SELECT payment_id, order_id, currency, authorized_minor, captured_minor, refunded_minor, "
      "status FROM payment_balances WHERE payment_id = ?",
      payment_id);
}

}  // namespace strata::read_models
