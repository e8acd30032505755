#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "strata/persistence/snapshot_store.hpp"

namespace strata::persistence {

/// Options of the PostgreSQL snapshot store.
struct postgres_snapshot_store_options {
  std::string conninfo;  ///< A libpq connection string.
  /// The schema holding the `snapshots` table, usually the journal's. REQUIRES: a lower-case
  /// SQL identifier ([a-z_][a-z0-9_]*, at most 48 characters).
  std::string schema = "strata";
  std::size_t keep_last = default_snapshots_kept;  ///< REQUIRES: >= 1.
};

/// Snapshots in PostgreSQL, table `<schema>.snapshots` (created when missing):
///   stream text, at bigint, state_version bigint, last_event_hash text, taken timestamptz,
///   state text, PRIMARY KEY (stream, at).
/// The state is kept as text (not JSONB) so that it is returned byte for byte as saved, like
/// every other backend does; snapshots are opaque to SQL.
///
/// Thread-safety and errors: as `snapshot_store`. `unavailable` when the server cannot be
/// reached or the connection was lost (the instance reconnects on its next call); `corrupted`
/// for a row whose values are out of range.
class postgres_snapshot_store final : public snapshot_store {
 public:
  /// Connects and creates the schema and table when missing.
  /// Errors: `invalid_argument` for bad options, `unavailable` when the server is unreachable.
  static result<std::unique_ptr<postgres_snapshot_store>> open(
      postgres_snapshot_store_options options);

  ~postgres_snapshot_store() override;
  postgres_snapshot_store(const postgres_snapshot_store&) = delete;
  postgres_snapshot_store& operator=(const postgres_snapshot_store&) = delete;

  result<void> save(const snapshot_record& s) override;
  result<void> save_all(const std::vector<snapshot_record>& batch) override;
  result<std::optional<snapshot_record>> load_latest(const stream_id& stream,
                                                     version at_or_below) override;
  result<std::vector<snapshot_record>> list(const stream_id& stream) override;
  result<void> remove_stream(const stream_id& stream) override;

  struct impl;

 private:
  explicit postgres_snapshot_store(std::unique_ptr<impl> state);
  std::unique_ptr<impl> impl_;
};

/// Opens `postgres_snapshot_store` instances (one connection each) on one schema.
/// Thread-safety: `open` may be called from any thread.
class postgres_snapshot_store_factory final : public snapshot_store_factory {
 public:
  explicit postgres_snapshot_store_factory(postgres_snapshot_store_options options);
  result<std::unique_ptr<snapshot_store>> open() override;

 private:
  postgres_snapshot_store_options options_;
};

}  // namespace strata::persistence
