// Tables of the payments-ledger read model:
//   payments_ledger(position INTEGER PRIMARY KEY, payment_id TEXT, kind TEXT,
//     amount_minor INTEGER, currency TEXT, reference TEXT), indexed by (payment_id, position);
//   payment_balances(payment_id TEXT PRIMARY KEY, order_id TEXT, currency TEXT,
//     authorized_minor INTEGER, captured_minor INTEGER, refunded_minor INTEGER, status TEXT)
//     WITHOUT ROWID.

#include "strata/domain/payments/read_models/payments_ledger.hpp"

#include <variant>

#include "strata/domain/kernel/visit.hpp"
#include "strata/domain/payments/payment.hpp"

namespace strata::read_models {

namespace {

using persistence::sql_value;

}  // namespace

std::vector<std::string> payments_ledger_projection::handles() const {
  return {"PaymentAuthorized", "PaymentCaptured", "PaymentRefunded", "PaymentVoided",
          "PaymentFailed"};
}

result<void> payments_ledger_projection::setup(persistence::projection_transaction& tx) {
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

result<void> payments_ledger_projection::drop(persistence::projection_transaction& tx) {
  if (auto r = tx.execute("DROP TABLE IF EXISTS payments_ledger"); !r) return r;
  return tx.execute("DROP TABLE IF EXISTS payment_balances");
}

result<void> payments_ledger_projection::apply(persistence::projection_transaction& tx,
                                               const persistence::event_record& record) {
  auto events =
      payments::payment::events().decode(record.event_type, record.schema_version, record.data);
  if (!events) return std::move(events).err();
  const sql_value id{record.aggregate_id};
  const sql_value at{static_cast<std::int64_t>(record.position.value)};
  auto entry = [&](std::string_view kind, std::int64_t amount, const std::string& currency,
                   const std::string& reference) {
    return tx.execute(
        "INSERT OR REPLACE INTO payments_ledger (position, payment_id, kind, amount_minor, "
        "currency, reference) VALUES (?, ?, ?, ?, COALESCE(NULLIF(?, ''), (SELECT currency FROM "
        "payment_balances WHERE payment_id = ?), ''), ?)",
        {at, id, std::string{kind}, amount, currency, id, reference});
  };
  auto bump = [&](std::string_view kind, std::int64_t captured, std::int64_t refunded) {
    return tx.execute(
        "UPDATE payment_balances SET captured_minor = captured_minor + ?, refunded_minor = "
        "refunded_minor + ?, status = ? WHERE payment_id = ?",
        {captured, refunded, std::string{kind}, id});
  };
  for (const auto& e : *events) {
    auto r = std::visit(
        overloaded{
            [&](const payments::authorized& x) -> result<void> {
              if (auto w = tx.execute(
                      "INSERT OR REPLACE INTO payment_balances (payment_id, order_id, currency, "
                      "authorized_minor, captured_minor, refunded_minor, status) VALUES (?, ?, ?, "
                      "?, 0, 0, 'authorized')",
                      {id, x.order_id, x.amount.currency, std::int64_t{x.amount.minor}});
                  !w)
                return w;
              return entry("authorized", x.amount.minor, x.amount.currency, x.method);
            },
            [&](const payments::captured& x) -> result<void> {
              if (auto w = entry("captured", x.amount.minor, x.amount.currency, x.capture_id); !w)
                return w;
              return bump("captured", x.amount.minor, 0);
            },
            [&](const payments::refunded& x) -> result<void> {
              if (auto w = entry("refunded", x.amount.minor, x.amount.currency, x.refund_id); !w)
                return w;
              return bump("refunded", 0, x.amount.minor);
            },
            [&](const payments::voided&) -> result<void> {
              if (auto w = entry("voided", 0, "", ""); !w) return w;
              return bump("voided", 0, 0);
            },
            [&](const payments::failed& x) -> result<void> {
              if (auto w = entry("failed", 0, "", x.reason); !w) return w;
              return bump("failed", 0, 0);
            },
        },
        e);
    if (!r) return r;
  }
  return ok();
}

result<std::vector<ledger_entry>> ledger_of(persistence::projection_store& store,
                                            std::string_view payment_id) {
  auto rows = store.query(
      "SELECT position, payment_id, kind, amount_minor, currency, reference FROM payments_ledger "
      "WHERE payment_id = ? ORDER BY position",
      {std::string{payment_id}});
  if (!rows) return std::move(rows).err();
  std::vector<ledger_entry> out;
  for (const auto& r : *rows) {
    ledger_entry l;
    l.position = static_cast<std::uint64_t>(persistence::as_int(r[0]));
    l.payment_id = persistence::as_text(r[1]);
    l.kind = persistence::as_text(r[2]);
    l.amount_minor = persistence::as_int(r[3]);
    l.currency = persistence::as_text(r[4]);
    l.reference = persistence::as_text(r[5]);
    out.push_back(std::move(l));
  }
  return out;
}

result<std::optional<payment_balance>> balance_of(persistence::projection_store& store,
                                                  std::string_view payment_id) {
  auto rows = store.query(
      "SELECT payment_id, order_id, currency, authorized_minor, captured_minor, refunded_minor, "
      "status FROM payment_balances WHERE payment_id = ?",
      {std::string{payment_id}});
  if (!rows) return std::move(rows).err();
  if (rows->empty()) return std::optional<payment_balance>{};
  const auto& r = rows->front();
  payment_balance b;
  b.payment_id = persistence::as_text(r[0]);
  b.order_id = persistence::as_text(r[1]);
  b.currency = persistence::as_text(r[2]);
  b.authorized_minor = persistence::as_int(r[3]);
  b.captured_minor = persistence::as_int(r[4]);
  b.refunded_minor = persistence::as_int(r[5]);
  b.status = persistence::as_text(r[6]);
  return std::optional<payment_balance>{std::move(b)};
}

}  // namespace strata::read_models
