#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "strata/persistence/snapshot_store.hpp"

namespace strata::persistence {

/// Options of the SQLite snapshot store.
struct sqlite_snapshot_store_options {
  /// The database file; may be the journal's own file (the table names do not collide).
  std::string path;
  std::size_t keep_last = default_snapshots_kept;  ///< REQUIRES: >= 1.
  /// `synchronous=FULL` when true, `NORMAL` otherwise (snapshots are a cache, so NORMAL is a
  /// safe choice; FULL is the default only to match the journal).
  bool synchronous_full = true;
  int busy_timeout_ms = 5000;  ///< How long a call waits for another writer's lock.
  /// Caps the file size for this connection (PRAGMA max_page_count, as
  /// `sqlite_journal_options::max_page_count`): a save that needs more pages is `unavailable`
  /// with "disk full". None: SQLite's own limit.
  std::optional<std::int64_t> max_page_count;
};

/// Snapshots in an SQLite database file (WAL mode), one connection per instance.
///
/// Storage format, the table `snapshots` (created when missing):
///   stream TEXT, at INTEGER, state_version INTEGER, last_event_hash TEXT, taken_us INTEGER
///   (microseconds since the Unix epoch), state TEXT; PRIMARY KEY (stream, at), WITHOUT ROWID.
///
/// Thread-safety and errors: as `snapshot_store`. `unavailable` also covers a file that cannot
/// be opened or written; `corrupted` a row whose columns have the wrong type or range, or a
/// damaged database file.
class sqlite_snapshot_store final : public snapshot_store {
 public:
  /// Opens (creating when missing) the database and the table.
  /// Errors: `invalid_argument` for bad options, `unavailable` or `corrupted` for the file.
  static result<std::unique_ptr<sqlite_snapshot_store>> open(sqlite_snapshot_store_options options);

  ~sqlite_snapshot_store() override;
  sqlite_snapshot_store(const sqlite_snapshot_store&) = delete;
  sqlite_snapshot_store& operator=(const sqlite_snapshot_store&) = delete;

  result<void> save(const snapshot_record& s) override;
  result<void> save_all(const std::vector<snapshot_record>& batch) override;
  result<std::optional<snapshot_record>> load_latest(const stream_id& stream,
                                                     version at_or_below) override;
  result<std::vector<snapshot_record>> list(const stream_id& stream) override;
  result<void> remove_stream(const stream_id& stream) override;

  struct impl;

 private:
  explicit sqlite_snapshot_store(std::unique_ptr<impl> state);
  std::unique_ptr<impl> impl_;
};

/// Opens `sqlite_snapshot_store` instances on one file. Thread-safety: `open` from any thread.
class sqlite_snapshot_store_factory final : public snapshot_store_factory {
 public:
  explicit sqlite_snapshot_store_factory(sqlite_snapshot_store_options options);
  result<std::unique_ptr<snapshot_store>> open() override;

 private:
  sqlite_snapshot_store_options options_;
};

}  // namespace strata::persistence
