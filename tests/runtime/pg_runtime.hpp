#pragma once

// The setup every runtime test on PostgreSQL shares: fresh schemas for the journal (with its
// snapshots) and for the read models, dropped when the test ends, and a configuration that
// puts all three in them.

#include <cstdint>
#include <string>
#include <utility>

#include "strata/runtime/config.hpp"
#include "tests/persistence/postgres_support.hpp"

namespace strata::testing {

/// Two fresh schemas on the test server and a runtime configuration using them.
struct pg_runtime_schemas {
  std::string conninfo;
  std::string journal_schema;
  std::string read_schema = journal_schema + "_read";
  persistence::testing::schema_guard journal_guard{conninfo, journal_schema};
  persistence::testing::schema_guard read_guard{conninfo, read_schema};

  /// `prefix` names the schemas (`<prefix>_<random>` and `..._read`).
  pg_runtime_schemas(std::string c, const std::string& prefix)
      : conninfo(std::move(c)), journal_schema(persistence::testing::unique_schema(prefix)) {}

  /// Journal, snapshots and read models in the two schemas; metrics off.
  runtime_config config(std::uint32_t snapshot_every) const {
    runtime_config c;
    c.metrics.enabled = false;
    c.journal.backend = journal_backend::postgres;
    c.journal.postgres.conninfo = conninfo;
    c.journal.postgres.schema = journal_schema;
    c.aggregates.snapshot_every = snapshot_every;
    c.projections.backend = projections_backend::postgres;
    c.projections.postgres.conninfo = conninfo;
    c.projections.postgres.schema = read_schema;
    return c;
  }
};

}  // namespace strata::testing
