#pragma once

// The balances read model: one row per account, kept up to date by a projection, and the typed
// query that reads it.

#include <cstdint>
#include <optional>
#include <string>

#include <boost/describe.hpp>

#include <strata/persistence/read_model.hpp>

#include "account.hpp"

namespace bank {

class balances final : public strata::projection {
 public:
  balances() : projection("balances") {
    on<opened>([](strata::read_model_tx& tx, const opened& e, const strata::event_info& info) {
      return tx.execute(
          "INSERT INTO balances (account_id, owner, currency, balance) VALUES (?, ?, ?, 0)",
          info.aggregate_id, e.owner, e.currency);
    });
    on<deposited>(
        [](strata::read_model_tx& tx, const deposited& e, const strata::event_info& info) {
          return tx.execute("UPDATE balances SET balance = balance + ? WHERE account_id = ?",
                            e.amount, info.aggregate_id);
        });
    on<withdrawn>(
        [](strata::read_model_tx& tx, const withdrawn& e, const strata::event_info& info) {
          return tx.execute("UPDATE balances SET balance = balance - ? WHERE account_id = ?",
                            e.amount, info.aggregate_id);
        });
  }

  strata::result<void> setup(strata::read_model_tx& tx) override {
    return tx.execute(
        "CREATE TABLE IF NOT EXISTS balances (account_id TEXT PRIMARY KEY, owner TEXT NOT NULL,"
        " currency TEXT NOT NULL, balance BIGINT NOT NULL)");
  }

  strata::result<void> drop(strata::read_model_tx& tx) override {
    return tx.execute("DROP TABLE IF EXISTS balances");
  }
};

/// One row of the read model.
struct balance {
  std::string account_id;
  std::string owner;
  std::string currency;
  std::int64_t amount = 0;
};
BOOST_DESCRIBE_STRUCT(balance, (), (account_id, owner, currency, amount))

/// The balance of one account, if the projection has seen it opened.
inline strata::result<std::optional<balance>> balance_of(strata::read_model_reader& reader,
                                                         const std::string& account_id) {
  return reader.query_one<balance>(
      "SELECT account_id, owner, currency, balance FROM balances WHERE account_id = ?", account_id);
}

}  // namespace bank
