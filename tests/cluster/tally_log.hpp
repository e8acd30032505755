#pragma once

// A read model the cluster's projection cases run on every node: one row per journal record,
// with the node that applied it. Applying a record twice breaks the primary key (the record
// is then parked), so its rows tell exactly which node applied what, and how often.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "strata/persistence/projection.hpp"

namespace strata::cluster_testing {

class tally_log final : public persistence::projection {
 public:
  static constexpr std::string_view projection_name = "tally_log";

  explicit tally_log(std::string node_id) : node_id_(std::move(node_id)) {}

  std::string_view name() const override { return projection_name; }
  std::vector<std::string> handles() const override { return {}; }
  result<void> setup(persistence::projection_transaction& tx) override {
    return tx.execute(
        "CREATE TABLE IF NOT EXISTS tally_log (position bigint PRIMARY KEY, aggregate_id text "
        "NOT NULL, node text NOT NULL)");
  }
  result<void> drop(persistence::projection_transaction& tx) override {
    return tx.execute("DROP TABLE IF EXISTS tally_log");
  }
  result<void> apply(persistence::projection_transaction& tx,
                     const persistence::event_record& r) override {
    return tx.execute("INSERT INTO tally_log (position, aggregate_id, node) VALUES (?, ?, ?)",
                      {static_cast<std::int64_t>(r.position.value), r.aggregate_id, node_id_});
  }

 private:
  std::string node_id_;
};

}  // namespace strata::cluster_testing
