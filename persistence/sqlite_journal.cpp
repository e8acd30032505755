// The SQLite journal. Storage format, schema version 1 (PRAGMA user_version = 1):
//
//   CREATE TABLE streams (
//     stream_key     INTEGER PRIMARY KEY,      -- a stream's small integer key, used by events
//     name           TEXT NOT NULL UNIQUE,     -- "<aggregate_type>-<aggregate_id>"
//     aggregate_type TEXT NOT NULL,
//     aggregate_id   TEXT NOT NULL,
//     head_version   INTEGER NOT NULL,         -- version of the stream's last event
//     last_hash      TEXT NOT NULL             -- hash of that event (the chain's tip)
//   );
//   CREATE TABLE events (
//     global_position INTEGER PRIMARY KEY,     -- the rowid: append-ordered, gap-free
//     stream_key      INTEGER NOT NULL,
//     version         INTEGER NOT NULL,
//     event_id        TEXT NOT NULL,
//     event_type      TEXT NOT NULL,
//     schema_version  INTEGER NOT NULL,
//     timestamp_us    INTEGER NOT NULL,        -- microseconds since the Unix epoch, UTC
//     user_id         TEXT NOT NULL,
//     command_id      TEXT NOT NULL,
//     correlation_id  TEXT NOT NULL,
//     causation_id    TEXT NOT NULL,
//     data            TEXT NOT NULL,           -- the event body, JSON text as appended
//     hash            TEXT NOT NULL,           -- audit chain link (audit_chain.hpp)
//     UNIQUE (stream_key, version)             -- the last guard against a lost update
//   );
//   CREATE TABLE commands (                   -- one row per append with a command id
//     stream_key    INTEGER NOT NULL,
//     command_id    TEXT NOT NULL,
//     first_version INTEGER NOT NULL,          -- version of the append's first event
//     PRIMARY KEY (command_id, stream_key)     -- a command id is applied once per stream
//   ) WITHOUT ROWID;                           -- ids first: see "Idempotency" in README.md
//   CREATE TABLE journal_meta (
//     key   TEXT PRIMARY KEY,                  -- 'journal_id'
//     value TEXT NOT NULL                      -- the journal's id (journal::id), made once
//   );
//
//   CREATE TABLE stream_anchors (              -- streams whose oldest events were archived,
//     stream_key INTEGER PRIMARY KEY,          -- created by the first journal::cut
//     version    INTEGER NOT NULL,             -- the last archived version
//     hash       TEXT NOT NULL,                -- its chain hash: the hot chain continues from it
//     archive    TEXT NOT NULL                 -- the archive holding it (journal::cut)
//   );
//   CREATE TABLE archived_commands (           -- archived events that carry a command id,
//     stream_key, version, global_position,    -- every column of events but data, created and
//     event_id, ..., hash,                     -- written by journal::cut before it deletes:
//     PRIMARY KEY (stream_key, version)        -- find_command answers an archived command's
//   ) WITHOUT ROWID;                           -- original outcome from them
//
// Archival (journal::cut) deletes a stream's oldest events; the streams row keeps its head
// and last hash. journal_meta then also holds 'archived_through' (the highest position ever
// deleted, as decimal text) and one 'archive:<name>' row per archive (the highest position
// moved to it). The next position is max(MAX(events.global_position), archived_through) + 1,
// so positions never go back even when the newest events were archived. A file that had
// events cut is stamped user_version 2, which older code refuses instead of reading a partial
// history; otherwise its format is version 1's.
//
// journal_meta came after the first files were written: a file without it gets it (and its
// id) the first time it is opened with write access, so its version stays 1 and older code
// still opens it. commands came later still: a file without it gets it the first time it is
// opened with write access, filled from the events (each id's lowest version; rows a command
// id wrote twice before the table existed stay as they are).
//
// Every append is one `BEGIN IMMEDIATE` transaction, so writers serialise on SQLite's write
// lock and positions (max + 1, ...) are assigned inside it without gaps. The expected version
// is checked against streams.head_version before anything of that stream is written. The
// events table's primary key is the append order, so inserts touch only the right edge of the
// table, and the (stream_key, version) index has integer keys. An append with a command id
// inserts its commands row (INSERT OR IGNORE) in the same transaction, without a read for the
// usual, new, id: the rows of a batch go in together, after its events. When fewer rows went
// in than were given, an id was there already: the transaction is rolled back and written
// again a row at a time, each before its stream's events, and a row already there makes that
// stream's outcome `duplicate` (its head is put back, nothing of it is written).

#include "strata/persistence/sqlite_journal.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include "strata/persistence/audit_chain.hpp"
#include "strata/persistence/detail/event_row.hpp"
#include "strata/persistence/detail/sqlite_error.hpp"

namespace strata::persistence {
namespace {

constexpr const char* schema_sql = R"sql(
CREATE TABLE IF NOT EXISTS streams (
  stream_key     INTEGER PRIMARY KEY,
  name           TEXT NOT NULL UNIQUE,
  aggregate_type TEXT NOT NULL,
  aggregate_id   TEXT NOT NULL,
  head_version   INTEGER NOT NULL,
  last_hash      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
  global_position INTEGER PRIMARY KEY,
  stream_key      INTEGER NOT NULL,
  version         INTEGER NOT NULL,
  event_id        TEXT NOT NULL,
  event_type      TEXT NOT NULL,
  schema_version  INTEGER NOT NULL,
  timestamp_us    INTEGER NOT NULL,
  user_id         TEXT NOT NULL,
  command_id      TEXT NOT NULL,
  correlation_id  TEXT NOT NULL,
  causation_id    TEXT NOT NULL,
  data            TEXT NOT NULL,
  hash            TEXT NOT NULL,
  UNIQUE (stream_key, version)
);
)sql";

constexpr const char* commands_sql = R"sql(
CREATE TABLE IF NOT EXISTS commands (
  stream_key    INTEGER NOT NULL,
  command_id    TEXT NOT NULL,
  first_version INTEGER NOT NULL,
  PRIMARY KEY (command_id, stream_key)
) WITHOUT ROWID;
INSERT OR IGNORE INTO commands (stream_key, command_id, first_version)
  SELECT stream_key, command_id, MIN(version) FROM events WHERE command_id <> ''
  GROUP BY stream_key, command_id;
)sql";

constexpr const char* meta_sql = R"sql(
CREATE TABLE IF NOT EXISTS journal_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)sql";

constexpr const char* anchors_sql = R"sql(
CREATE TABLE IF NOT EXISTS stream_anchors (
  stream_key INTEGER PRIMARY KEY,
  version    INTEGER NOT NULL,
  hash       TEXT NOT NULL,
  archive    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS archived_commands (
  stream_key INTEGER NOT NULL, version INTEGER NOT NULL, global_position INTEGER NOT NULL,
  event_id TEXT NOT NULL, event_type TEXT NOT NULL, schema_version INTEGER NOT NULL,
  timestamp_us INTEGER NOT NULL, user_id TEXT NOT NULL, command_id TEXT NOT NULL,
  correlation_id TEXT NOT NULL, causation_id TEXT NOT NULL, hash TEXT NOT NULL,
  PRIMARY KEY (stream_key, version)
) WITHOUT ROWID;
)sql";

// In detail::event_column order.
constexpr const char* event_columns =
    "e.global_position, e.version, e.event_id, e.event_type, e.schema_version, "
    "e.timestamp_us, e.user_id, e.command_id, e.correlation_id, e.causation_id, e.data, e.hash";

// The same for a read of `event_fields::fold`: the audit fields as empty texts. SQLite then
// neither reads them from the row nor copies them out (the C API reads those columns about
// 1.5 times as fast as all of them; a rehydration runs 1.05-1.14 times as fast:
// docs/BENCHMARKS.md).
constexpr const char* fold_columns =
    "e.global_position, e.version, '', e.event_type, e.schema_version, "
    "e.timestamp_us, '', e.command_id, '', '', e.data, ''";

// Unset bounds are bound as NULL, and a timestamp that is not an integer passes the filter,
// so a damaged row is read (and reported as corrupted) instead of silently filtered out.
constexpr const char* stream_filter =
    " FROM events e WHERE e.stream_key = ?1 AND e.version >= ?2"
    " AND (?3 IS NULL OR e.version <= ?3)"
    " AND (?4 IS NULL OR typeof(e.timestamp_us) <> 'integer' OR e.timestamp_us <= ?4)"
    " ORDER BY e.version LIMIT ?5";

constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();

std::int64_t clamp_to_int64(std::uint64_t v) {
  return v > static_cast<std::uint64_t>(int64_max) ? int64_max : static_cast<std::int64_t>(v);
}

/// Resets a statement when leaving a scope, so no read snapshot or lock outlives a call.
struct reset_on_exit {
  SQLite::Statement& statement;
  ~reset_on_exit() { statement.tryReset(); }
};

/// A statement on the C API, for the row loops: SQLite::Statement does not hand out its
/// handle, and its per-column objects cost more than the values they read.
struct finalize_statement {
  void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using raw_statement = std::unique_ptr<sqlite3_stmt, finalize_statement>;

/// Resets a raw statement when leaving a scope (and drops its bindings' references).
struct raw_reset_on_exit {
  sqlite3_stmt* statement;
  ~raw_reset_on_exit() {
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
  }
};

/// One step of `s`: true with a row, false when done; a failure throws like SQLiteCpp does,
/// so that every error goes through `detail::sqlite_error`.
bool step(sqlite3* db, sqlite3_stmt* s) {
  const int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw SQLite::Exception(db, rc);
}

/// The current row of a statement as `detail::decode_event_row` reads it: a column of the
/// wrong type is absent rather than coerced, so it is reported as corrupted. The views point
/// into SQLite's row buffers and stay valid until the statement steps or resets.
///
/// Each column is read through its `sqlite3_value`: one call to SQLite for the column instead
/// of two or three `sqlite3_column_*` calls that each take the connection's mutex (a fifth
/// of a row visit). SQLite calls that unprotected use not thread-safe: it is safe here, as a
/// journal's connection is used by one thread at a time (journal.hpp).
struct sqlite_row {
  sqlite3_stmt* s;

  std::optional<std::int64_t> integer(int col) const {
    sqlite3_value* v = sqlite3_column_value(s, col);
    if (sqlite3_value_type(v) != SQLITE_INTEGER) return std::nullopt;
    return sqlite3_value_int64(v);
  }
  std::optional<std::string_view> text(int col) const {
    sqlite3_value* v = sqlite3_column_value(s, col);
    if (sqlite3_value_type(v) != SQLITE_TEXT) return std::nullopt;
    const auto* p = reinterpret_cast<const char*>(sqlite3_value_text(v));
    return p == nullptr ? std::string_view{}
                        : std::string_view{p, static_cast<std::size_t>(sqlite3_value_bytes(v))};
  }
};

}  // namespace

struct sqlite_journal::impl {
  impl(const sqlite_journal_options& o, int flags)
      : options(o), db(o.path, flags, o.busy_timeout_ms) {}

  /// What this connection knows of a stream. The key never changes once committed, so it
  /// needs no invalidation. The head and last hash are those this connection committed or
  /// read last; another connection may have moved the stream since, so an append trusts them
  /// only through an UPDATE conditional on that head (a miss reloads the row).
  struct known_stream {
    std::int64_t key = 0;
    bool has_head = false;
    version head;
    std::string last_hash;
  };

  sqlite_journal_options options;
  SQLite::Database db;
  bool read_only = false;
  bool has_meta = false;      // journal_meta exists (every file opened with write access)
  bool has_anchors = false;   // stream_anchors exists (seen once; never dropped)
  bool has_commands = false;  ///< False only for an older file opened read-only.
  std::string id;
  std::unordered_map<std::string, known_stream> streams;
  chain_hasher hasher;

  std::optional<SQLite::Statement> begin_immediate, commit, max_position, stream_by_key,
      stream_by_name, insert_stream, update_stream, insert_event, key_by_name, insert_command,
      command_first, restore_stream;
  // Declared after `db`: finalized before it closes.
  raw_statement select_stream, select_stream_fold, select_all;
  /// INSERT OR IGNORE of 2^k commands rows in one statement, by k (up to 64 rows).
  std::array<raw_statement, 7> insert_commands;

  /// A commands row an append writes (see `record_commands`).
  struct command_row {
    std::int64_t key;
    const std::string* command;
    version first;
  };
  std::vector<command_row> command_rows;  ///< Of the append under way (kept for its capacity).

  sqlite3_stmt* prepared(raw_statement& slot, const std::string& sql) {
    if (!slot) {
      sqlite3_stmt* s = nullptr;
      const int rc = sqlite3_prepare_v3(db.getHandle(), sql.c_str(), static_cast<int>(sql.size()),
                                        SQLITE_PREPARE_PERSISTENT, &s, nullptr);
      if (rc != SQLITE_OK) {
        sqlite3_finalize(s);
        throw SQLite::Exception(db.getHandle(), rc);
      }
      slot.reset(s);
    }
    sqlite3_reset(slot.get());
    return slot.get();
  }

  SQLite::Statement& prepared(std::optional<SQLite::Statement>& slot, const std::string& sql) {
    if (!slot) slot.emplace(db, sql);
    slot->tryReset();
    return *slot;
  }

  /// The stored journal id; nullopt when the file has none yet.
  result<std::optional<std::string>> stored_id() {
    SQLite::Statement has(db,
                          "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                          "name = 'journal_meta'");
    has.executeStep();
    if (has.getColumn(0).getInt64() == 0) return std::optional<std::string>{};
    SQLite::Statement s(db, "SELECT value FROM journal_meta WHERE key = 'journal_id'");
    if (!s.executeStep()) return std::optional<std::string>{};
    const SQLite::Column value = s.getColumn(0);
    if (value.getType() != SQLITE_TEXT || value.getString().empty())
      return error{errc::corrupted, options.path + ": the stored journal id is not text"};
    return std::optional<std::string>{value.getString()};
  }

  /// True once stream_anchors exists (probed until it does: another connection may create it).
  bool anchors_exist() {
    if (!has_anchors) {
      SQLite::Statement has(db,
                            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                            "name = 'stream_anchors'");
      has.executeStep();
      has_anchors = has.getColumn(0).getInt64() == 1;
    }
    return has_anchors;
  }

  /// Creates the meta table when missing and stores a new id unless one is there.
  /// REQUIRES: a write transaction is open.
  void store_new_id() {
    db.exec(meta_sql);
    SQLite::Statement s(db,
                        "INSERT OR IGNORE INTO journal_meta (key, value) VALUES "
                        "('journal_id', ?1)");
    s.bind(1, make_journal_id());
    s.exec();
  }

  /// True when the file has the commands table.
  bool commands_table_exists() {
    SQLite::Statement has(db,
                          "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                          "name = 'commands'");
    has.executeStep();
    return has.getColumn(0).getInt64() != 0;
  }

  /// Records `command` for the append to `key` starting at `first`; false when the stream
  /// already has it. REQUIRES: a write transaction is open.
  bool record_command(std::int64_t key, const std::string& command, version first) {
    auto& s = prepared(insert_command,
                       "INSERT OR IGNORE INTO commands (stream_key, command_id, first_version) "
                       "VALUES (?1, ?2, ?3)");
    reset_on_exit guard{s};
    s.bind(1, key);
    s.bindNoCopy(2, command);
    s.bind(3, clamp_to_int64(first.value));
    return s.exec() == 1;
  }

  /// Records every row of `rows` with as few statements as possible (INSERT OR IGNORE);
  /// true when all were new. One statement per row cost most of what a command id adds to
  /// an append. REQUIRES: a write transaction is open; the strings of `rows` stay valid.
  bool record_commands(const std::vector<command_row>& rows) {
    std::size_t done = 0;
    std::int64_t inserted = 0;
    while (done < rows.size()) {
      std::size_t level = insert_commands.size() - 1;
      while ((std::size_t{1} << level) > rows.size() - done) --level;
      const std::size_t n = std::size_t{1} << level;
      raw_statement& slot = insert_commands[level];
      if (!slot) {
        std::string sql =
            "INSERT OR IGNORE INTO commands (stream_key, command_id, first_version) VALUES ";
        for (std::size_t k = 0; k < n; ++k) sql += k == 0 ? "(?, ?, ?)" : ", (?, ?, ?)";
        prepared(slot, sql);
      }
      sqlite3_stmt* s = slot.get();
      raw_reset_on_exit guard{s};
      for (std::size_t k = 0; k < n; ++k) {
        const command_row& r = rows[done + k];
        const int col = static_cast<int>(3 * k);
        sqlite3_bind_int64(s, col + 1, r.key);
        sqlite3_bind_text(s, col + 2, r.command->data(), static_cast<int>(r.command->size()),
                          SQLITE_STATIC);
        sqlite3_bind_int64(s, col + 3, clamp_to_int64(r.first.value));
      }
      step(db.getHandle(), s);
      inserted += sqlite3_changes64(db.getHandle());
      done += n;
    }
    return inserted == static_cast<std::int64_t>(rows.size());
  }

  /// The first version of `command` in the stream of `key`, if the stream has it.
  std::optional<version> first_version_of(std::int64_t key, std::string_view command) {
    auto& s = prepared(command_first,
                       "SELECT first_version FROM commands WHERE stream_key = ?1 AND "
                       "command_id = ?2");
    reset_on_exit guard{s};
    s.bind(1, key);
    s.bind(2, std::string{command});  // bound as text (the pointer overloads bind blobs)
    if (!s.executeStep()) return std::nullopt;
    const SQLite::Column first = s.getColumn(0);
    if (first.getType() != SQLITE_INTEGER || first.getInt64() < 1) return std::nullopt;
    return version{static_cast<std::uint64_t>(first.getInt64())};
  }

  void rollback_if_open() noexcept {
    if (sqlite3_get_autocommit(db.getHandle()) == 0) {
      sqlite3_exec(db.getHandle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }

  /// The committed key of `stream`, if it has one (reads the table on a cache miss).
  std::optional<std::int64_t> key_of(const stream_id& stream) {
    if (auto it = streams.find(stream.str()); it != streams.end()) return it->second.key;
    auto& s = prepared(key_by_name, "SELECT stream_key FROM streams WHERE name = ?1");
    reset_on_exit guard{s};
    s.bindNoCopy(1, stream.str());
    if (!s.executeStep()) return std::nullopt;
    const std::int64_t key = s.getColumn(0).getInt64();
    streams[stream.str()].key = key;
    return key;
  }

  struct stream_row {
    std::optional<std::int64_t> key;
    version head;
    std::string last_hash;
  };

  /// The stream's row as committed (within the current transaction, if one is open).
  result<stream_row> load_stream(const stream_id& stream) {
    stream_row row;
    auto fill = [&](SQLite::Statement& s, int head_col) -> result<void> {
      const SQLite::Column head = s.getColumn(head_col);
      const SQLite::Column hash = s.getColumn(head_col + 1);
      if (head.getType() != SQLITE_INTEGER || head.getInt64() < 0 ||
          hash.getType() != SQLITE_TEXT) {
        return error{errc::corrupted, "streams row of " + stream.str() + " is malformed"};
      }
      row.head = version{static_cast<std::uint64_t>(head.getInt64())};
      row.last_hash = hash.getString();
      return ok();
    };
    if (auto it = streams.find(stream.str()); it != streams.end()) {
      auto& s = prepared(stream_by_key,
                         "SELECT head_version, last_hash FROM streams WHERE stream_key = ?1");
      reset_on_exit guard{s};
      s.bind(1, it->second.key);
      if (s.executeStep()) {
        row.key = it->second.key;
        if (auto f = fill(s, 0); !f) return std::move(f).err();
        return row;
      }
      streams.erase(it);
    }
    auto& s = prepared(stream_by_name,
                       "SELECT stream_key, head_version, last_hash FROM streams WHERE name = ?1");
    reset_on_exit guard{s};
    s.bindNoCopy(1, stream.str());
    if (s.executeStep()) {
      row.key = s.getColumn(0).getInt64();
      if (auto f = fill(s, 1); !f) return std::move(f).err();
    }
    return row;
  }

  std::int64_t current_max_position() {
    auto& s = prepared(max_position,
                       has_meta ? "SELECT max(COALESCE((SELECT MAX(global_position) FROM events), "
                                  "0), COALESCE((SELECT CAST(value AS INTEGER) FROM journal_meta "
                                  "WHERE key = 'archived_through'), 0))"
                                : "SELECT COALESCE(MAX(global_position), 0) FROM events");
    reset_on_exit guard{s};
    s.executeStep();
    return s.getColumn(0).getInt64();
  }

  void exec(std::optional<SQLite::Statement>& slot, const char* sql) {
    auto& s = prepared(slot, sql);
    reset_on_exit guard{s};
    s.exec();
  }

  /// The statement selecting `stream`'s events within `range`, bound and ready to step.
  sqlite3_stmt* select_range(std::int64_t key, const stream_range& range) {
    sqlite3_stmt* s =
        range.fields == event_fields::fold
            ? prepared(select_stream_fold, std::string{"SELECT "} + fold_columns + stream_filter)
            : prepared(select_stream, std::string{"SELECT "} + event_columns + stream_filter);
    sqlite3_bind_int64(s, 1, key);
    // From the start, the lower bound takes in rows whose version is not positive, so that a
    // row altered to one is decoded, and refused by name, rather than silently skipped.
    sqlite3_bind_int64(s, 2,
                       range.from.value <= 1 ? std::numeric_limits<std::int64_t>::min()
                                             : clamp_to_int64(range.from.value));
    if (range.to) {
      sqlite3_bind_int64(s, 3, clamp_to_int64(range.to->value));
    } else {
      sqlite3_bind_null(s, 3);
    }
    if (range.until) {
      sqlite3_bind_int64(s, 4, static_cast<std::int64_t>(to_unix_micros(*range.until)));
    } else {
      sqlite3_bind_null(s, 4);
    }
    sqlite3_bind_int64(s, 5, clamp_to_int64(range.limit));
    return s;
  }
};

namespace {

/// Thrown inside `attempt` when UNIQUE(stream_key, version) trips for one stream, so that
/// the batch can be retried without it. Never leaves this file.
struct guard_tripped {
  std::size_t index;
  std::string message;
};

}  // namespace

sqlite_journal::sqlite_journal(std::unique_ptr<impl> i) : impl_(std::move(i)) {}
sqlite_journal::~sqlite_journal() = default;

result<std::unique_ptr<sqlite_journal>> sqlite_journal::open(
    const sqlite_journal_options& options) {
  const std::string context = "open " + options.path;
  try {
    // One thread at a time per instance (the contract), so SQLite's per-connection mutex,
    // taken by every API call (several per column of every row read), is left out.
    const int flags =
        SQLite::OPEN_NOMUTEX | (options.read_only ? SQLite::OPEN_READONLY
                                                  : (SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE));
    auto i = std::make_unique<impl>(options, flags);
    auto& db = i->db;
    i->read_only = options.read_only || sqlite3_db_readonly(db.getHandle(), "main") == 1;
    const int found_version = db.execAndGet("PRAGMA user_version").getInt();
    if (found_version > archived_schema_version) {
      return error{errc::unsupported, options.path + " has journal schema version " +
                                          std::to_string(found_version) + ", this code knows " +
                                          std::to_string(archived_schema_version)};
    }
    if (!i->read_only) {
      std::string mode = db.execAndGet("PRAGMA journal_mode").getString();
      if (mode != "wal") mode = db.execAndGet("PRAGMA journal_mode=WAL").getString();
      if (mode != "wal") {
        return error{errc::unavailable, options.path + " cannot use WAL mode (got " + mode + ")"};
      }
    }
    db.exec(options.sync == sqlite_journal_options::durability::full ? "PRAGMA synchronous=FULL"
                                                                     : "PRAGMA synchronous=NORMAL");
    db.exec("PRAGMA cache_size=-" + std::to_string(options.cache_size_kib));
    db.exec("PRAGMA wal_autocheckpoint=" + std::to_string(options.wal_autocheckpoint_pages));
    if (options.max_page_count) {
      db.exec("PRAGMA max_page_count=" + std::to_string(*options.max_page_count));
    }
    if (found_version == 0) {
      if (i->read_only) {
        return error{errc::not_found, options.path + " holds no journal (opened read-only)"};
      }
      db.exec("BEGIN IMMEDIATE");
      try {
        if (db.execAndGet("PRAGMA user_version").getInt() == 0) {
          db.exec(schema_sql);
          i->store_new_id();
          db.exec("PRAGMA user_version=" + std::to_string(schema_version));
        }
        db.exec("COMMIT");
      } catch (...) {
        i->rollback_if_open();
        throw;
      }
    }
    auto id = i->stored_id();
    if (!id) return std::move(id).err();
    if (!*id && !i->read_only) {
      // A file written before journals had ids: it gets one now (once, whoever comes first).
      db.exec("BEGIN IMMEDIATE");
      try {
        i->store_new_id();
        db.exec("COMMIT");
      } catch (...) {
        i->rollback_if_open();
        throw;
      }
      id = i->stored_id();
      if (!id) return std::move(id).err();
    }
    i->has_meta = id->has_value();
    i->id = id->value_or(std::string{});
    i->has_commands = i->commands_table_exists();
    if (!i->has_commands && !i->read_only) {
      // A file written before command ids were indexed: the index is built now, once.
      db.exec("BEGIN IMMEDIATE");
      try {
        db.exec(commands_sql);
        db.exec("COMMIT");
      } catch (...) {
        i->rollback_if_open();
        throw;
      }
      i->has_commands = true;
    }
    return std::make_unique<sqlite_journal>(std::move(i));
  } catch (const SQLite::Exception& e) {
    return detail::sqlite_error(e, context);
  } catch (const std::exception& e) {
    return error{errc::internal, context + ": " + e.what()};
  }
}

result<std::vector<stream_outcome>> sqlite_journal::append(
    const std::vector<stream_append>& batch) {
  if (auto checked = check_append_batch(batch); !checked) return std::move(checked).err();
  impl& m = *impl_;
  if (m.read_only) {
    return error{errc::unavailable,
                 "database is read-only: " + m.options.path + " cannot take appends"};
  }
  std::vector<std::optional<error>> forced(batch.size());
  // The commands rows of a batch are written together, after its events: when one of them
  // was there already (a command applied before, which the window of its aggregate no longer
  // knows: rare), the attempt is rolled back and done again a row at a time, which finds the
  // duplicate before its stream is written.
  bool commands_at_once = true;

  // Normally one attempt. A retry happens only when the unique guard trips for a stream whose
  // streams row disagrees with its events (a damaged or tampered file): that stream becomes a
  // conflict and the others are written again; or when a command id turned out applied before.
  for (std::size_t attempt = 0; attempt <= batch.size() + 1; ++attempt) {
    m.command_rows.clear();
    std::vector<stream_outcome> outcomes;
    outcomes.reserve(batch.size());
    // What this connection will know of each stream once the transaction commits.
    std::vector<std::pair<const stream_id*, impl::known_stream>> learned;
    learned.reserve(batch.size());
    std::size_t current = batch.size();
    try {
      m.exec(m.begin_immediate, "BEGIN IMMEDIATE");
      std::int64_t position = m.current_max_position();
      for (std::size_t i = 0; i < batch.size(); ++i) {
        const stream_append& part = batch[i];
        if (forced[i]) {
          outcomes.emplace_back(*forced[i]);
          continue;
        }
        current = i;
        // The head this connection committed last is used without reading the row when it is
        // the expected one; the UPDATE below is conditional on it, so a stream another
        // connection moved meanwhile is detected there and read again.
        impl::stream_row row;
        bool trusted = false;
        if (auto it = m.streams.find(part.stream.str());
            it != m.streams.end() && it->second.has_head && it->second.head == part.expected) {
          row.key = it->second.key;
          row.head = it->second.head;
          row.last_hash = it->second.last_hash;
          trusted = true;
        }
        const std::int64_t first_position = position;
        std::vector<event_record> records;
        for (;;) {
          if (!trusted) {
            auto loaded = m.load_stream(part.stream);
            if (!loaded) {
              m.rollback_if_open();
              return std::move(loaded).err();
            }
            row = std::move(*loaded);
            if (row.key)
              learned.emplace_back(&part.stream,
                                   impl::known_stream{*row.key, true, row.head, row.last_hash});
          }
          if (row.head != part.expected) break;
          position = first_position;
          records.clear();
          records.reserve(part.events.size());
          std::string_view previous = row.last_hash;
          version v = row.head;
          for (const new_event& e : part.events) {
            v = v.next();
            event_record& r = records.emplace_back(make_record(
                part.stream, e, v, global_position{static_cast<std::uint64_t>(++position)}));
            r.hash = m.hasher.link(previous, r);
            previous = r.hash;
          }
          if (!row.key) break;  // a new stream: its row is inserted below
          auto& s = m.prepared(m.update_stream,
                               "UPDATE streams SET head_version = ?1, last_hash = ?2 "
                               "WHERE stream_key = ?3 AND head_version = ?4");
          reset_on_exit guard{s};
          s.bind(1, clamp_to_int64(records.back().stream_version.value));
          s.bindNoCopy(2, records.back().hash);
          s.bind(3, *row.key);
          s.bind(4, clamp_to_int64(row.head.value));
          if (s.exec() == 1) break;
          if (!trusted) {
            // Read inside this transaction a moment ago: only a damaged file gets here.
            m.rollback_if_open();
            return error{errc::corrupted,
                         "streams row of " + part.stream.str() + " changed under the write lock"};
          }
          trusted = false;  // another connection moved the stream: read it and redo
        }
        const std::string& command = part.events.front().command_id;
        if (row.head != part.expected) {
          position = first_position;
          // A stale retry of an applied command is still a duplicate (rare: read only here).
          if (!command.empty() && row.key && m.first_version_of(*row.key, command)) {
            outcomes.emplace_back(duplicate_command(part.stream, command));
            continue;
          }
          outcomes.emplace_back(error{errc::conflict, part.stream.str() + " expected version " +
                                                          std::to_string(part.expected.value) +
                                                          ", head is " +
                                                          std::to_string(row.head.value)});
          continue;
        }
        const event_record& tip = records.back();
        std::int64_t key = 0;
        if (row.key) {
          key = *row.key;
        } else {
          auto& s = m.prepared(m.insert_stream,
                               "INSERT INTO streams (name, aggregate_type, aggregate_id, "
                               "head_version, last_hash) VALUES (?1, ?2, ?3, ?4, ?5)");
          reset_on_exit guard{s};
          s.bindNoCopy(1, part.stream.str());
          s.bindNoCopy(2, tip.aggregate_type);
          s.bindNoCopy(3, tip.aggregate_id);
          s.bind(4, clamp_to_int64(tip.stream_version.value));
          s.bindNoCopy(5, tip.hash);
          s.exec();
          key = m.db.getLastInsertRowid();
        }
        if (!command.empty() && commands_at_once) {
          m.command_rows.push_back(
              impl::command_row{key, &command, records.front().stream_version});
        } else if (!command.empty() &&
                   !m.record_command(key, command, records.front().stream_version)) {
          if (!row.key) {
            throw guard_tripped{i, part.stream.str() + " is new but already has command " +
                                       command + " (a damaged commands table)"};
          }
          // Applied before: the head moved above goes back, and nothing of this stream is
          // written.
          auto& back = m.prepared(m.restore_stream,
                                  "UPDATE streams SET head_version = ?1, last_hash = ?2 "
                                  "WHERE stream_key = ?3");
          reset_on_exit guard{back};
          back.bind(1, clamp_to_int64(row.head.value));
          back.bindNoCopy(2, row.last_hash);
          back.bind(3, key);
          back.exec();
          position = first_position;
          outcomes.emplace_back(duplicate_command(part.stream, command));
          continue;
        }
        learned.emplace_back(&part.stream,
                             impl::known_stream{key, true, tip.stream_version, tip.hash});
        auto& ins = m.prepared(
            m.insert_event,
            "INSERT INTO events (global_position, stream_key, version, event_id, event_type, "
            "schema_version, timestamp_us, user_id, command_id, correlation_id, causation_id, "
            "data, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
        for (const event_record& r : records) {
          reset_on_exit guard{ins};
          ins.bind(1, clamp_to_int64(r.position.value));
          ins.bind(2, key);
          ins.bind(3, clamp_to_int64(r.stream_version.value));
          ins.bindNoCopy(4, r.event_id);
          ins.bindNoCopy(5, r.event_type);
          ins.bind(6, r.schema_version);
          ins.bind(7, static_cast<std::int64_t>(to_unix_micros(r.time)));
          ins.bindNoCopy(8, r.user_id);
          ins.bindNoCopy(9, r.command_id);
          ins.bindNoCopy(10, r.correlation_id);
          ins.bindNoCopy(11, r.causation_id);
          ins.bindNoCopy(12, r.data);
          ins.bindNoCopy(13, r.hash);
          try {
            ins.exec();
          } catch (const SQLite::Exception& e) {
            if ((e.getErrorCode() & 0xff) == SQLITE_CONSTRAINT) {
              throw guard_tripped{i, part.stream.str() + " version " +
                                         std::to_string(r.stream_version.value) +
                                         " already exists (unique guard): " + e.what()};
            }
            throw;
          }
        }
        outcomes.emplace_back(std::move(records));
      }
      current = batch.size();
      if (!m.command_rows.empty() && !m.record_commands(m.command_rows)) {
        m.rollback_if_open();
        commands_at_once = false;
        continue;
      }
      m.exec(m.commit, "COMMIT");
      for (auto& [stream, known] : learned) m.streams[stream->str()] = std::move(known);
      return outcomes;
    } catch (const guard_tripped& g) {
      m.rollback_if_open();
      forced[g.index] = error{errc::conflict, g.message};
    } catch (const SQLite::Exception& e) {
      m.rollback_if_open();
      std::string context = "append to " + m.options.path;
      if (current < batch.size()) context += " (stream " + batch[current].stream.str() + ")";
      return detail::sqlite_error(e, context);
    } catch (const std::exception& e) {
      m.rollback_if_open();
      return error{errc::internal, "append to " + m.options.path + ": " + e.what()};
    }
  }
  return error{errc::internal, "append retried more often than the batch has streams"};
}

result<std::vector<event_record>> sqlite_journal::read_stream(const stream_id& stream,
                                                              const stream_range& range) {
  impl& m = *impl_;
  std::vector<event_record> out;
  if (range.limit == 0) return out;
  try {
    auto key = m.key_of(stream);
    if (!key) return out;
    sqlite3_stmt* raw = m.select_range(*key, range);
    raw_reset_on_exit guard{raw};
    event_view v;
    while (step(m.db.getHandle(), raw)) {
      if (auto read = detail::decode_event_row(sqlite_row{raw}, v); !read)
        return std::move(read).err();
      out.push_back(v.to_record(stream));
    }
    return out;
  } catch (const SQLite::Exception& e) {
    return detail::sqlite_error(e, "read " + stream.str() + " from " + m.options.path);
  } catch (const std::exception& e) {
    return error{errc::internal, "read " + stream.str() + ": " + e.what()};
  }
}

result<std::size_t> sqlite_journal::for_each_in_stream(const stream_id& stream,
                                                       const stream_range& range,
                                                       const event_visitor& visit) {
  impl& m = *impl_;
  if (range.limit == 0) return std::size_t{0};
  try {
    auto key = m.key_of(stream);
    if (!key) return std::size_t{0};
    sqlite3_stmt* raw = m.select_range(*key, range);
    raw_reset_on_exit guard{raw};
    std::size_t visited = 0;
    event_view v;
    while (step(m.db.getHandle(), raw)) {
      if (auto read = detail::decode_event_row(sqlite_row{raw}, v); !read)
        return std::move(read).err();
      ++visited;
      auto next = visit(v);
      if (!next) return std::move(next).err();
      if (*next == visit_control::stop) break;
    }
    return visited;
  } catch (const SQLite::Exception& e) {
    return detail::sqlite_error(e, "read " + stream.str() + " from " + m.options.path);
  } catch (const std::exception& e) {
    return error{errc::internal, "read " + stream.str() + ": " + e.what()};
  }
}

result<std::vector<event_record>> sqlite_journal::find_command(const stream_id& stream,
                                                               std::string_view command_id) {
  impl& m = *impl_;
  if (command_id.empty()) return std::vector<event_record>{};
  if (!m.has_commands) return journal::find_command(stream, command_id);
  std::optional<version> first;
  try {
    auto key = m.key_of(stream);
    if (!key) return std::vector<event_record>{};
    first = m.first_version_of(*key, command_id);
  } catch (const SQLite::Exception& e) {
    return detail::sqlite_error(e, "find a command of " + stream.str() + " in " + m.options.path);
  } catch (const std::exception& e) {
    return error{errc::internal, "find a command of " + stream.str() + ": " + e.what()};
  }
  if (!first) return std::vector<event_record>{};
  auto a = anchor(stream);
  if (!a) return std::move(a).err();
  if (!*a || *first > (*a)->at) return read_command_events(*this, stream, *first, command_id);
  // Archived: the events cut kept without their bodies (none for a cut made before they were).
  std::vector<event_record> kept;
  try {
    SQLite::Statement has(m.db,
                          "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = "
                          "'archived_commands'");
    has.executeStep();
    if (has.getColumn(0).getInt64() == 1) {
      SQLite::Statement q(m.db,
                          "SELECT global_position, version, event_id, event_type, "
                          "schema_version, timestamp_us, user_id, command_id, correlation_id, "
                          "causation_id, hash FROM archived_commands WHERE stream_key = ?1 AND "
                          "version >= ?2 AND version <= ?3 ORDER BY version");
      q.bind(1, *m.key_of(stream));
      q.bind(2, clamp_to_int64(first->value));
      q.bind(3, clamp_to_int64((*a)->at.value));
      while (q.executeStep()) {
        event_record r;
        r.position = global_position{static_cast<std::uint64_t>(q.getColumn(0).getInt64())};
        r.stream_version = version{static_cast<std::uint64_t>(q.getColumn(1).getInt64())};
        r.event_id = q.getColumn(2).getString();
        r.event_type = q.getColumn(3).getString();
        r.schema_version = static_cast<std::uint32_t>(q.getColumn(4).getInt64());
        r.time = from_unix_micros(q.getColumn(5).getInt64());
        r.user_id = q.getColumn(6).getString();
        r.command_id = q.getColumn(7).getString();
        r.correlation_id = q.getColumn(8).getString();
        r.causation_id = q.getColumn(9).getString();
        r.hash = q.getColumn(10).getString();
        r.aggregate_type = std::string{stream.aggregate_type()};
        r.aggregate_id = std::string{stream.aggregate_id()};
        if (r.command_id != command_id) break;
        kept.push_back(std::move(r));
      }
    }
  } catch (const SQLite::Exception& e) {
    return detail::sqlite_error(
        e, "find an archived command of " + stream.str() + " in " + m.options.path);
  } catch (const std::exception& e) {
    return error{errc::internal, "find an archived command of " + stream.str() + ": " + e.what()};
  }
  return archived_command_events(*this, stream, *first, (*a)->at, std::move(kept), command_id);
}

result<std::vector<event_record>> sqlite_journal::read_all(global_position after,
                                                           std::size_t limit) {
  impl& m = *impl_;
  std::vector<event_record> out;
  if (limit == 0) return out;
  try {
    sqlite3_stmt* raw = m.prepared(m.select_all, std::string{"SELECT "} + event_columns +
                                                     ", s.aggregate_type, s.aggregate_id FROM "
                                                     "events e LEFT JOIN streams s ON "
                                                     "s.stream_key = e.stream_key WHERE "
                                                     "e.global_position > ?1 ORDER BY "
                                                     "e.global_position LIMIT ?2");
    raw_reset_on_exit guard{raw};
    sqlite3_bind_int64(raw, 1, clamp_to_int64(after.value));
    sqlite3_bind_int64(raw, 2, clamp_to_int64(limit));
    out.reserve(std::min<std::size_t>(limit, 4096));
    event_view v;
    while (step(m.db.getHandle(), raw)) {
      const sqlite_row row{raw};
      if (auto read = detail::decode_event_row(row, v); !read) return std::move(read).err();
      const auto type = row.text(detail::event_column_count);
      const auto id = row.text(detail::event_column_count + 1);
      if (!type || !id) {
        return error{errc::corrupted, "event at global position " +
                                          std::to_string(v.position.value) +
                                          " belongs to no readable stream"};
      }
      out.push_back(v.to_record(*type, *id));
    }
    return out;
  } catch (const SQLite::Exception& e) {
    return detail::sqlite_error(e, "read all from " + m.options.path);
  } catch (const std::exception& e) {
    return error{errc::internal, std::string{"read all: "} + e.what()};
  }
}

result<version> sqlite_journal::head(const stream_id& stream) {
  impl& m = *impl_;
  try {
    auto row = m.load_stream(stream);
    if (!row) return std::move(row).err();
    return row->head;
  } catch (const SQLite::Exception& e) {
    return detail::sqlite_error(e, "head of " + stream.str() + " in " + m.options.path);
  } catch (const std::exception& e) {
    return error{errc::internal, "head of " + stream.str() + ": " + e.what()};
  }
}

result<global_position> sqlite_journal::last_position() {
  impl& m = *impl_;
  try {
    return global_position{static_cast<std::uint64_t>(m.current_max_position())};
  } catch (const SQLite::Exception& e) {
    return detail::sqlite_error(e, "last position of " + m.options.path);
  } catch (const std::exception& e) {
    return error{errc::internal, std::string{"last position: "} + e.what()};
  }
}

const std::string& sqlite_journal::id() const noexcept {
  return impl_->id;
}

result<std::int64_t> sqlite_journal::set_max_page_count(std::int64_t pages) {
  impl& m = *impl_;
  try {
    return m.db.execAndGet("PRAGMA max_page_count=" + std::to_string(pages)).getInt64();
  } catch (const SQLite::Exception& e) {
    return detail::sqlite_error(e, "set max_page_count of " + m.options.path);
  } catch (const std::exception& e) {
    return error{errc::internal, std::string{"set max_page_count: "} + e.what()};
  }
}

namespace {

result<stream_anchor> anchor_from(const SQLite::Statement& s, const stream_id& stream, int first) {
  const SQLite::Column v = s.getColumn(first);
  const SQLite::Column h = s.getColumn(first + 1);
  const SQLite::Column a = s.getColumn(first + 2);
  if (v.getType() != SQLITE_INTEGER || v.getInt64() < 1 || h.getType() != SQLITE_TEXT ||
      a.getType() != SQLITE_TEXT)
    return error{errc::corrupted, "the anchor of " + stream.str() + " cannot be read"};
  return stream_anchor{stream, version{static_cast<std::uint64_t>(v.getInt64())}, h.getString(),
                       a.getString()};
}

}  // namespace

result<std::optional<stream_anchor>> sqlite_journal::anchor(const stream_id& stream) {
  impl& m = *impl_;
  using answer = std::optional<stream_anchor>;
  try {
    if (!m.anchors_exist()) return answer{};
    auto key = m.key_of(stream);
    if (!key) return answer{};
    SQLite::Statement s(m.db,
                        "SELECT version, hash, archive FROM stream_anchors WHERE stream_key = ?1");
    s.bind(1, *key);
    if (!s.executeStep()) return answer{};
    auto a = anchor_from(s, stream, 0);
    if (!a) return std::move(a).err();
    return answer{std::move(*a)};
  } catch (const SQLite::Exception& e) {
    return detail::sqlite_error(e, "anchor of " + stream.str() + " in " + m.options.path);
  } catch (const std::exception& e) {
    return error{errc::internal, "anchor of " + stream.str() + ": " + e.what()};
  }
}

result<std::vector<stream_anchor>> sqlite_journal::anchors() {
  impl& m = *impl_;
  std::vector<stream_anchor> out;
  try {
    if (!m.anchors_exist()) return out;
    SQLite::Statement s(m.db,
                        "SELECT s.name, a.version, a.hash, a.archive FROM stream_anchors a "
                        "JOIN streams s ON s.stream_key = a.stream_key ORDER BY s.name");
    while (s.executeStep()) {
      auto a = anchor_from(s, stream_id::parse(s.getColumn(0).getString()), 1);
      if (!a) return std::move(a).err();
      out.push_back(std::move(*a));
    }
    return out;
  } catch (const SQLite::Exception& e) {
    return detail::sqlite_error(e, "anchors in " + m.options.path);
  } catch (const std::exception& e) {
    return error{errc::internal, std::string{"anchors: "} + e.what()};
  }
}

result<std::optional<archive_mark>> sqlite_journal::archived() {
  impl& m = *impl_;
  using answer = std::optional<archive_mark>;
  if (!m.has_meta) return answer{};
  try {
    SQLite::Statement s(m.db,
                        "SELECT key, CAST(value AS INTEGER) FROM journal_meta WHERE key = "
                        "'archived_through' OR key LIKE 'archive:%' ORDER BY rowid");
    answer out;
    while (s.executeStep()) {
      if (!out) out.emplace();
      const std::string key = s.getColumn(0).getString();
      const std::int64_t through = s.getColumn(1).getInt64();
      if (key == "archived_through") {
        out->through =
            global_position{static_cast<std::uint64_t>(std::max<std::int64_t>(through, 0))};
      } else {
        out->archives.push_back(key.substr(8));
      }
    }
    return out;
  } catch (const SQLite::Exception& e) {
    return detail::sqlite_error(e, "archives of " + m.options.path);
  } catch (const std::exception& e) {
    return error{errc::internal, std::string{"archives: "} + e.what()};
  }
}

result<std::uint64_t> sqlite_journal::cut(const std::vector<stream_cut>& cuts,
                                          const std::string& archive) {
  if (auto checked = check_cut_request(cuts, archive); !checked) return std::move(checked).err();
  impl& m = *impl_;
  if (m.read_only || !m.has_meta)
    return error{errc::unavailable,
                 "database is read-only: " + m.options.path + " cannot have events archived"};
  try {
    m.db.exec("BEGIN IMMEDIATE");
    m.db.exec(anchors_sql);
    std::uint64_t removed = 0;
    std::int64_t through_position = 0;
    for (const stream_cut& c : cuts) {
      SQLite::Statement key_of(m.db, "SELECT stream_key FROM streams WHERE name = ?1");
      key_of.bind(1, c.stream.str());
      if (!key_of.executeStep()) {
        m.rollback_if_open();
        return error{errc::conflict, "cut of " + c.stream.str() + ": no such stream"};
      }
      const std::int64_t key = key_of.getColumn(0).getInt64();
      SQLite::Statement current(m.db, "SELECT version FROM stream_anchors WHERE stream_key = ?1");
      current.bind(1, key);
      if (current.executeStep() &&
          current.getColumn(0).getInt64() >= clamp_to_int64(c.through.value))
        continue;  // already cut this far (a resumed run)
      SQLite::Statement at(m.db, "SELECT hash FROM events WHERE stream_key = ?1 AND version = ?2");
      at.bind(1, key);
      at.bind(2, clamp_to_int64(c.through.value));
      if (!at.executeStep() || at.getColumn(0).getString() != c.hash) {
        m.rollback_if_open();
        return error{errc::conflict, "cut of " + c.stream.str() + " through v" +
                                         std::to_string(c.through.value) +
                                         ": the journal has no event with the archived hash there"};
      }
      SQLite::Statement last(m.db,
                             "SELECT COALESCE(MAX(global_position), 0) FROM events "
                             "WHERE stream_key = ?1 AND version <= ?2");
      last.bind(1, key);
      last.bind(2, clamp_to_int64(c.through.value));
      last.executeStep();
      through_position = std::max(through_position, last.getColumn(0).getInt64());
      // What find_command answers for the archived commands: their events without bodies.
      SQLite::Statement keep(m.db,
                             "INSERT OR IGNORE INTO archived_commands (stream_key, version, "
                             "global_position, event_id, event_type, schema_version, "
                             "timestamp_us, user_id, command_id, correlation_id, causation_id, "
                             "hash) SELECT stream_key, version, global_position, event_id, "
                             "event_type, schema_version, timestamp_us, user_id, command_id, "
                             "correlation_id, causation_id, hash FROM events WHERE stream_key = "
                             "?1 AND version <= ?2 AND command_id <> ''");
      keep.bind(1, key);
      keep.bind(2, clamp_to_int64(c.through.value));
      keep.exec();
      SQLite::Statement del(m.db, "DELETE FROM events WHERE stream_key = ?1 AND version <= ?2");
      del.bind(1, key);
      del.bind(2, clamp_to_int64(c.through.value));
      removed += static_cast<std::uint64_t>(del.exec());
      SQLite::Statement put(m.db,
                            "INSERT OR REPLACE INTO stream_anchors (stream_key, version, hash, "
                            "archive) VALUES (?1, ?2, ?3, ?4)");
      put.bind(1, key);
      put.bind(2, clamp_to_int64(c.through.value));
      put.bind(3, c.hash);
      put.bind(4, archive);
      put.exec();
    }
    // Both marks keep the highest position they ever saw (journal_meta.value is text).
    for (const std::string& key : {std::string{"archived_through"}, "archive:" + archive}) {
      SQLite::Statement mark(m.db,
                             "INSERT INTO journal_meta (key, value) VALUES (?1, ?2) "
                             "ON CONFLICT (key) DO UPDATE SET value = CAST(max(CAST(value AS "
                             "INTEGER), CAST(excluded.value AS INTEGER)) AS TEXT)");
      mark.bind(1, key);
      mark.bind(2, std::to_string(through_position));
      mark.exec();
    }
    if (m.db.execAndGet("PRAGMA user_version").getInt() < archived_schema_version)
      m.db.exec("PRAGMA user_version=" + std::to_string(archived_schema_version));
    m.db.exec("COMMIT");
    m.has_anchors = true;
    return removed;
  } catch (const SQLite::Exception& e) {
    m.rollback_if_open();
    return detail::sqlite_error(e, "cut events of " + m.options.path);
  } catch (const std::exception& e) {
    m.rollback_if_open();
    return error{errc::internal, std::string{"cut events: "} + e.what()};
  }
}

sqlite_journal_factory::sqlite_journal_factory(sqlite_journal_options options)
    : options_(std::move(options)) {}

result<std::unique_ptr<journal>> sqlite_journal_factory::open() {
  auto j = sqlite_journal::open(options_);
  if (!j) return std::move(j).err();
  return std::unique_ptr<journal>{std::move(*j)};
}

}  // namespace strata::persistence
