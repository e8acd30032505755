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
// Archival (journal::cut) deletes a stream's oldest events under the counter row's lock; the
// streams row keeps head and last_hash and the counter row is not touched, so positions never
// go back. last_position is the greater of the counter and the newest event.
//
// An append costs a constant number of statements, whatever the batch holds:
//   BEGIN;
//   SELECT ... journal_position FOR UPDATE;   -- serialises writers until commit (see header)
//   SELECT ... streams LEFT JOIN commands ... ORDER BY name FOR UPDATE OF streams;
//              -- the heads, locked, and whether each stream already has the append's command
//   -- duplicates and conflicts are decided in the client; the others take positions in batch
//   -- order and their hashes are chained from the locked last_hash
//   WITH new_streams AS (INSERT INTO streams SELECT * FROM unnest(...) RETURNING ...),
//        moved AS (UPDATE streams ... FROM unnest(...)),
//        counter AS (UPDATE journal_position ...),
//        recorded AS (INSERT INTO commands SELECT ... FROM unnest(...) LEFT JOIN new_streams)
//   INSERT INTO events SELECT ... FROM unnest(...) LEFT JOIN new_streams ...;
//   COMMIT;
// (the write statement once per group of whole streams of at most insert_chunk_rows events).
// Arrays go as text literals of one parameter each, so every statement is prepared once.
// A stale stream therefore writes nothing and takes no position. A row that only one stream
// can cause to fail (data that is not JSON, 22xxx; a unique violation, 23505, from a writer
// that bypasses the counter row) aborts that attempt: the batch is then run again, in a new
// transaction, one stream per SAVEPOINT, so that the failing stream alone is rolled back and
// gives its positions back while the others commit.

#include "strata/persistence/postgres/postgres_journal.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <optional>
#include <string_view>
#include <unordered_map>
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

// The parameters of one `write` statement: the new streams, the heads to move and the events.
struct write_set {
  array_literal new_name, new_type, new_id, new_head, new_hash;
  array_literal moved_key, moved_head, moved_hash;
  array_literal key, name, position, stream_version, event_id, event_type, schema_version,
      aggregate_type, aggregate_id, micros, user_id, command_id, correlation_id, causation_id, data,
      hash;
  array_literal command_key, command_stream, command, command_first;
  std::int64_t last_position = -1;  // the counter's new value, -1 to leave it alone
  std::size_t events = 0;

  // Adds one stream's records; `key` 0 means a new stream (its key comes from the insert).
  void add(const stream_id& stream, std::int64_t stream_key,
           const std::vector<event_record>& records) {
    const event_record& last = records.back();
    std::int64_t head = clamp_i64(last.stream_version.value);
    if (stream_key == 0) {
      new_name.add(stream.str());
      new_type.add(stream.aggregate_type());
      new_id.add(stream.aggregate_id());
      new_head.add(head);
      new_hash.add(last.hash);
    } else {
      moved_key.add(stream_key);
      moved_head.add(head);
      moved_hash.add(last.hash);
    }
    const event_record& first = records.front();
    if (!first.command_id.empty()) {
      command_key.add(stream_key);
      command_stream.add(stream_key == 0 ? std::string_view{stream.str()} : std::string_view{});
      command.add(first.command_id);
      command_first.add(clamp_i64(first.stream_version.value));
    }
    for (const event_record& r : records) {
      key.add(stream_key);
      name.add(stream_key == 0 ? std::string_view{stream.str()} : std::string_view{});
      position.add(clamp_i64(r.position.value));
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
    events += records.size();
  }
};

// The outcome of a stream whose head is `head` in the store and whose new records are not
// built yet; `key` is 0 for a stream the store does not have.
struct locked_head {
  std::int64_t key = 0;
  version head{};
  std::string last_hash;
  bool has_command = false;  // the stream already has the append's command id
};

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

  explicit impl(postgres_journal_options o)
      : options(std::move(o)),
        s(options.schema + "."),
        session(options.conninfo, [this](pqxx::connection& c) { prepare(c); }) {}

  void prepare(pqxx::connection& c) {
    if (options.idle_in_transaction_timeout_ms > 0)
      pqxx::nontransaction{c}.exec0("SET idle_in_transaction_session_timeout = " +
                                    std::to_string(options.idle_in_transaction_timeout_ms));
    c.prepare("lock_position",
              "SELECT last_position FROM " + s + "journal_position WHERE singleton FOR UPDATE");
    // Locks the heads of a batch's existing streams in name order, so that writers locking
    // overlapping sets cannot deadlock (the counter row, locked first, already orders the
    // counter-row writers; the order matters for the others).
    // The command index is probed in the same statement: a new command id costs no round trip.
    c.prepare("lock_heads",
              "SELECT t.name, t.stream_key, t.head, t.last_hash, "
              "c.stream_key IS NOT NULL FROM unnest($1::text[], $2::text[]) AS "
              "u(name, command_id) JOIN " +
                  s + "streams t ON t.name = u.name LEFT JOIN " + s +
                  "commands c ON u.command_id <> '' AND c.stream_key = "
                  "t.stream_key AND c.command_id = u.command_id "
                  "ORDER BY t.name FOR UPDATE OF t");
    // Everything a group of streams writes, in one statement: the new streams (their keys
    // reach the events through the join on name), the moved heads, the counter and the events.
    c.prepare("write",
              "WITH new_streams AS (INSERT INTO " + s +
                  "streams (name, aggregate_type, aggregate_id, head, last_hash) "
                  "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], "
                  "$5::text[]) RETURNING stream_key, name), "
                  "moved AS (UPDATE " +
                  s +
                  "streams AS t SET head = u.head, last_hash = u.last_hash "
                  "FROM unnest($6::bigint[], $7::bigint[], $8::text[]) AS u(stream_key, head, "
                  "last_hash) WHERE t.stream_key = u.stream_key), "
                  "counter AS (UPDATE " +
                  s +
                  "journal_position SET last_position = $9::bigint "
                  "WHERE singleton AND $9::bigint >= 0), "
                  "recorded AS (INSERT INTO " +
                  s +
                  "commands (stream_key, command_id, first_version) "
                  "SELECT coalesce(n.stream_key, u.stream_key), u.command_id, u.first_version "
                  "FROM unnest($26::bigint[], $27::text[], $28::text[], $29::bigint[]) AS "
                  "u(stream_key, stream_name, command_id, first_version) "
                  "LEFT JOIN new_streams n ON n.name = u.stream_name) "
                  "INSERT INTO " +
                  s +
                  "events (stream_key, global_position, version, event_id, event_type, "
                  "schema_version, aggregate_type, aggregate_id, occurred_at, user_id, "
                  "command_id, correlation_id, causation_id, data_text, hash) "
                  "SELECT coalesce(n.stream_key, e.stream_key), e.global_position, e.version, "
                  "e.event_id, e.event_type, e.schema_version, e.aggregate_type, "
                  "e.aggregate_id, timestamptz 'epoch' + e.micros * interval '1 microsecond', "
                  "e.user_id, e.command_id, e.correlation_id, e.causation_id, e.data_text, "
                  "e.hash FROM unnest($10::bigint[], $11::text[], $12::bigint[], "
                  "$13::bigint[], $14::text[], $15::text[], $16::integer[], $17::text[], "
                  "$18::text[], $19::bigint[], $20::text[], $21::text[], $22::text[], "
                  "$23::text[], $24::text[], $25::text[]) AS e(stream_key, stream_name, "
                  "global_position, version, event_id, event_type, schema_version, "
                  "aggregate_type, aggregate_id, micros, user_id, command_id, correlation_id, "
                  "causation_id, data_text, hash) "
                  "LEFT JOIN new_streams n ON n.name = e.stream_name");
    c.prepare("head", "SELECT head FROM " + s + "streams WHERE name = $1");
    c.prepare("command_first", "SELECT c.first_version FROM " + s + "commands c JOIN " + s +
                                   "streams t ON t.stream_key = c.stream_key "
                                   "WHERE t.name = $1 AND c.command_id = $2");
    c.prepare("last_position", "SELECT greatest((SELECT coalesce(max(global_position), 0) FROM " +
                                   s + "events), (SELECT coalesce(max(last_position), 0) FROM " +
                                   s + "journal_position))");
    std::string from_stream = "SELECT " + std::string{event_columns} + " FROM " + s +
                              "events e WHERE e.stream_key = (SELECT stream_key FROM " + s +
                              "streams WHERE name = $1) AND e.version >= $2 AND e.version <= $3";
    c.prepare("read_stream", from_stream + " ORDER BY e.version LIMIT $4");
    c.prepare("read_stream_until",
              from_stream +
                  " AND e.occurred_at <= timestamptz 'epoch' + $5::bigint * interval "
                  "'1 microsecond' ORDER BY e.version LIMIT $4");
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

  // One attempt at a batch inside `tx`. The transaction state between statements:
  //   next: the next free position, taken from the locked counter row.
  struct attempt {
    pqxx::work& tx;
    std::uint64_t next = 0;
  };

  // Takes the counter row; writers are serialised from here until commit.
  void begin(attempt& a) const {
    auto row = a.tx.exec_prepared1("lock_position");
    a.next = row[0].as<std::uint64_t>() + 1;
  }

  // Appends the streams `batch[first, last)` with one statement to lock their heads and one
  // `write` per group of at most insert_chunk_rows events (a stream is never split); sets
  // their outcomes. Throws driver exceptions, including a stream error of any of them.
  void write_streams(attempt& a, const std::vector<stream_append>& batch, std::size_t first,
                     std::size_t last, std::vector<stream_outcome>& outcomes) const {
    array_literal names;
    array_literal commands;
    for (std::size_t i = first; i < last; ++i) {
      names.add(batch[i].stream.str());
      commands.add(batch[i].events.front().command_id);
    }
    std::unordered_map<std::string_view, locked_head> heads;
    heads.reserve(last - first);
    pqxx::result locked = a.tx.exec_prepared("lock_heads", names.finish(), commands.finish());
    for (const auto& row : locked) {
      locked_head h;
      h.key = row[1].as<std::int64_t>();
      h.head = version{static_cast<std::uint64_t>(row[2].as<std::int64_t>())};
      h.last_hash = row[3].as<std::string>();
      h.has_command = row[4].as<bool>();
      heads.emplace(std::string_view{row[0].c_str(), row[0].size()}, std::move(h));
    }

    // Conflicts are decided here; the others take their positions in batch order.
    std::vector<std::size_t> writing;
    for (std::size_t i = first; i < last; ++i) {
      const stream_append& part = batch[i];
      auto found = heads.find(part.stream.str());
      version head = found == heads.end() ? version{0} : found->second.head;
      if (found != heads.end() && found->second.has_command) {
        outcomes[i] = duplicate_command(part.stream, part.events.front().command_id);
        continue;
      }
      if (head != part.expected) {
        outcomes[i] = error{errc::conflict, conflict_message(part.stream, part.expected, head)};
        continue;
      }
      writing.push_back(i);
    }
    if (writing.empty()) return;

    std::size_t taken = 0;
    write_set group;
    auto flush = [&] {
      if (group.events == 0) return;
      group.last_position = clamp_i64(a.next + taken - 1);
      a.tx.exec_prepared0(
          "write", group.new_name.finish(), group.new_type.finish(), group.new_id.finish(),
          group.new_head.finish(), group.new_hash.finish(), group.moved_key.finish(),
          group.moved_head.finish(), group.moved_hash.finish(), group.last_position,
          group.key.finish(), group.name.finish(), group.position.finish(),
          group.stream_version.finish(), group.event_id.finish(), group.event_type.finish(),
          group.schema_version.finish(), group.aggregate_type.finish(), group.aggregate_id.finish(),
          group.micros.finish(), group.user_id.finish(), group.command_id.finish(),
          group.correlation_id.finish(), group.causation_id.finish(), group.data.finish(),
          group.hash.finish(), group.command_key.finish(), group.command_stream.finish(),
          group.command.finish(), group.command_first.finish());
      group = write_set{};
    };
    for (std::size_t i : writing) {
      const stream_append& part = batch[i];
      auto found = heads.find(part.stream.str());
      std::int64_t key = found == heads.end() ? 0 : found->second.key;
      std::string previous_hash = found == heads.end() ? std::string{} : found->second.last_hash;
      std::vector<event_record> records;
      records.reserve(part.events.size());
      for (std::size_t k = 0; k < part.events.size(); ++k) {
        const new_event& e = part.events[k];
        event_record r = make_record(part.stream, e, version{part.expected.value + 1 + k},
                                     global_position{a.next + taken + k});
        r.hash = chain_hash(previous_hash, r);
        previous_hash = r.hash;
        records.push_back(std::move(r));
      }
      if (group.events != 0 && group.events + records.size() > options.insert_chunk_rows) flush();
      group.add(part.stream, key, records);
      taken += records.size();
      outcomes[i] = std::move(records);
    }
    flush();
    a.next += taken;
  }

  // The usual path: the whole batch in a constant number of statements. Throws driver
  // exceptions; a stream error aborts the transaction and is left to `append_per_stream`.
  std::vector<stream_outcome> append_whole(pqxx::connection& c,
                                           const std::vector<stream_append>& batch) const {
    pqxx::work tx{c};
    attempt a{tx};
    begin(a);
    std::vector<stream_outcome> outcomes(batch.size(), error{errc::internal, "unset"});
    write_streams(a, batch, 0, batch.size(), outcomes);
    tx.commit();
    return outcomes;
  }

  // After a stream error: each stream on its own inside a savepoint, so that the failing one
  // is rolled back alone (and hands its positions back) while the others commit.
  std::vector<stream_outcome> append_per_stream(pqxx::connection& c,
                                                const std::vector<stream_append>& batch) const {
    pqxx::work tx{c};
    attempt a{tx};
    begin(a);
    std::vector<stream_outcome> outcomes(batch.size(), error{errc::internal, "unset"});
    for (std::size_t i = 0; i < batch.size(); ++i) {
      // Plain SAVEPOINT statements rather than pqxx::subtransaction: libpqxx 6.4 opens a
      // subtransaction lazily and skips that for prepared statements, so a failing prepared
      // statement would abort the whole transaction.
      tx.exec0("SAVEPOINT stream");
      std::uint64_t next = a.next;
      try {
        write_streams(a, batch, i, i + 1, outcomes);
        tx.exec0("RELEASE SAVEPOINT stream");
      } catch (const pqxx::sql_error& e) {
        if (!is_stream_error(e)) throw;
        tx.exec0("ROLLBACK TO SAVEPOINT stream");
        a.next = next;
        outcomes[i] = stream_error(batch[i].stream, e);
      }
    }
    tx.commit();
    return outcomes;
  }

  result<std::vector<stream_outcome>> append(pqxx::connection& c,
                                             const std::vector<stream_append>& batch) const {
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
        pqxx::result rows = range.until
                                ? tx.exec_prepared("read_stream_until", stream.str(), from, to,
                                                   limit, to_unix_micros(*range.until))
                                : tx.exec_prepared("read_stream", stream.str(), from, to, limit);
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
    // Taken like an append takes it: no append commits between the checks and the delete.
    tx.exec_prepared1("lock_position");
    std::uint64_t removed = 0;
    std::int64_t through_position = 0;
    for (const stream_cut& cut : cuts) {
      auto key_row = tx.exec_params(
          "SELECT stream_key FROM " + s + "streams WHERE name = $1 FOR UPDATE", cut.stream.str());
      if (key_row.empty())
        return error{errc::conflict, "cut of " + cut.stream.str() + ": no such stream"};
      const auto key = key_row[0][0].as<std::int64_t>();
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
