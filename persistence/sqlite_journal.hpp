#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/persistence/journal.hpp"

namespace strata::persistence {

/// How an SQLite journal connection is opened.
struct sqlite_journal_options {
  std::string path;  ///< The database file; created (with the schema) when missing.

  /// `full` (the default): a committed append survives power loss (synchronous=FULL in WAL
  /// mode). `normal`: it survives a crash of the process, but the last commits may be lost on
  /// power loss (synchronous=NORMAL); faster.
  enum class durability { full, normal };
  durability sync = durability::full;

  int busy_timeout_ms = 5000;  ///< How long a statement waits for another connection's lock.
  bool read_only = false;      ///< Open without write access (appends then fail).
  std::int64_t cache_size_kib = 65536;         ///< Page cache per connection (PRAGMA cache_size).
  int wal_autocheckpoint_pages = 1000;         ///< PRAGMA wal_autocheckpoint; 0 disables it.
  std::optional<std::int64_t> max_page_count;  ///< Caps the file size (PRAGMA max_page_count).
};

/// The SQLite journal backend (schema and storage format: see the top of sqlite_journal.cpp).
///
/// A file opened with write access gets the commands table (the unique index of command ids
/// that `append` answers `duplicate` from) when it has none, filled from its events.
///
/// One instance is one connection. Several instances, in this process or others, may be open
/// on one file: appends serialise on SQLite's write lock (`BEGIN IMMEDIATE`), readers read
/// concurrently (WAL) and see every committed append.
///
/// Thread-safety: one thread at a time per instance.
/// Errors (besides the `journal` contract): `unavailable` when the file cannot be opened, is
/// read-only, is locked by another connection for longer than `busy_timeout_ms`, or the disk
/// (or `max_page_count`) is full (the message then says "disk full"); `corrupted` when SQLite
/// reports a damaged file or a stored row cannot be read (the message names its global
/// position); `unsupported` when the file's schema is newer than this code; `not_found` when a
/// file opened read-only holds no journal yet. No method throws.
class sqlite_journal final : public journal {
 public:
  /// Opens (and on first use creates) the journal at `options.path`.
  static result<std::unique_ptr<sqlite_journal>> open(const sqlite_journal_options& options);

  ~sqlite_journal() override;
  sqlite_journal(const sqlite_journal&) = delete;
  sqlite_journal& operator=(const sqlite_journal&) = delete;

  result<std::vector<stream_outcome>> append(const std::vector<stream_append>& batch) override;
  result<std::vector<event_record>> read_stream(const stream_id& stream,
                                                const stream_range& range) override;
  /// Hands out views of SQLite's row buffers: no record is materialised.
  result<std::size_t> for_each_in_stream(const stream_id& stream, const stream_range& range,
                                         const event_visitor& visit) override;
  /// One lookup in the commands table, then the command's events. On an older file opened
  /// read-only (no commands table yet) it scans the stream.
  result<std::vector<event_record>> find_command(const stream_id& stream,
                                                 std::string_view command_id) override;
  result<std::vector<event_record>> read_all(global_position after, std::size_t limit) override;
  result<version> head(const stream_id& stream) override;
  result<global_position> last_position() override;
  /// Read when the connection opened (table journal_meta); a file without one gets one then.
  const std::string& id() const noexcept override;

  /// Changes this connection's file-size cap (PRAGMA max_page_count) and returns the cap in
  /// effect, which is never below the file's current size.
  result<std::int64_t> set_max_page_count(std::int64_t pages);

  result<std::optional<stream_anchor>> anchor(const stream_id& stream) override;
  result<std::vector<stream_anchor>> anchors() override;
  result<std::optional<archive_mark>> archived() override;
  /// One `BEGIN IMMEDIATE` transaction; stamps the file `archived_schema_version`.
  result<std::uint64_t> cut(const std::vector<stream_cut>& cuts,
                            const std::string& archive) override;

  /// The schema version this code writes into a new file (stored as PRAGMA user_version).
  static constexpr int schema_version = 1;
  /// The version of a file whose oldest events were archived: the same tables, but code
  /// that does not know anchors must refuse it. The newest version this code opens.
  static constexpr int archived_schema_version = 2;

  struct impl;  ///< The connection and its cached statements; opaque outside the .cpp.
  explicit sqlite_journal(std::unique_ptr<impl> i);

 private:
  std::unique_ptr<impl> impl_;
};

/// Opens `sqlite_journal` connections on one file with the same options.
/// Thread-safety: `open()` may be called from any thread.
class sqlite_journal_factory final : public journal_factory {
 public:
  explicit sqlite_journal_factory(sqlite_journal_options options);
  result<std::unique_ptr<journal>> open() override;
  const sqlite_journal_options& options() const noexcept { return options_; }

 private:
  sqlite_journal_options options_;
};

}  // namespace strata::persistence
