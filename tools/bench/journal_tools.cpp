#include "tools/bench/journal_tools.hpp"

#include "strata/persistence/forwarding_journal.hpp"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <numeric>
#include <unordered_map>
#include <utility>

#include "tools/bench/common.hpp"

namespace strata::bench {
namespace {

/// Forwards every call; records the size of each successful append batch.
class counting_journal final : public persistence::forwarding_journal {
 public:
  counting_journal(std::unique_ptr<persistence::journal> inner, counting_factory& owner)
      : forwarding_journal(*inner), inner_(std::move(inner)), owner_(owner) {}

  result<std::vector<persistence::stream_outcome>> append(
      const std::vector<persistence::stream_append>& batch) override {
    auto r = inner_->append(batch);
    if (r) {
      std::size_t events = 0;
      for (const auto& part : batch) events += part.events.size();
      owner_.record(events);
    }
    return r;
  }

 private:
  std::unique_ptr<persistence::journal> inner_;  // owned; forwarded to by the base
  counting_factory& owner_;
};

}  // namespace

counting_factory::counting_factory(std::shared_ptr<persistence::journal_factory> inner)
    : inner_(std::move(inner)) {}

result<std::unique_ptr<persistence::journal>> counting_factory::open() {
  auto j = inner_->open();
  if (!j) return std::move(j).err();
  return std::unique_ptr<persistence::journal>{
      std::make_unique<counting_journal>(std::move(*j), *this)};
}

std::vector<std::size_t> counting_factory::batches() const {
  std::lock_guard<std::mutex> lock{mutex_};
  return batches_;
}

void counting_factory::clear() {
  std::lock_guard<std::mutex> lock{mutex_};
  batches_.clear();
}

void counting_factory::record(std::size_t events) {
  std::lock_guard<std::mutex> lock{mutex_};
  batches_.push_back(events);
}

batch_summary summarize_batches(std::vector<std::size_t> b) {
  batch_summary s;
  s.count = b.size();
  if (b.empty()) return s;
  std::sort(b.begin(), b.end());
  s.mean = static_cast<double>(std::accumulate(b.begin(), b.end(), std::size_t{0})) /
           static_cast<double>(b.size());
  s.median = b[b.size() / 2];
  s.max = b.back();
  return s;
}

std::vector<persistence::event_record> read_everything(persistence::journal& j) {
  std::vector<persistence::event_record> all;
  global_position after{0};
  for (;;) {
    auto chunk = j.read_all(after, 10000);
    if (!chunk)
      fail("read_all after " + std::to_string(after.value) + ": " + to_string(chunk.err()));
    if (chunk->empty()) break;
    after = chunk->back().position;
    for (auto& r : *chunk) all.push_back(std::move(r));
  }
  return all;
}

journal_census verify_journal(persistence::journal& j, const std::string& label) {
  journal_census c;
  std::unordered_map<std::string, std::uint64_t> heads;
  global_position after{0};
  for (;;) {
    auto chunk = j.read_all(after, 10000);
    check(static_cast<bool>(chunk),
          label + ": read_all failed: " + (chunk ? std::string{} : to_string(chunk.err())));
    if (chunk->empty()) break;
    for (const auto& r : *chunk) {
      check(r.position.value == c.events + 1,
            label + ": global position " + std::to_string(r.position.value) + " where " +
                std::to_string(c.events + 1) + " was expected (gap or duplicate)");
      ++c.events;
      auto& head = heads[r.aggregate_type + "-" + r.aggregate_id];
      check(r.stream_version.value == head + 1,
            label + ": stream " + r.aggregate_type + "-" + r.aggregate_id + " has version " +
                std::to_string(r.stream_version.value) + " after " + std::to_string(head));
      head = r.stream_version.value;
    }
    after = chunk->back().position;
  }
  auto last = j.last_position();
  check(last && last->value == c.events, label + ": last_position disagrees with the rows read");
  c.streams = heads.size();
  return c;
}

// ---------------------------------------------------------------------------------------
// SQLite ceiling

void sq(sqlite3* db, const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string m = msg != nullptr ? msg : "?";
    sqlite3_free(msg);
    fail(std::string{"ceiling: "} + sql + ": " + m);
  }
}

sqlite3_stmt* prep(sqlite3* db, const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
    fail(std::string{"ceiling: prepare "} + sql + ": " + sqlite3_errmsg(db));
  return s;
}

void step_done(sqlite3* db, sqlite3_stmt* s) {
  if (sqlite3_step(s) != SQLITE_DONE) fail(std::string{"ceiling: step: "} + sqlite3_errmsg(db));
  sqlite3_reset(s);
}

void text(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}

double sqlite_ceiling(
    const std::string& path, bool full, const std::vector<persistence::event_record>& rows,
    std::size_t batch,
    const std::function<bool(std::vector<persistence::event_record>&)>& untimed_source,
    std::vector<std::int64_t>* tx_latency_ns) {
  remove_db(path);
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) fail("ceiling: cannot open " + path);
  sq(db, "PRAGMA journal_mode=WAL");
  sq(db, full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  sq(db, "PRAGMA cache_size=-65536");
  sq(db, "PRAGMA wal_autocheckpoint=1000");
  sq(db,
     "CREATE TABLE streams (stream_key INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
     "aggregate_type TEXT NOT NULL, aggregate_id TEXT NOT NULL, head_version INTEGER NOT NULL, "
     "last_hash TEXT NOT NULL);"
     "CREATE TABLE events (global_position INTEGER PRIMARY KEY, stream_key INTEGER NOT NULL, "
     "version INTEGER NOT NULL, event_id TEXT NOT NULL, event_type TEXT NOT NULL, "
     "schema_version INTEGER NOT NULL, timestamp_us INTEGER NOT NULL, user_id TEXT NOT NULL, "
     "command_id TEXT NOT NULL, correlation_id TEXT NOT NULL, causation_id TEXT NOT NULL, "
     "data TEXT NOT NULL, hash TEXT NOT NULL, UNIQUE (stream_key, version));");
  sqlite3_stmt* ins = prep(db,
                           "INSERT INTO events (global_position, stream_key, version, event_id, "
                           "event_type, schema_version, timestamp_us, user_id, command_id, "
                           "correlation_id, causation_id, data, hash) VALUES "
                           "(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)");
  sqlite3_stmt* upd =
      prep(db, "UPDATE streams SET head_version = ?1, last_hash = ?2 WHERE stream_key = ?3");
  sqlite3_stmt* new_stream = prep(db,
                                  "INSERT INTO streams (name, aggregate_type, aggregate_id, "
                                  "head_version, last_hash) VALUES (?1, ?2, ?3, ?4, ?5)");
  // Stream keys are known to the application after their first insert, like the journal's
  // name -> key cache.
  std::unordered_map<std::string, std::int64_t> keys;
  auto insert_all = [&](const std::vector<persistence::event_record>& input, std::size_t per_tx,
                        std::vector<std::int64_t>* latencies) {
    std::size_t i = 0;
    while (i < input.size()) {
      const std::size_t end = std::min(input.size(), i + std::max<std::size_t>(per_tx, 1));
      const auto tx_start = now_ns();
      sq(db, "BEGIN IMMEDIATE");
      for (; i < end; ++i) {
        const auto& r = input[i];
        const std::string name = r.aggregate_type + "-" + r.aggregate_id;
        std::int64_t key = 0;
        if (auto it = keys.find(name); it != keys.end()) {
          key = it->second;
          sqlite3_bind_int64(upd, 1, static_cast<sqlite3_int64>(r.stream_version.value));
          text(upd, 2, r.hash);
          sqlite3_bind_int64(upd, 3, key);
          step_done(db, upd);
        } else {
          text(new_stream, 1, name);
          text(new_stream, 2, r.aggregate_type);
          text(new_stream, 3, r.aggregate_id);
          sqlite3_bind_int64(new_stream, 4, static_cast<sqlite3_int64>(r.stream_version.value));
          text(new_stream, 5, r.hash);
          step_done(db, new_stream);
          key = sqlite3_last_insert_rowid(db);
          keys.emplace(name, key);
        }
        sqlite3_bind_int64(ins, 1, static_cast<sqlite3_int64>(r.position.value));
        sqlite3_bind_int64(ins, 2, key);
        sqlite3_bind_int64(ins, 3, static_cast<sqlite3_int64>(r.stream_version.value));
        text(ins, 4, r.event_id);
        text(ins, 5, r.event_type);
        sqlite3_bind_int64(ins, 6, r.schema_version);
        sqlite3_bind_int64(ins, 7, static_cast<sqlite3_int64>(to_unix_micros(r.time)));
        text(ins, 8, r.user_id);
        text(ins, 9, r.command_id);
        text(ins, 10, r.correlation_id);
        text(ins, 11, r.causation_id);
        text(ins, 12, r.data);
        text(ins, 13, r.hash);
        step_done(db, ins);
      }
      sq(db, "COMMIT");
      if (latencies != nullptr) latencies->push_back(now_ns() - tx_start);
    }
  };
  std::size_t preloaded = 0;
  if (untimed_source) {
    std::vector<persistence::event_record> chunk;
    while (untimed_source(chunk)) {
      insert_all(chunk, chunk.size(), nullptr);
      preloaded += chunk.size();
      chunk.clear();
    }
  }
  const auto start = now_ns();
  insert_all(rows, batch, tx_latency_ns);
  const double seconds = static_cast<double>(now_ns() - start) / 1e9;
  sqlite3_int64 count = 0;
  sqlite3_stmt* c = prep(db, "SELECT count(*) FROM events");
  if (sqlite3_step(c) == SQLITE_ROW) count = sqlite3_column_int64(c, 0);
  for (sqlite3_stmt* s : {ins, upd, new_stream, c}) sqlite3_finalize(s);
  sqlite3_close(db);
  check(static_cast<std::size_t>(count) == rows.size() + preloaded,
        "ceiling file holds " + std::to_string(count) + " rows, expected " +
            std::to_string(rows.size() + preloaded));
  return static_cast<double>(rows.size()) / seconds;
}

// ---------------------------------------------------------------------------------------
// PostgreSQL ceiling

namespace {

void pq_ok(PGconn* c, PGresult* r, const std::string& what) {
  const auto st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    std::string m = PQerrorMessage(c);
    PQclear(r);
    fail("postgres ceiling: " + what + ": " + m);
  }
  PQclear(r);
}

void pq_exec(PGconn* c, const std::string& sql) {
  pq_ok(c, PQexec(c, sql.c_str()), sql);
}

}  // namespace

void postgres_drop_schema(const std::string& conninfo, const std::string& schema) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string m = PQerrorMessage(c);
    PQfinish(c);
    fail("postgres: cannot connect: " + m);
  }
  pq_exec(c, "SET client_min_messages = warning");
  pq_exec(c, "DROP SCHEMA IF EXISTS " + schema + " CASCADE");
  PQfinish(c);
}

namespace {

// The text form of a PostgreSQL array parameter ("{"a","b"}" or "{1,2}"): text elements
// quoted, '"' and '\' escaped.
class pg_array {
 public:
  void add(const std::string& v) {
    separate();
    text_ += '"';
    for (char ch : v) {
      if (ch == '"' || ch == '\\') text_ += '\\';
      text_ += ch;
    }
    text_ += '"';
  }
  void add(std::int64_t v) {
    separate();
    text_ += std::to_string(v);
  }
  const char* finish() {
    if (text_.empty()) text_ = "{";
    text_ += '}';
    return text_.c_str();
  }

 private:
  void separate() { text_ += text_.empty() ? '{' : ','; }
  std::string text_;
};

// One ceiling transaction's streams: the new ones (key 0 until the write returns theirs) and
// the moved ones, each with the head and hash of its last row in the transaction.
struct tx_stream {
  std::string name;
  const persistence::event_record* last = nullptr;
  std::int64_t key = 0;
};

std::int64_t as_i64(std::uint64_t v) {
  return static_cast<std::int64_t>(v);
}

using pg_columns = std::vector<std::pair<std::string, std::string>>;  // name, element type

// "unnest($first::type[], ...) AS alias(column, ...)" over `columns`.
std::string unnest_of(int first, const std::string& alias, const pg_columns& columns) {
  std::string params;
  std::string names;
  for (const auto& [column, type] : columns) {
    params += (params.empty() ? "$" : ", $") + std::to_string(first++) + "::" + type + "[]";
    names += (names.empty() ? "" : ", ") + column;
  }
  return "unnest(" + params + ") AS " + alias + "(" + names + ")";
}

// The events columns a row fills, with the array element type and the value of a record;
// the write adds stream_key and stream_name (known per transaction) in front.
struct event_field {
  const char* column;
  const char* type;
  void (*add)(pg_array&, const persistence::event_record&);
};

const std::vector<event_field>& event_fields() {
  using rec = persistence::event_record;
  static const std::vector<event_field> fields = {
      {"global_position", "bigint",
       [](pg_array& a, const rec& r) { a.add(as_i64(r.position.value)); }},
      {"version", "bigint",
       [](pg_array& a, const rec& r) { a.add(as_i64(r.stream_version.value)); }},
      {"event_id", "text", [](pg_array& a, const rec& r) { a.add(r.event_id); }},
      {"event_type", "text", [](pg_array& a, const rec& r) { a.add(r.event_type); }},
      {"schema_version", "integer",
       [](pg_array& a, const rec& r) { a.add(static_cast<std::int64_t>(r.schema_version)); }},
      {"aggregate_type", "text", [](pg_array& a, const rec& r) { a.add(r.aggregate_type); }},
      {"aggregate_id", "text", [](pg_array& a, const rec& r) { a.add(r.aggregate_id); }},
      {"micros", "bigint", [](pg_array& a, const rec& r) { a.add(to_unix_micros(r.time)); }},
      {"user_id", "text", [](pg_array& a, const rec& r) { a.add(r.user_id); }},
      {"command_id", "text", [](pg_array& a, const rec& r) { a.add(r.command_id); }},
      {"correlation_id", "text", [](pg_array& a, const rec& r) { a.add(r.correlation_id); }},
      {"causation_id", "text", [](pg_array& a, const rec& r) { a.add(r.causation_id); }},
      {"data_text", "text", [](pg_array& a, const rec& r) { a.add(r.data); }},
      {"hash", "text", [](pg_array& a, const rec& r) { a.add(r.hash); }}};
  return fields;
}

}  // namespace

double postgres_ceiling(const std::string& conninfo, const std::string& schema,
                        const std::vector<persistence::event_record>& rows, std::size_t batch,
                        std::vector<std::int64_t>* tx_latency_ns) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string m = PQerrorMessage(c);
    PQfinish(c);
    fail("postgres ceiling: cannot connect: " + m);
  }
  const std::string s = schema + ".";
  pq_exec(c, "SET client_min_messages = warning");
  pq_exec(c, "DROP SCHEMA IF EXISTS " + schema + " CASCADE");
  pq_exec(c, "CREATE SCHEMA " + schema);
  // The journal's tables, keys and constraints (see postgres_journal.cpp).
  pq_exec(c, "CREATE TABLE " + s +
                 "streams (stream_key bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                 "name text NOT NULL UNIQUE, aggregate_type text NOT NULL, "
                 "aggregate_id text NOT NULL, head bigint NOT NULL, last_hash text NOT NULL)");
  pq_exec(c, "CREATE TABLE " + s +
                 "events (global_position bigint PRIMARY KEY, stream_key bigint NOT NULL "
                 "REFERENCES " +
                 s +
                 "streams (stream_key), version bigint NOT NULL, "
                 "event_id text NOT NULL, event_type text NOT NULL, schema_version integer NOT "
                 "NULL, aggregate_type text NOT NULL, aggregate_id text NOT NULL, occurred_at "
                 "timestamptz NOT NULL, user_id text NOT NULL, command_id text NOT NULL, "
                 "correlation_id text NOT NULL, causation_id text NOT NULL, data_text text NOT "
                 "NULL, data jsonb GENERATED ALWAYS AS (data_text::jsonb) STORED, hash text NOT "
                 "NULL, UNIQUE (stream_key, version))");
  pq_exec(c, "CREATE TABLE " + s +
                 "journal_position (singleton boolean PRIMARY KEY CHECK (singleton), "
                 "last_position bigint NOT NULL)");
  pq_exec(c, "INSERT INTO " + s + "journal_position VALUES (true, 0)");
  // A transaction is this one statement (no BEGIN/COMMIT round trips): the new streams, the
  // moved heads, the counter and the events, from array parameters; it returns the new
  // streams' keys, which the later transactions use (the journal reads them from its lock).
  // The journal's write minus its two locking statements. COPY was measured too (BEGIN, the
  // streams and counter in one statement, COPY ... FROM STDIN of the events, COMMIT): slower
  // at 10 and 100 events per transaction (its extra round trips), no faster at 1000.
  pg_columns event_columns = {{"stream_key", "bigint"}, {"stream_name", "text"}};
  for (const auto& f : event_fields()) event_columns.emplace_back(f.column, f.type);
  std::string insert_columns;
  std::string select_columns;
  for (const auto& [column, type] : event_columns) {
    if (column == "stream_name") continue;
    const bool first = insert_columns.empty();
    insert_columns += (first ? "" : ", ") + (column == "micros" ? "occurred_at" : column);
    select_columns += first ? "" : ", ";
    if (column == "stream_key")
      select_columns += "coalesce(n.stream_key, e.stream_key)";
    else if (column == "micros")
      select_columns += "timestamptz 'epoch' + e.micros * interval '1 microsecond'";
    else
      select_columns += "e." + column;
  }
  const std::string write =
      "WITH new_streams AS (INSERT INTO " + s +
      "streams (name, aggregate_type, aggregate_id, head, last_hash) SELECT * FROM " +
      unnest_of(1, "n",
                {{"name", "text"},
                 {"aggregate_type", "text"},
                 {"aggregate_id", "text"},
                 {"head", "bigint"},
                 {"last_hash", "text"}}) +
      " RETURNING stream_key, name), moved AS (UPDATE " + s +
      "streams AS t SET head = u.head, last_hash = u.last_hash FROM " +
      unnest_of(6, "u", {{"stream_key", "bigint"}, {"head", "bigint"}, {"last_hash", "text"}}) +
      " WHERE t.stream_key = u.stream_key), counter AS (UPDATE " + s +
      "journal_position SET last_position = $9::bigint WHERE singleton), written AS (INSERT "
      "INTO " +
      s + "events (" + insert_columns + ") SELECT " + select_columns + " FROM " +
      unnest_of(10, "e", event_columns) +
      " LEFT JOIN new_streams n ON n.name = e.stream_name) SELECT stream_key, name FROM "
      "new_streams";
  pq_ok(c, PQprepare(c, "write", write.c_str(), 0, nullptr), "prepare write");

  std::unordered_map<std::string, std::int64_t> keys;  // streams written so far
  const auto start = now_ns();
  std::size_t i = 0;
  while (i < rows.size()) {
    const std::size_t end = std::min(rows.size(), i + std::max<std::size_t>(batch, 1));
    const auto tx_start = now_ns();
    std::vector<tx_stream> streams;
    std::unordered_map<std::string, std::size_t> in_tx;
    pg_array new_name, new_type, new_id, new_head, new_hash, moved_key, moved_head, moved_hash;
    pg_array key, name;
    std::vector<pg_array> fields(event_fields().size());
    for (std::size_t k = i; k < end; ++k) {
      const auto& r = rows[k];
      std::string n = r.aggregate_type + "-" + r.aggregate_id;
      auto known = keys.find(n);
      const std::int64_t stream_key = known == keys.end() ? 0 : known->second;
      auto [it, added] = in_tx.emplace(n, streams.size());
      if (added) streams.push_back(tx_stream{n, &r, stream_key});
      streams[it->second].last = &r;
      key.add(stream_key);
      name.add(stream_key == 0 ? n : std::string{});
      for (std::size_t f = 0; f < fields.size(); ++f) event_fields()[f].add(fields[f], r);
    }
    for (const auto& st : streams) {
      if (st.key == 0) {
        new_name.add(st.name);
        new_type.add(st.last->aggregate_type);
        new_id.add(st.last->aggregate_id);
        new_head.add(as_i64(st.last->stream_version.value));
        new_hash.add(st.last->hash);
      } else {
        moved_key.add(st.key);
        moved_head.add(as_i64(st.last->stream_version.value));
        moved_hash.add(st.last->hash);
      }
    }
    const std::string counter = std::to_string(rows[end - 1].position.value);
    std::vector<const char*> p;
    for (pg_array* a : {&new_name, &new_type, &new_id, &new_head, &new_hash, &moved_key,
                        &moved_head, &moved_hash})
      p.push_back(a->finish());
    p.push_back(counter.c_str());
    p.push_back(key.finish());
    p.push_back(name.finish());
    for (auto& f : fields) p.push_back(f.finish());
    PGresult* res =
        PQexecPrepared(c, "write", static_cast<int>(p.size()), p.data(), nullptr, nullptr, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) pq_ok(c, res, "write");
    for (int k = 0; k < PQntuples(res); ++k)
      keys[PQgetvalue(res, k, 1)] = std::atoll(PQgetvalue(res, k, 0));
    PQclear(res);
    if (tx_latency_ns != nullptr) tx_latency_ns->push_back(now_ns() - tx_start);
    i = end;
  }
  const double seconds = static_cast<double>(now_ns() - start) / 1e9;

  // What the tables must hold: every row, the counter at the last position, and every
  // stream's head at its last version.
  std::unordered_map<std::string, std::uint64_t> heads;
  for (const auto& r : rows)
    heads[r.aggregate_type + "-" + r.aggregate_id] = r.stream_version.value;
  std::uint64_t head_sum = 0;
  for (const auto& [n, h] : heads) head_sum += h;
  const std::string expected = std::to_string(rows.size()) + " " +
                               std::to_string(rows.empty() ? 0 : rows.back().position.value) + " " +
                               std::to_string(heads.size()) + " " + std::to_string(head_sum);
  PGresult* res = PQexec(
      c,
      ("SELECT (SELECT count(*) FROM " + s + "events) || ' ' || (SELECT last_position FROM " + s +
       "journal_position) || ' ' || (SELECT count(*) || ' ' || coalesce(sum(head), 0) FROM " + s +
       "streams)")
          .c_str());
  const std::string held = PQresultStatus(res) == PGRES_TUPLES_OK ? PQgetvalue(res, 0, 0) : "?";
  PQclear(res);
  pq_exec(c, "DROP SCHEMA " + schema + " CASCADE");
  PQfinish(c);
  check(held == expected, "postgres ceiling holds (events, counter, streams, sum of heads) " +
                              held + ", expected " + expected);
  return static_cast<double>(rows.size()) / seconds;
}

// ---------------------------------------------------------------------------------------
// Filling a journal quickly

std::vector<std::uint64_t> append_orders(persistence::journal& j, const order_data& data,
                                         std::uint64_t events, std::size_t streams,
                                         const std::string& prefix, std::size_t per_tx) {
  check(streams > 0, "append_orders: no streams");
  std::vector<std::uint64_t> heads(streams, 0);
  const timestamp t = from_unix_micros(1700000000000000);
  const std::size_t streams_per_tx = std::min<std::size_t>(100, streams);
  const std::size_t per_stream = std::max<std::size_t>(1, per_tx / streams_per_tx);
  std::uint64_t written = 0;
  std::uint64_t reported = 0;
  std::size_t next_stream = 0;
  const auto t0 = now_ns();
  while (written < events) {
    std::vector<persistence::stream_append> batch;
    for (std::size_t s = 0; s < streams_per_tx && written < events; ++s) {
      const std::size_t k = next_stream;
      next_stream = (next_stream + 1) % streams;
      persistence::stream_append part;
      part.stream = stream_id{"Order", prefix + std::to_string(k)};
      part.expected = version{heads[k]};
      for (std::size_t e = 0; e < per_stream && written < events; ++e) {
        persistence::new_event ne;
        ne.event_id = prefix + "e-" + std::to_string(written);
        ne.time = t;
        ne.user_id = "bench";
        const auto enc =
            heads[k] == 0 ? orders::order::events().encode(
                                orders::event{orders::placed{"customer-" + std::to_string(k % 997),
                                                             data.currency(),
                                                             {},
                                                             money{0, data.currency()}}})
                          : orders::order::events().encode(
                                orders::event{orders::item_added{data.add(heads[k] - 1).item}});
        ne.event_type = enc.type;
        ne.schema_version = enc.schema_version;
        ne.data = enc.data;
        ++heads[k];
        ++written;
        part.events.push_back(std::move(ne));
      }
      batch.push_back(std::move(part));
    }
    auto r = j.append(batch);
    check(static_cast<bool>(r),
          "append_orders: append failed: " + (r ? std::string{} : to_string(r.err())));
    for (const auto& outcome : *r) check(static_cast<bool>(outcome), "append_orders: conflict");
    if (written - reported >= 1000000) {
      reported = written;
      std::fprintf(stderr, "  appended %llu events (%.0f/s)\n",
                   static_cast<unsigned long long>(written),
                   static_cast<double>(written) / (static_cast<double>(now_ns() - t0) / 1e9));
    }
  }
  return heads;
}

std::int64_t added_total(const order_data& data, std::uint64_t first_n, std::uint64_t count) {
  std::int64_t total = 0;
  for (std::uint64_t n = first_n; n < first_n + count; ++n)
    total += data.add(n).item.unit_price.minor * data.add(n).item.quantity;
  return total;
}

}  // namespace strata::bench
