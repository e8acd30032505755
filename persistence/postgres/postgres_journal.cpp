// Storage format of the PostgreSQL journal, in the schema named by the options (here "s"):
//
//   CREATE TABLE s.streams (
//     stream_key     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
//     name           text   NOT NULL UNIQUE,      -- "<type>-<id>"
//     aggregate_type text   NOT NULL,
//     aggregate_id   text   NOT NULL,
//     head           bigint NOT NULL,             -- version of the stream's last event
//     last_hash      text   NOT NULL);            -- chain hash of that event ('' for none)
//
//   CREATE TABLE s.events (
//     global_position bigint PRIMARY KEY,         -- gap-free, in commit order
//     stream_key      bigint NOT NULL REFERENCES s.streams,
//     version         bigint NOT NULL,
//     event_id, event_type text, schema_version integer, aggregate_type, aggregate_id text,
//     occurred_at     timestamptz NOT NULL,       -- microseconds, UTC
//     user_id, command_id, correlation_id, causation_id text NOT NULL,
//     data_text       text  NOT NULL,             -- the JSON exactly as written (hashed)
//     data            jsonb GENERATED ALWAYS AS (data_text::jsonb) STORED,
//     hash            text  NOT NULL,
//     UNIQUE (stream_key, version));
//
//   CREATE TABLE s.commands (                     -- one row per append with a command id
//     stream_key    bigint NOT NULL,
//     command_id    text   NOT NULL,
//     first_version bigint NOT NULL,              -- version of the append's first event
//     PRIMARY KEY (command_id, stream_key));      -- a command id is applied once per stream
//   (created, and filled from the events, on the first open of a schema without it)
//
//   CREATE TABLE s.journal_position (             -- exactly one row
//     singleton bool PRIMARY KEY CHECK (singleton), last_position bigint NOT NULL);
//
//   CREATE TABLE s.journal_meta (                 -- exactly one row
//     singleton bool PRIMARY KEY CHECK (singleton),
//     journal_id text NOT NULL);                  -- journal::id, made when the row was
//                                                 -- inserted (with the schema, or on the
//                                                 -- first open of a schema without it)
//
//   CREATE TABLE s.stream_anchors (               -- streams whose oldest events were archived
//     stream_key bigint PRIMARY KEY REFERENCES s.streams,
//     version bigint NOT NULL, hash text NOT NULL,   -- the last archived event: the hot chain
//     archive text NOT NULL);                        -- continues from it; the archive's id
//
//   CREATE TABLE s.archives (                     -- every archive events were moved to
//     name text PRIMARY KEY, through_position bigint NOT NULL, archived_at timestamptz);
//
//   CREATE TABLE s.archived_commands (            -- archived events with a command id: every
//     global_position, stream_key, version, ...,  -- column of events but the body, written by
//     hash, PRIMARY KEY (stream_key, version));   -- journal::cut before it deletes them, for
//                                                 -- find_command's answer
//
// Archival (journal::cut) deletes a stream's oldest events holding the locks an append takes
// (its stream rows, then the counter row); the streams row keeps head and last_hash and the
// counter row is not touched, so positions never go back. last_position is the greater of the
// counter and the newest event.
//
// An append costs a constant number of statements, whatever the batch holds:
//   BEGIN;
//   INSERT INTO streams ... ON CONFLICT (name) DO NOTHING;   -- only when it has new streams
//   SELECT ... streams LEFT JOIN commands ... ORDER BY name COLLATE "C" FOR UPDATE OF streams;
//              -- the heads, locked, and whether each stream already has the append's command
//   -- duplicates and conflicts are decided in the client, hashes are chained from the locked
//   -- last_hash (the hash does not cover the global position)
//   WITH counter AS (UPDATE journal_position ... RETURNING base),   -- serialises writers
//        moved AS (UPDATE streams ... FROM unnest(...)),             -- until their commit
//        recorded AS (INSERT INTO commands SELECT ... FROM unnest(...)),
//        written AS (INSERT INTO events SELECT base + ordinal, ... FROM unnest(...))
//   SELECT base FROM counter;
//   COMMIT;
// (the write statement once per group of whole streams of at most insert_chunk_rows events).
// When the instance knows every stream's head and hash from its own last append or lock of it
// (options.known_heads) and the batch is one group, the whole append is one statement outside
// a transaction block, which commits on its own (write_known):
//   WITH locked AS (SELECT ... streams WHERE head and last_hash are the known ones
//                   ORDER BY name COLLATE "C" FOR UPDATE),
//        counter AS (UPDATE journal_position ... WHERE (SELECT count(*) FROM locked) = n ...),
//        moved, recorded, written AS (... FROM counter, unnest(...))
//   SELECT base FROM counter;
// Same locks in the same order; no row back when a stream moved meanwhile: nothing written,
// and the usual transaction runs. A duplicate command id fails it with a unique violation,
// which the usual transaction then decides.
// Every writer takes its locks in one order: the rows of its new streams, inserted in the byte
// order of their names; its stream rows, locked in that order; the counter row, last. Writers of
// disjoint streams therefore run side by side up to the write, and the counter row is held only
// from the write statement to the commit.
// Arrays go as text literals of one parameter each, so every statement is prepared once.
// A stale stream therefore writes nothing and takes no position. A row that only one stream
// can cause to fail (data that is not JSON, 22xxx; a unique violation, 23505, from a writer
// that bypasses the stream rows) aborts that attempt: the batch is then run again, in a new
// transaction, every step of every stream in a SAVEPOINT of its own, so that the failing stream
// alone is rolled back and gives its positions back while the others commit.

#include "strata/persistence/postgres/postgres_journal.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <limits>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "strata/persistence/audit_chain.hpp"
#include "strata/persistence/detail/event_row.hpp"
#include "strata/persistence/postgres/detail/pg_session.hpp"

namespace strata::persistence {

namespace {

constexpr std::int64_t max_i64 = std::numeric_limits<std::int64_t>::max();

std::int64_t clamp_i64(std::uint64_t v) {
  return v > static_cast<std::uint64_t>(max_i64) ? max_i64 : static_cast<std::int64_t>(v);
}

// The columns every read selects: detail::event_column order, then the stream's type and id.
constexpr std::string_view event_columns =
    "e.global_position, e.version, e.event_id, e.event_type, e.schema_version, "
    "(extract(epoch from e.occurred_at) * 1000000)::bigint, "
    "e.user_id, e.command_id, e.correlation_id, e.causation_id, e.data_text, e.hash, "
    "e.aggregate_type, e.aggregate_id";

// The same for a read of `event_fields::fold`: the audit fields as empty texts, which neither
// the server nor the client then handles.
constexpr std::string_view fold_columns =
    "e.global_position, e.version, ''::text, e.event_type, e.schema_version, "
    "(extract(epoch from e.occurred_at) * 1000000)::bigint, "
    "''::text, e.command_id, ''::text, ''::text, e.data_text, ''::text, "
    "e.aggregate_type, e.aggregate_id";

// A result row as `detail::decode_event_row` reads it; the views point into the result.
struct pg_row {
  const pqxx::row& row;

  std::optional<std::int64_t> integer(int col) const {
    const pqxx::field f = row[col];
    if (f.is_null()) return std::nullopt;
    return f.as<std::int64_t>();
  }
  std::optional<std::string_view> text(int col) const {
    const pqxx::field f = row[col];
    if (f.is_null()) return std::nullopt;
    return std::string_view{f.c_str(), f.size()};
  }
};

result<event_record> decode_event(const pqxx::row& row, global_position previous) {
  try {
    const pg_row r{row};
    event_view v;
    if (auto read = detail::decode_event_row(r, v); !read) return std::move(read).err();
    const auto type = r.text(detail::event_column_count);
    const auto id = r.text(detail::event_column_count + 1);
    if (!type || !id || type->empty() || id->empty())
      return error{errc::corrupted, "event at global position " + std::to_string(v.position.value) +
                                        " has no stream name"};
    return v.to_record(*type, *id);
  } catch (const std::exception& e) {
    return error{errc::corrupted, "event after global position " + std::to_string(previous.value) +
                                      " cannot be read: " + e.what()};
  }
}

result<std::vector<event_record>> decode_events(const pqxx::result& rows) {
  std::vector<event_record> out;
  out.reserve(rows.size());
  global_position previous{};
  for (const auto& row : rows) {
    auto r = decode_event(row, previous);
    if (!r) return std::move(r).err();
    previous = r->position;
    out.push_back(std::move(*r));
  }
  return out;
}

std::string conflict_message(const stream_id& stream, version expected, version head) {
  return stream.str() + " expected version " + std::to_string(expected.value) + ", head is " +
         std::to_string(head.value);
}

// Builds the text form of a PostgreSQL array ("{"a","b"}" or "{1,2}") for one unnest()
// parameter: every text element is quoted, with '"' and '\' escaped.
class array_literal {
 public:
  void reserve(std::size_t bytes) { text_.reserve(bytes); }

  void add(std::string_view v) {
    separate();
    text_ += '"';
    std::size_t from = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (v[i] != '"' && v[i] != '\\') continue;
      text_.append(v.data() + from, i - from);
      text_ += '\\';
      from = i;
    }
    text_.append(v.data() + from, v.size() - from);
    text_ += '"';
  }

  void add(std::int64_t v) {
    separate();
    text_ += std::to_string(v);
  }

  const std::string& finish() {
    if (text_.empty()) text_ = "{";
    text_ += '}';
    return text_;
  }

 private:
  void separate() { text_ += text_.empty() ? '{' : ','; }

  std::string text_;
};

// The parameters of one `write` statement: the heads to move, the command index rows and the
// events. Positions are not known before the statement takes them from the counter row; each
// event carries its ordinal in the group (1, 2, ...) and lands at the taken base plus it.
struct write_set {
  array_literal moved_key, moved_head, moved_hash;
  array_literal key, ordinal, stream_version, event_id, event_type, schema_version, aggregate_type,
      aggregate_id, micros, user_id, command_id, correlation_id, causation_id, data, hash;
  array_literal command_key, command, command_first;
  array_literal known_head, known_hash;  // the heads the group was built on (write_known)
  std::vector<std::size_t> streams;      // the batch indices of the group's streams, in order
  std::size_t events = 0;

  void add(std::size_t index, std::int64_t stream_key, version head, std::string_view head_hash,
           const std::vector<event_record>& records) {
    const event_record& last = records.back();
    known_head.add(clamp_i64(head.value));
    known_hash.add(head_hash);
    moved_key.add(stream_key);
    moved_head.add(clamp_i64(last.stream_version.value));
    moved_hash.add(last.hash);
    const event_record& first = records.front();
    if (!first.command_id.empty()) {
      command_key.add(stream_key);
      command.add(first.command_id);
      command_first.add(clamp_i64(first.stream_version.value));
    }
    for (const event_record& r : records) {
      key.add(stream_key);
      ordinal.add(clamp_i64(++events));
      stream_version.add(clamp_i64(r.stream_version.value));
      event_id.add(r.event_id);
      event_type.add(r.event_type);
      schema_version.add(static_cast<std::int64_t>(r.schema_version));
      aggregate_type.add(r.aggregate_type);
      aggregate_id.add(r.aggregate_id);
      micros.add(to_unix_micros(r.time));
      user_id.add(r.user_id);
      command_id.add(r.command_id);
      correlation_id.add(r.correlation_id);
      causation_id.add(r.causation_id);
      data.add(r.data);
      hash.add(r.hash);
    }
    streams.push_back(index);
  }
};

// A stream's row as the append found it, locked.
struct locked_head {
  std::int64_t key = 0;
  version head{};
  std::string last_hash;
  bool has_command = false;  // the stream already has the append's command id
};

// The batch's streams found in the store, by name.
using locked_heads = std::unordered_map<std::string, locked_head>;

// The batch indices in the byte order of their stream names: the order in which every writer
// creates and locks stream rows, so that two writers never wait for each other in a cycle.
std::vector<std::size_t> in_name_order(const std::vector<stream_append>& batch) {
  std::vector<std::size_t> order(batch.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return batch[a].stream.str() < batch[b].stream.str();
  });
  return order;
}

// True for the driver errors that one stream's rows can cause: 23505 (the last guard,
// UNIQUE(stream_key, version) or UNIQUE(name), caught a writer that does not take the counter
// row) and class 22 (data that is not JSON, a time out of range, text that is not UTF-8).
bool is_stream_error(const pqxx::sql_error& e) {
  const std::string& state = e.sqlstate();
  return state == "23505" || state.substr(0, 2) == "22";
}

error stream_error(const stream_id& stream, const pqxx::sql_error& e) {
  return detail::pg_error(e, stream.str());
}

}  // namespace

struct postgres_journal::impl {
  postgres_journal_options options;
  std::string s;   // "<schema>." prefix for table names
  std::string id;  // journal::id, read at open
  detail::pg_session session;
  // Stream heads as this instance last locked or wrote them, by name (append_known).
  std::unordered_map<std::string, locked_head> remembered;
  std::size_t next_eviction = 0;                // remember_head's bucket to look at next
  std::atomic<std::uint64_t> one_statement{0};  // appends append_known wrote; read anywhere

  explicit impl(postgres_journal_options o)
      : options(std::move(o)),
        s(options.schema + "."),
        session(options.conninfo, [this](pqxx::connection& c) { prepare(c); }) {}

  // The text of the write statement (see prepare), and with `known` of write_known.
  std::string write_sql(bool known) const {
    const std::string gate = known ? "counter, " : "";
    std::string sql = "WITH ";
    if (known)
      sql += "locked AS (SELECT t.stream_key FROM " + s +
             "streams t JOIN unnest($2::bigint[], $23::bigint[], $24::text[]) AS "
             "k(stream_key, head, last_hash) ON t.stream_key = k.stream_key AND t.head = k.head "
             "AND t.last_hash = k.last_hash ORDER BY t.name COLLATE \"C\" FOR UPDATE OF t), ";
    sql += "counter AS (UPDATE " + s +
           "journal_position SET last_position = last_position + $1::bigint WHERE singleton ";
    if (known) sql += "AND (SELECT count(*) FROM locked) = cardinality($2::bigint[]) ";
    sql +=
        "RETURNING last_position - $1::bigint AS base), "
        "moved AS (UPDATE " +
        s + "streams AS t SET head = u.head, last_hash = u.last_hash FROM " + gate +
        "unnest($2::bigint[], $3::bigint[], $4::text[]) AS u(stream_key, head, last_hash) "
        "WHERE t.stream_key = u.stream_key), "
        "recorded AS (INSERT INTO " +
        s + "commands (stream_key, command_id, first_version) SELECT r.* FROM " + gate +
        "unnest($5::bigint[], $6::text[], $7::bigint[]) AS r), "
        "written AS (INSERT INTO " +
        s +
        "events (stream_key, global_position, version, event_id, event_type, "
        "schema_version, aggregate_type, aggregate_id, occurred_at, user_id, "
        "command_id, correlation_id, causation_id, data_text, hash) "
        "SELECT e.stream_key, c.base + e.ordinal, e.version, "
        "e.event_id, e.event_type, e.schema_version, e.aggregate_type, "
        "e.aggregate_id, timestamptz 'epoch' + e.micros * interval '1 microsecond', "
        "e.user_id, e.command_id, e.correlation_id, e.causation_id, e.data_text, "
        "e.hash FROM counter c, unnest($8::bigint[], $9::bigint[], $10::bigint[], "
        "$11::text[], $12::text[], $13::integer[], $14::text[], $15::text[], "
        "$16::bigint[], $17::text[], $18::text[], $19::text[], $20::text[], "
        "$21::text[], $22::text[]) AS e(stream_key, ordinal, version, event_id, "
        "event_type, schema_version, aggregate_type, aggregate_id, micros, user_id, "
        "command_id, correlation_id, causation_id, data_text, hash)) "
        "SELECT base FROM counter";
    return sql;
  }

  void prepare(pqxx::connection& c) {
    if (options.idle_in_transaction_timeout_ms > 0)
      pqxx::nontransaction{c}.exec0("SET idle_in_transaction_session_timeout = " +
                                    std::to_string(options.idle_in_transaction_timeout_ms));
    c.prepare("lock_position",
              "SELECT last_position FROM " + s + "journal_position WHERE singleton FOR UPDATE");
    // Inserts the rows of new streams (head 0, no hash) that the store does not have yet, in
    // the byte order of their names; answers the names it inserted. A name another writer is
    // inserting at the same time waits for that writer's commit, then is left alone.
    c.prepare("create_streams",
              "INSERT INTO " + s +
                  "streams (name, aggregate_type, aggregate_id, head, last_hash) "
                  "SELECT u.name, u.aggregate_type, u.aggregate_id, 0, '' FROM "
                  "unnest($1::text[], $2::text[], $3::text[]) AS u(name, aggregate_type, "
                  "aggregate_id) ORDER BY u.name COLLATE \"C\" "
                  "ON CONFLICT (name) DO NOTHING RETURNING name");
    // A stream row this append inserted and then could not write (the per-stream path).
    c.prepare("drop_stream", "DELETE FROM " + s + "streams WHERE name = $1");
    // Locks the heads of a batch's streams in the byte order of their names, so that writers
    // locking overlapping sets cannot deadlock.
    // The command index is probed in the same statement: a new command id costs no round trip.
    c.prepare("lock_heads",
              "SELECT t.name, t.stream_key, t.head, t.last_hash, "
              "c.stream_key IS NOT NULL FROM unnest($1::text[], $2::text[]) AS "
              "u(name, command_id) JOIN " +
                  s + "streams t ON t.name = u.name LEFT JOIN " + s +
                  "commands c ON u.command_id <> '' AND c.stream_key = "
                  "t.stream_key AND c.command_id = u.command_id "
                  "ORDER BY t.name COLLATE \"C\" FOR UPDATE OF t");
    // Everything a group of streams writes, in one statement. The counter row is the only lock
    // it can wait for (the stream rows are locked already), and it holds it until commit: the
    // main query reads `counter`, so its update runs first, and the events land at the base it
    // answers plus their ordinals.
    c.prepare("write", write_sql(false));
    // The whole append in one statement, run outside a transaction block so that it commits
    // on its own: the batch's stream rows are locked (in name order, as lock_heads does) only
    // where they still have the head and hash the writer knows ($23, $24); the counter row is
    // taken only when all of them do, and the rest of the statement writes only when it was.
    // No row back means some stream moved since: nothing was written.
    c.prepare("write_known", write_sql(true));
    c.prepare("head", "SELECT head FROM " + s + "streams WHERE name = $1");
    c.prepare("command_first", "SELECT c.first_version FROM " + s + "commands c JOIN " + s +
                                   "streams t ON t.stream_key = c.stream_key "
                                   "WHERE t.name = $1 AND c.command_id = $2");
    c.prepare("last_position", "SELECT greatest((SELECT coalesce(max(global_position), 0) FROM " +
                                   s + "events), (SELECT coalesce(max(last_position), 0) FROM " +
                                   s + "journal_position))");
    const std::string from_stream = " FROM " + s +
                                    "events e WHERE e.stream_key = (SELECT stream_key FROM " + s +
                                    "streams WHERE name = $1) AND e.version >= $2 AND e.version "
                                    "<= $3";
    const std::string until =
        " AND e.occurred_at <= timestamptz 'epoch' + $5::bigint * interval '1 microsecond'";
    const std::string in_order = " ORDER BY e.version LIMIT $4";
    for (const bool fold : {false, true}) {
      const std::string select =
          "SELECT " + std::string{fold ? fold_columns : event_columns} + from_stream;
      const std::string suffix = fold ? "_fold" : "";
      c.prepare("read_stream" + suffix, select + in_order);
      c.prepare("read_stream_until" + suffix, select + until + in_order);
    }
    c.prepare("read_all", "SELECT " + std::string{event_columns} + " FROM " + s +
                              "events e WHERE e.global_position > $1 "
                              "ORDER BY e.global_position LIMIT $2");
  }

  // The stored id, or nothing when the meta table or its row is missing.
  std::optional<std::string> stored_id(pqxx::connection& c) const {
    pqxx::nontransaction tx{c};
    auto exists = tx.exec_params1("SELECT to_regclass($1) IS NOT NULL", s + "journal_meta");
    if (!exists[0].as<bool>()) return std::nullopt;
    auto rows = tx.exec("SELECT journal_id FROM " + s + "journal_meta WHERE singleton");
    if (rows.empty() || rows[0][0].is_null()) return std::nullopt;
    return rows[0][0].as<std::string>();
  }

  // Reads the journal's id into `id`, creating the schema, its tables and the id when any
  // of them is missing.
  result<void> create_schema(pqxx::connection& c) {
    bool tables = false;
    {
      pqxx::nontransaction probe{c};
      auto r = probe.exec_params1(
          "SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL AND "
          "to_regclass($3) IS NOT NULL AND to_regclass($4) IS NOT NULL AND "
          "to_regclass($5) IS NOT NULL AND to_regclass($6) IS NOT NULL AND "
          "to_regclass($7) IS NOT NULL",
          s + "streams", s + "events", s + "journal_position", s + "stream_anchors", s + "archives",
          s + "commands", s + "archived_commands");
      tables = r[0].as<bool>();
    }
    if (tables) {
      if (auto stored = stored_id(c)) {
        id = std::move(*stored);
        return ok();
      }
    }
    pqxx::work tx{c};
    tx.exec0("SET LOCAL client_min_messages = warning");
    // CREATE ... IF NOT EXISTS is not safe against concurrent creators (both may pass the
    // check and one then fails on a catalog unique index), so creators take turns.
    tx.exec_params("SELECT pg_advisory_xact_lock(hashtext($1))",
                   "strata.journal.schema." + options.schema);
    tx.exec0("CREATE SCHEMA IF NOT EXISTS " + options.schema);
    tx.exec0("CREATE TABLE IF NOT EXISTS " + s +
             "streams (stream_key bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
             "name text NOT NULL UNIQUE, aggregate_type text NOT NULL, "
             "aggregate_id text NOT NULL, head bigint NOT NULL, last_hash text NOT NULL)");
    tx.exec0("CREATE TABLE IF NOT EXISTS " + s +
             "events (global_position bigint PRIMARY KEY, "
             "stream_key bigint NOT NULL REFERENCES " +
             s +
             "streams (stream_key), "
             "version bigint NOT NULL, event_id text NOT NULL, event_type text NOT NULL, "
             "schema_version integer NOT NULL, aggregate_type text NOT NULL, "
             "aggregate_id text NOT NULL, occurred_at timestamptz NOT NULL, "
             "user_id text NOT NULL, command_id text NOT NULL, correlation_id text NOT NULL, "
             "causation_id text NOT NULL, data_text text NOT NULL, "
             "data jsonb GENERATED ALWAYS AS (data_text::jsonb) STORED, hash text NOT NULL, "
             "UNIQUE (stream_key, version))");
    // A schema written before command ids were indexed gets the index now, from its events
    // (each id's lowest version; rows an id wrote twice before stay as they are).
    {
      auto has = tx.exec_params1("SELECT to_regclass($1) IS NOT NULL", s + "commands");
      if (!has[0].as<bool>()) {
        tx.exec0("CREATE TABLE " + s +
                 "commands (stream_key bigint NOT NULL, command_id text NOT NULL, "
                 "first_version bigint NOT NULL, PRIMARY KEY (command_id, stream_key))");
        tx.exec0("INSERT INTO " + s +
                 "commands (stream_key, command_id, first_version) "
                 "SELECT stream_key, command_id, min(version) FROM " +
                 s + "events WHERE command_id <> '' GROUP BY stream_key, command_id");
      }
    }
    tx.exec0("CREATE TABLE IF NOT EXISTS " + s +
             "journal_position (singleton boolean PRIMARY KEY CHECK (singleton), "
             "last_position bigint NOT NULL)");
    tx.exec0("INSERT INTO " + s +
             "journal_position VALUES (true, 0) ON CONFLICT (singleton) DO NOTHING");
    tx.exec0("CREATE TABLE IF NOT EXISTS " + s +
             "journal_meta (singleton boolean PRIMARY KEY CHECK (singleton), "
             "journal_id text NOT NULL)");
    tx.exec_params0(
        "INSERT INTO " + s + "journal_meta VALUES (true, $1) ON CONFLICT (singleton) DO NOTHING",
        make_journal_id());
    tx.exec0("CREATE TABLE IF NOT EXISTS " + s +
             "stream_anchors (stream_key bigint PRIMARY KEY REFERENCES " + s +
             "streams (stream_key), version bigint NOT NULL, hash text NOT NULL, "
             "archive text NOT NULL)");
    tx.exec0("CREATE TABLE IF NOT EXISTS " + s +
             "archives (name text PRIMARY KEY, through_position bigint NOT NULL, "
             "archived_at timestamptz NOT NULL DEFAULT now())");
    tx.exec0("CREATE TABLE IF NOT EXISTS " + s +
             "archived_commands (global_position bigint NOT NULL, stream_key bigint NOT NULL, "
             "version bigint NOT NULL, event_id text NOT NULL, event_type text NOT NULL, "
             "schema_version integer NOT NULL, aggregate_type text NOT NULL, "
             "aggregate_id text NOT NULL, occurred_at timestamptz NOT NULL, "
             "user_id text NOT NULL, command_id text NOT NULL, correlation_id text NOT NULL, "
             "causation_id text NOT NULL, hash text NOT NULL, PRIMARY KEY (stream_key, version))");
    tx.commit();
    auto stored = stored_id(c);
    if (!stored) return error{errc::corrupted, "postgres journal: " + s + "journal_meta has no id"};
    id = std::move(*stored);
    return ok();
  }

  // Inserts the rows of the new streams among `which` (expected version 0) that the store does
  // not have, in the order given (byte order of names); adds the names inserted to `created`.
  void create_streams(pqxx::work& tx, const std::vector<stream_append>& batch,
                      const std::vector<std::size_t>& which,
                      std::unordered_set<std::string>& created) const {
    array_literal names, types, ids;
    bool any = false;
    for (std::size_t i : which) {
      if (batch[i].expected != version{0}) continue;
      names.add(batch[i].stream.str());
      types.add(batch[i].stream.aggregate_type());
      ids.add(batch[i].stream.aggregate_id());
      any = true;
    }
    if (!any) return;
    pqxx::result inserted =
        tx.exec_prepared("create_streams", names.finish(), types.finish(), ids.finish());
    for (const auto& row : inserted) created.insert(row[0].as<std::string>());
  }

  // Locks the rows of the streams among `which` and adds them to `heads`.
  void lock_heads(pqxx::work& tx, const std::vector<stream_append>& batch,
                  const std::vector<std::size_t>& which, locked_heads& heads) const {
    array_literal names;
    array_literal commands;
    for (std::size_t i : which) {
      names.add(batch[i].stream.str());
      commands.add(batch[i].events.front().command_id);
    }
    pqxx::result locked = tx.exec_prepared("lock_heads", names.finish(), commands.finish());
    for (const auto& row : locked) {
      locked_head h;
      h.key = row[1].as<std::int64_t>();
      h.head = version{static_cast<std::uint64_t>(row[2].as<std::int64_t>())};
      h.last_hash = row[3].as<std::string>();
      h.has_command = row[4].as<bool>();
      heads.insert_or_assign(row[0].as<std::string>(), std::move(h));
    }
  }

  // Decides duplicates and conflicts from the locked heads, setting their outcomes; answers the
  // streams to write, in batch order. Streams whose outcome is already set are skipped.
  static std::vector<std::size_t> decide(const std::vector<stream_append>& batch,
                                         const locked_heads& heads,
                                         std::vector<stream_outcome>& outcomes,
                                         const std::vector<bool>& settled) {
    std::vector<std::size_t> writing;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (settled[i]) continue;
      const stream_append& part = batch[i];
      auto found = heads.find(part.stream.str());
      version head = found == heads.end() ? version{0} : found->second.head;
      if (found != heads.end() && found->second.has_command) {
        outcomes[i] = duplicate_command(part.stream, part.events.front().command_id);
        continue;
      }
      if (found == heads.end() || head != part.expected) {
        outcomes[i] = error{errc::conflict, conflict_message(part.stream, part.expected, head)};
        continue;
      }
      writing.push_back(i);
    }
    return writing;
  }

  // Writes the streams `writing` (locked, in batch order) with one `write` per group of at most
  // insert_chunk_rows events (a stream is never split) and sets their outcomes. The first
  // statement takes the counter row. Throws driver exceptions, including a stream error.
  // With `known` (append_known: one group, `heads` from the writer's memory, `tx` outside a
  // transaction block) the statement is write_known; false when it wrote nothing.
  bool write_streams(pqxx::transaction_base& tx, const std::vector<stream_append>& batch,
                     const std::vector<std::size_t>& writing, const locked_heads& heads,
                     std::vector<stream_outcome>& outcomes, bool known = false) const {
    write_set group;
    auto flush = [&]() -> bool {
      if (group.events == 0) return true;
      auto exec = [&](const char* statement, auto&&... known_heads) {
        return tx.exec_prepared(
            statement, clamp_i64(group.events), group.moved_key.finish(), group.moved_head.finish(),
            group.moved_hash.finish(), group.command_key.finish(), group.command.finish(),
            group.command_first.finish(), group.key.finish(), group.ordinal.finish(),
            group.stream_version.finish(), group.event_id.finish(), group.event_type.finish(),
            group.schema_version.finish(), group.aggregate_type.finish(),
            group.aggregate_id.finish(), group.micros.finish(), group.user_id.finish(),
            group.command_id.finish(), group.correlation_id.finish(), group.causation_id.finish(),
            group.data.finish(), group.hash.finish(), known_heads...);
      };
      const pqxx::result rows =
          known ? exec("write_known", group.known_head.finish(), group.known_hash.finish())
                : exec("write");
      if (rows.size() != 1) {
        if (known) return false;
        throw pqxx::unexpected_rows{"write answered " + std::to_string(rows.size()) + " rows"};
      }
      std::uint64_t next = rows[0][0].as<std::uint64_t>();
      for (std::size_t i : group.streams)
        for (event_record& r : *outcomes[i]) r.position = global_position{++next};
      group = write_set{};
      return true;
    };
    for (std::size_t i : writing) {
      const stream_append& part = batch[i];
      const locked_head& head = heads.at(part.stream.str());
      std::string previous_hash = head.last_hash;
      std::vector<event_record> records;
      records.reserve(part.events.size());
      for (std::size_t k = 0; k < part.events.size(); ++k) {
        event_record r = make_record(part.stream, part.events[k],
                                     version{part.expected.value + 1 + k}, global_position{});
        r.hash = chain_hash(previous_hash, r);
        previous_hash = r.hash;
        records.push_back(std::move(r));
      }
      if (group.events != 0 && group.events + records.size() > options.insert_chunk_rows) flush();
      group.add(i, head.key, head.head, head.last_hash, records);
      outcomes[i] = std::move(records);
    }
    return flush();
  }

  // Remembers the heads of the streams `locked` found, then those `outcomes` wrote (after
  // their commit): what append_known checks a batch against. At most known_heads of them
  // (remember_head).
  void remember(const std::vector<stream_append>& batch, const locked_heads& locked,
                const std::vector<stream_outcome>& outcomes) {
    if (options.known_heads == 0) return;
    for (const auto& [name, h] : locked) remember_head(name, h);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (!outcomes[i] || outcomes[i]->empty()) continue;
      auto found = locked.find(batch[i].stream.str());
      if (found == locked.end()) continue;
      const event_record& last = outcomes[i]->back();
      remember_head(batch[i].stream.str(),
                    locked_head{found->second.key, last.stream_version, last.hash, false});
    }
  }

  // One head into `remembered`; when it is full, a new stream takes the place of the first one
  // in the next non-empty hash bucket, the bucket moving on every time (no order kept: an
  // arbitrary victim, cheaply found, so that a node with more active streams than known_heads
  // loses a few each time, not all at once).
  void remember_head(const std::string& name, locked_head head) {
    auto it = remembered.find(name);
    if (it != remembered.end()) {
      it->second = std::move(head);
      return;
    }
    if (!remembered.empty() && remembered.size() >= options.known_heads) {
      const std::size_t buckets = remembered.bucket_count();
      for (std::size_t b = next_eviction++ % buckets;; b = (b + 1) % buckets) {
        if (remembered.bucket_size(b) == 0) continue;
        const std::string victim = remembered.begin(b)->first;
        remembered.erase(victim);
        break;
      }
    }
    remembered.emplace(name, std::move(head));
  }

  // The usual path when the writer already knows every stream's head (the previous append of
  // each went through this instance, and each expects that head): the whole batch in one
  // statement that commits on its own, one round trip. Empty when it does not apply or when a
  // stream has moved since (nothing written); the caller then takes append_whole. Throws
  // driver exceptions (a duplicate command id is a unique violation: a stream error).
  std::optional<std::vector<stream_outcome>> append_known(pqxx::connection& c,
                                                          const std::vector<stream_append>& batch) {
    if (options.known_heads == 0) return std::nullopt;
    locked_heads heads;
    heads.reserve(batch.size());
    std::size_t events = 0;
    std::vector<std::size_t> writing;
    writing.reserve(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto found = remembered.find(batch[i].stream.str());
      if (found == remembered.end() || found->second.head != batch[i].expected) return std::nullopt;
      events += batch[i].events.size();
      heads.emplace(found->first, found->second);
      writing.push_back(i);
    }
    if (events > options.insert_chunk_rows) return std::nullopt;
    std::vector<stream_outcome> outcomes(batch.size(), error{errc::internal, "unset"});
    bool written = false;
    try {
      pqxx::nontransaction tx{c};
      written = write_streams(tx, batch, writing, heads, outcomes, true);
    } catch (const pqxx::broken_connection& e) {
      // The statement commits on its own: lost with it, its outcome is not known.
      throw pqxx::in_doubt_error{e.what()};
    }
    if (!written) {
      for (const stream_append& part : batch) remembered.erase(part.stream.str());
      return std::nullopt;
    }
    remember(batch, heads, outcomes);
    one_statement.fetch_add(1, std::memory_order_relaxed);
    return outcomes;
  }

  // The usual path: the whole batch in a constant number of statements (create the new
  // streams' rows when there are any, lock the heads, write). Throws driver exceptions; a
  // stream error aborts the transaction and is left to `append_per_stream`.
  std::vector<stream_outcome> append_whole(pqxx::connection& c,
                                           const std::vector<stream_append>& batch) {
    pqxx::work tx{c};
    const std::vector<std::size_t> order = in_name_order(batch);
    std::unordered_set<std::string> created;
    create_streams(tx, batch, order, created);
    locked_heads heads;
    heads.reserve(batch.size());
    lock_heads(tx, batch, order, heads);
    std::vector<stream_outcome> outcomes(batch.size(), error{errc::internal, "unset"});
    const std::vector<bool> settled(batch.size(), false);
    write_streams(tx, batch, decide(batch, heads, outcomes, settled), heads, outcomes);
    tx.commit();
    remember(batch, heads, outcomes);
    return outcomes;
  }

  // After a stream error: every step of every stream inside a savepoint of its own, so that the
  // failing stream is rolled back alone (and hands its positions back) while the others commit.
  // The steps keep the usual order (create, then lock, in name order; then write), and a stream
  // row this append created but could not write is removed again.
  std::vector<stream_outcome> append_per_stream(pqxx::connection& c,
                                                const std::vector<stream_append>& batch) {
    pqxx::work tx{c};
    std::vector<stream_outcome> outcomes(batch.size(), error{errc::internal, "unset"});
    std::vector<bool> failed(batch.size(), false);
    auto isolated = [&](std::size_t i, auto&& step) {
      // Plain SAVEPOINT statements rather than pqxx::subtransaction: libpqxx 6.4 opens a
      // subtransaction lazily and skips that for prepared statements, so a failing prepared
      // statement would abort the whole transaction.
      tx.exec0("SAVEPOINT stream");
      try {
        step(std::vector<std::size_t>{i});
        tx.exec0("RELEASE SAVEPOINT stream");
      } catch (const pqxx::sql_error& e) {
        if (!is_stream_error(e)) throw;
        tx.exec0("ROLLBACK TO SAVEPOINT stream");
        outcomes[i] = stream_error(batch[i].stream, e);
        failed[i] = true;
      }
    };
    const std::vector<std::size_t> order = in_name_order(batch);
    std::unordered_set<std::string> created;
    locked_heads heads;
    for (std::size_t i : order) {
      if (batch[i].expected == version{0})
        isolated(i, [&](const auto& one) { create_streams(tx, batch, one, created); });
    }
    for (std::size_t i : order) {
      if (!failed[i]) isolated(i, [&](const auto& one) { lock_heads(tx, batch, one, heads); });
    }
    for (std::size_t i : decide(batch, heads, outcomes, failed)) {
      isolated(i, [&](const auto& one) { write_streams(tx, batch, one, heads, outcomes); });
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (!outcomes[i] && created.count(batch[i].stream.str()) != 0)
        tx.exec_prepared0("drop_stream", batch[i].stream.str());
    }
    tx.commit();
    remember(batch, heads, outcomes);
    return outcomes;
  }

  result<std::vector<stream_outcome>> append(pqxx::connection& c,
                                             const std::vector<stream_append>& batch) {
    try {
      if (auto done = append_known(c, batch)) return std::move(*done);
    } catch (const pqxx::sql_error& e) {
      // A stream error here (a duplicate command id, data that is not JSON) wrote nothing;
      // append_whole decides duplicates before it writes, and isolates the rest.
      if (!is_stream_error(e)) throw;
    }
    try {
      return append_whole(c, batch);
    } catch (const pqxx::sql_error& e) {
      if (!is_stream_error(e)) throw;
    }
    return append_per_stream(c, batch);
  }
};

postgres_journal::postgres_journal(std::unique_ptr<impl> state) : impl_(std::move(state)) {}
postgres_journal::~postgres_journal() = default;

result<std::unique_ptr<postgres_journal>> postgres_journal::open(postgres_journal_options options) {
  if (!detail::is_plain_identifier(options.schema))
    return error{errc::invalid_argument,
                 "postgres journal: schema '" + options.schema + "' is not a plain identifier"};
  if (options.insert_chunk_rows == 0 || options.insert_chunk_rows > 1000)
    return error{errc::invalid_argument, "postgres journal: insert_chunk_rows must be 1..1000"};
  auto state = std::make_unique<impl>(std::move(options));
  impl* raw = state.get();
  auto created = raw->session.run("postgres journal: creating schema",
                                  [raw](pqxx::connection& c) { return raw->create_schema(c); });
  if (!created) return std::move(created).err();
  return std::unique_ptr<postgres_journal>{new postgres_journal{std::move(state)}};
}

result<std::vector<stream_outcome>> postgres_journal::append(
    const std::vector<stream_append>& batch) {
  if (auto checked = check_append_batch(batch); !checked) return std::move(checked).err();
  if (batch.empty()) return std::vector<stream_outcome>{};
  return impl_->session.run("append", [&](pqxx::connection& c) { return impl_->append(c, batch); });
}

result<std::vector<event_record>> postgres_journal::read_stream(const stream_id& stream,
                                                                const stream_range& range) {
  return impl_->session.run_idempotent(
      "read_stream " + stream.str(), [&](pqxx::connection& c) -> result<std::vector<event_record>> {
        pqxx::nontransaction tx{c};
        std::int64_t to = range.to ? clamp_i64(range.to->value) : max_i64;
        std::int64_t limit = clamp_i64(static_cast<std::uint64_t>(range.limit));
        // From the start, rows whose version is not positive are read too, and refused by
        // name when decoded, rather than silently skipped.
        const std::int64_t from = range.from.value <= 1 ? std::numeric_limits<std::int64_t>::min()
                                                        : clamp_i64(range.from.value);
        const bool fold = range.fields == event_fields::fold;
        pqxx::result rows =
            range.until
                ? tx.exec_prepared(fold ? "read_stream_until_fold" : "read_stream_until",
                                   stream.str(), from, to, limit, to_unix_micros(*range.until))
                : tx.exec_prepared(fold ? "read_stream_fold" : "read_stream", stream.str(), from,
                                   to, limit);
        return decode_events(rows);
      });
}

result<std::vector<event_record>> postgres_journal::find_command(const stream_id& stream,
                                                                 std::string_view command_id) {
  if (command_id.empty()) return std::vector<event_record>{};
  auto first = impl_->session.run_idempotent(
      "find_command " + stream.str(), [&](pqxx::connection& c) -> result<std::optional<version>> {
        pqxx::nontransaction tx{c};
        auto rows = tx.exec_prepared("command_first", stream.str(), std::string{command_id});
        if (rows.empty()) return std::optional<version>{};
        auto v = rows[0][0].as<std::int64_t>();
        if (v < 1)
          return error{errc::corrupted, "command " + std::string{command_id} + " of " +
                                            stream.str() + " has first version " +
                                            std::to_string(v)};
        return std::optional<version>{version{static_cast<std::uint64_t>(v)}};
      });
  if (!first) return std::move(first).err();
  if (!*first) return std::vector<event_record>{};
  auto a = anchor(stream);
  if (!a) return std::move(a).err();
  if (!*a || **first > (*a)->at) return read_command_events(*this, stream, **first, command_id);
  // Archived: the events cut kept without their bodies.
  const std::string& s = impl_->s;
  auto kept = impl_->session.run_idempotent(
      "find_command " + stream.str(),
      [&](pqxx::connection& c) -> result<std::vector<event_record>> {
        pqxx::nontransaction tx{c};
        return decode_events(tx.exec_params(
            "SELECT e.global_position, e.version, e.event_id, e.event_type, e.schema_version, "
            "(extract(epoch from e.occurred_at) * 1000000)::bigint, e.user_id, e.command_id, "
            "e.correlation_id, e.causation_id, '', e.hash, e.aggregate_type, e.aggregate_id "
            "FROM " +
                s + "archived_commands e WHERE e.stream_key = (SELECT stream_key FROM " + s +
                "streams WHERE name = $1) AND e.version >= $2 AND e.version <= $3 "
                "ORDER BY e.version",
            stream.str(), clamp_i64((*first)->value), clamp_i64((*a)->at.value)));
      });
  if (!kept) return std::move(kept).err();
  return archived_command_events(*this, stream, **first, (*a)->at, std::move(*kept), command_id);
}

result<std::vector<event_record>> postgres_journal::read_all(global_position after,
                                                             std::size_t limit) {
  return impl_->session.run_idempotent(
      "read_all", [&](pqxx::connection& c) -> result<std::vector<event_record>> {
        pqxx::nontransaction tx{c};
        return decode_events(tx.exec_prepared("read_all", clamp_i64(after.value),
                                              clamp_i64(static_cast<std::uint64_t>(limit))));
      });
}

result<version> postgres_journal::head(const stream_id& stream) {
  return impl_->session.run_idempotent(
      "head " + stream.str(), [&](pqxx::connection& c) -> result<version> {
        pqxx::nontransaction tx{c};
        auto rows = tx.exec_prepared("head", stream.str());
        if (rows.empty()) return version{0};
        auto v = rows[0][0].as<std::int64_t>();
        if (v < 0) return error{errc::corrupted, "head of " + stream.str() + " is negative"};
        return version{static_cast<std::uint64_t>(v)};
      });
}

result<global_position> postgres_journal::last_position() {
  return impl_->session.run_idempotent("last_position",
                                       [&](pqxx::connection& c) -> result<global_position> {
                                         pqxx::nontransaction tx{c};
                                         auto row = tx.exec_prepared1("last_position");
                                         return global_position{row[0].as<std::uint64_t>()};
                                       });
}

namespace {

result<stream_anchor> pg_anchor(const pqxx::row& row, const stream_id& stream, int first) {
  if (row[first].is_null() || row[first].as<std::int64_t>() < 1 || row[first + 1].is_null() ||
      row[first + 2].is_null())
    return error{errc::corrupted, "the anchor of " + stream.str() + " cannot be read"};
  return stream_anchor{stream, version{static_cast<std::uint64_t>(row[first].as<std::int64_t>())},
                       row[first + 1].as<std::string>(), row[first + 2].as<std::string>()};
}

}  // namespace

result<std::optional<stream_anchor>> postgres_journal::anchor(const stream_id& stream) {
  const std::string& s = impl_->s;
  return impl_->session.run_idempotent(
      "anchor " + stream.str(), [&](pqxx::connection& c) -> result<std::optional<stream_anchor>> {
        pqxx::nontransaction tx{c};
        auto rows = tx.exec_params("SELECT a.version, a.hash, a.archive FROM " + s +
                                       "stream_anchors a JOIN " + s +
                                       "streams t ON t.stream_key = a.stream_key WHERE t.name = $1",
                                   stream.str());
        if (rows.empty()) return std::optional<stream_anchor>{};
        auto a = pg_anchor(rows[0], stream, 0);
        if (!a) return std::move(a).err();
        return std::optional<stream_anchor>{std::move(*a)};
      });
}

result<std::vector<stream_anchor>> postgres_journal::anchors() {
  const std::string& s = impl_->s;
  return impl_->session.run_idempotent(
      "anchors", [&](pqxx::connection& c) -> result<std::vector<stream_anchor>> {
        pqxx::nontransaction tx{c};
        auto rows = tx.exec("SELECT t.name, a.version, a.hash, a.archive FROM " + s +
                            "stream_anchors a JOIN " + s +
                            "streams t ON t.stream_key = a.stream_key ORDER BY t.name");
        std::vector<stream_anchor> out;
        for (const auto& row : rows) {
          auto a = pg_anchor(row, stream_id::parse(row[0].as<std::string>()), 1);
          if (!a) return std::move(a).err();
          out.push_back(std::move(*a));
        }
        return out;
      });
}

result<std::optional<archive_mark>> postgres_journal::archived() {
  const std::string& s = impl_->s;
  return impl_->session.run_idempotent(
      "archives", [&](pqxx::connection& c) -> result<std::optional<archive_mark>> {
        pqxx::nontransaction tx{c};
        auto rows = tx.exec("SELECT name, through_position FROM " + s +
                            "archives ORDER BY archived_at, name");
        std::optional<archive_mark> out;
        for (const auto& row : rows) {
          if (!out) out.emplace();
          out->archives.push_back(row[0].as<std::string>());
          const auto through = row[1].as<std::int64_t>();
          if (through > 0)
            out->through =
                std::max(out->through, global_position{static_cast<std::uint64_t>(through)});
        }
        return out;
      });
}

result<std::uint64_t> postgres_journal::cut(const std::vector<stream_cut>& cuts,
                                            const std::string& archive) {
  if (auto checked = check_cut_request(cuts, archive); !checked) return std::move(checked).err();
  const std::string& s = impl_->s;
  return impl_->session.run("cut", [&](pqxx::connection& c) -> result<std::uint64_t> {
    pqxx::work tx{c};
    // The locks an append takes, in its order: the stream rows in the byte order of their
    // names, then the counter row, so that no append commits between the checks and the delete.
    array_literal names;
    for (const stream_cut& cut : cuts) names.add(cut.stream.str());
    std::unordered_map<std::string, std::int64_t> keys;
    for (const auto& row : tx.exec_params("SELECT name, stream_key FROM " + s +
                                              "streams WHERE name = ANY($1::text[]) "
                                              "ORDER BY name COLLATE \"C\" FOR UPDATE",
                                          names.finish()))
      keys.emplace(row[0].as<std::string>(), row[1].as<std::int64_t>());
    tx.exec_prepared1("lock_position");
    std::uint64_t removed = 0;
    std::int64_t through_position = 0;
    for (const stream_cut& cut : cuts) {
      auto found = keys.find(cut.stream.str());
      if (found == keys.end())
        return error{errc::conflict, "cut of " + cut.stream.str() + ": no such stream"};
      const auto key = found->second;
      const auto through = clamp_i64(cut.through.value);
      auto current =
          tx.exec_params("SELECT version FROM " + s + "stream_anchors WHERE stream_key = $1", key);
      if (!current.empty() && current[0][0].as<std::int64_t>() >= through) continue;
      auto at = tx.exec_params(
          "SELECT hash FROM " + s + "events WHERE stream_key = $1 AND version = $2", key, through);
      if (at.empty() || at[0][0].as<std::string>() != cut.hash)
        return error{errc::conflict, "cut of " + cut.stream.str() + " through v" +
                                         std::to_string(cut.through.value) +
                                         ": the journal has no event with the archived hash there"};
      // What find_command answers for the archived commands: their events without bodies.
      tx.exec_params0("INSERT INTO " + s +
                          "archived_commands SELECT global_position, stream_key, version, "
                          "event_id, event_type, schema_version, aggregate_type, aggregate_id, "
                          "occurred_at, user_id, command_id, correlation_id, causation_id, hash "
                          "FROM " +
                          s +
                          "events WHERE stream_key = $1 AND version <= $2 AND command_id <> '' "
                          "ON CONFLICT DO NOTHING",
                      key, through);
      auto deleted = tx.exec_params("WITH d AS (DELETE FROM " + s +
                                        "events WHERE stream_key = $1 AND version <= $2 "
                                        "RETURNING global_position) "
                                        "SELECT count(*), coalesce(max(global_position), 0) FROM d",
                                    key, through);
      removed += deleted[0][0].as<std::uint64_t>();
      through_position = std::max(through_position, deleted[0][1].as<std::int64_t>());
      tx.exec_params0("INSERT INTO " + s +
                          "stream_anchors (stream_key, version, hash, archive) "
                          "VALUES ($1, $2, $3, $4) ON CONFLICT (stream_key) DO UPDATE SET "
                          "version = excluded.version, hash = excluded.hash, "
                          "archive = excluded.archive",
                      key, through, cut.hash, archive);
    }
    tx.exec_params0("INSERT INTO " + s +
                        "archives (name, through_position) VALUES ($1, $2) "
                        "ON CONFLICT (name) DO UPDATE SET through_position = "
                        "greatest(" +
                        s + "archives.through_position, excluded.through_position)",
                    archive, through_position);
    tx.commit();
    return removed;
  });
}

std::uint64_t postgres_journal::one_statement_appends() const noexcept {
  return impl_->one_statement.load(std::memory_order_relaxed);
}

const std::string& postgres_journal::id() const noexcept {
  return impl_->id;
}

postgres_journal_factory::postgres_journal_factory(postgres_journal_options options)
    : options_(std::move(options)) {}

result<std::unique_ptr<journal>> postgres_journal_factory::open() {
  auto j = postgres_journal::open(options_);
  if (!j) return std::move(j).err();
  return std::unique_ptr<journal>{std::move(*j)};
}

}  // namespace strata::persistence
