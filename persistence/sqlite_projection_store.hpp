#pragma once

#include <memory>
#include <string>

#include "strata/persistence/projection_store.hpp"

namespace strata::persistence {

/// Options of the SQLite read-model store.
struct sqlite_projection_store_options {
  /// The read-model database file (a different file from the journal's); created when
  /// missing.
  std::string path = "strata-read.db";
  /// `synchronous=FULL` when true, `NORMAL` (the default) otherwise. NORMAL keeps the
  /// exactly-once guarantee: the read model and its checkpoint are lost or kept together, and
  /// whatever a power loss takes is applied again from the journal.
  bool synchronous_full = false;
  int busy_timeout_ms = 5000;  ///< How long a statement waits for another connection's lock.
  /// The connection's page cache in KiB (SQLite's `cache_size`); 0 keeps SQLite's default
  /// (2 MiB). A cache that holds the read model's hot rows spares catch-up most page reads.
  int cache_kib = 32768;
};

/// The read-model store on SQLite (WAL mode), one connection per instance.
///
/// Storage format (tables created when missing, next to the read models' own tables):
///   projection_checkpoints(name TEXT PRIMARY KEY, position INTEGER, last_event_us INTEGER,
///     journal_id TEXT DEFAULT '')   -- a file without journal_id gets it (empty) on open
///   projection_dead_letters(projection TEXT, position INTEGER, event_id TEXT,
///     event_type TEXT, error TEXT, parked_us INTEGER, attempts INTEGER,
///     PRIMARY KEY (projection, position))
/// Both WITHOUT ROWID; times are microseconds since the Unix epoch (UTC).
///
/// Thread-safety and errors: as `projection_store`, with SQLite's codes mapped as every SQLite
/// backend maps them (persistence/detail/sqlite_error.hpp): `unavailable` for a locked, full,
/// read-only or unopenable file, `corrupted` for a damaged file, `conflict` for a statement
/// that breaks a constraint, `internal` for SQL that does not compile.
class sqlite_projection_store final : public projection_store {
 public:
  /// Opens (creating when missing) the database and the bookkeeping tables.
  static result<std::unique_ptr<sqlite_projection_store>> open(
      const sqlite_projection_store_options& options);

  ~sqlite_projection_store() override;
  sqlite_projection_store(const sqlite_projection_store&) = delete;
  sqlite_projection_store& operator=(const sqlite_projection_store&) = delete;

  result<std::unique_ptr<projection_transaction>> begin() override;
  result<std::vector<sql_row>> query(std::string_view sql,
                                     const std::vector<sql_value>& params = {}) override;
  result<checkpoint> load_checkpoint(std::string_view projection) override;
  result<std::vector<dead_letter>> dead_letters(std::string_view projection) override;

  struct impl;  ///< The connection and its statement cache; opaque outside the .cpp.
  explicit sqlite_projection_store(std::unique_ptr<impl> i);

 private:
  std::unique_ptr<impl> impl_;
};

/// Opens `sqlite_projection_store` connections on one file. Thread-safety: any thread.
class sqlite_projection_store_factory final : public projection_store_factory {
 public:
  explicit sqlite_projection_store_factory(sqlite_projection_store_options options);
  result<std::unique_ptr<projection_store>> open() override;
  const sqlite_projection_store_options& options() const noexcept { return options_; }

 private:
  sqlite_projection_store_options options_;
};

}  // namespace strata::persistence
