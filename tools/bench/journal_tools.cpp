#include "tools/bench/journal_tools.hpp"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <numeric>
#include <unordered_map>

#include "tools/bench/common.hpp"

namespace strata::bench {
namespace {

/// Forwards every call; records the size of each successful append batch.
class counting_journal final : public persistence::journal {
 public:
  counting_journal(std::unique_ptr<persistence::journal> inner, counting_factory& owner)
      : inner_(std::move(inner)), owner_(owner) {}

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
  result<std::vector<persistence::event_record>> read_stream(
      const stream_id& stream, const persistence::stream_range& range) override {
    return inner_->read_stream(stream, range);
  }
  result<std::vector<persistence::event_record>> read_all(global_position after,
                                                          std::size_t limit) override {
    return inner_->read_all(after, limit);
  }
  result<version> head(const stream_id& stream) override { return inner_->head(stream); }
  result<global_position> last_position() override { return inner_->last_position(); }

 private:
  std::unique_ptr<persistence::journal> inner_;
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

namespace {

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

}  // namespace

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
  constexpr std::size_t chunk = 64;
  constexpr int per_row = 15;
  auto insert_sql = [&](std::size_t n) {
    std::string sql = "INSERT INTO " + s +
                      "events (global_position, stream_key, version, event_id, event_type, "
                      "schema_version, aggregate_type, aggregate_id, occurred_at, user_id, "
                      "command_id, correlation_id, causation_id, data_text, hash) VALUES ";
    for (std::size_t i = 0; i < n; ++i) {
      auto p = [&](int k) { return "$" + std::to_string(static_cast<int>(i) * per_row + k); };
      if (i != 0) sql += ",";
      sql += "(" + p(1) + "::bigint," + p(2) + "::bigint," + p(3) + "::bigint," + p(4) + "," +
             p(5) + "," + p(6) + "::integer," + p(7) + "," + p(8) + ",timestamptz 'epoch' + " +
             p(9) + "::bigint * interval '1 microsecond'," + p(10) + "," + p(11) + "," + p(12) +
             "," + p(13) + "," + p(14) + "," + p(15) + ")";
    }
    return sql;
  };
  std::unordered_map<std::size_t, std::string> prepared;
  auto statement = [&](std::size_t n) -> const std::string& {
    auto it = prepared.find(n);
    if (it != prepared.end()) return it->second;
    std::string name = "ins" + std::to_string(n);
    pq_ok(c, PQprepare(c, name.c_str(), insert_sql(n).c_str(), 0, nullptr), "prepare " + name);
    return prepared.emplace(n, name).first->second;
  };
  pq_ok(c,
        PQprepare(c, "upsert",
                  ("INSERT INTO " + s +
                   "streams AS t (name, aggregate_type, aggregate_id, head, last_hash) VALUES "
                   "($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET head = "
                   "excluded.head, last_hash = excluded.last_hash RETURNING stream_key")
                      .c_str(),
                  0, nullptr),
        "prepare upsert");

  const auto start = now_ns();
  std::size_t i = 0;
  std::vector<std::string> values;
  std::vector<const char*> params;
  while (i < rows.size()) {
    const std::size_t end = std::min(rows.size(), i + std::max<std::size_t>(batch, 1));
    const auto tx_start = now_ns();
    pq_exec(c, "BEGIN");
    // The streams rows first (the events reference them), then the events in chunks.
    std::unordered_map<std::string, std::string> keys;
    for (std::size_t k = i; k < end; ++k) {
      const auto& r = rows[k];
      const std::string name = r.aggregate_type + "-" + r.aggregate_id;
      const std::string head = std::to_string(r.stream_version.value);
      const char* p[5] = {name.c_str(), r.aggregate_type.c_str(), r.aggregate_id.c_str(),
                          head.c_str(), r.hash.c_str()};
      PGresult* res = PQexecPrepared(c, "upsert", 5, p, nullptr, nullptr, 0);
      if (PQresultStatus(res) != PGRES_TUPLES_OK) pq_ok(c, res, "upsert");
      keys[name] = PQgetvalue(res, 0, 0);
      PQclear(res);
    }
    while (i < end) {
      const std::size_t n = std::min(chunk, end - i);
      values.clear();
      values.reserve(n * static_cast<std::size_t>(per_row));
      for (std::size_t k = i; k < i + n; ++k) {
        const auto& r = rows[k];
        values.push_back(std::to_string(r.position.value));
        values.push_back(keys[r.aggregate_type + "-" + r.aggregate_id]);
        values.push_back(std::to_string(r.stream_version.value));
        values.push_back(r.event_id);
        values.push_back(r.event_type);
        values.push_back(std::to_string(r.schema_version));
        values.push_back(r.aggregate_type);
        values.push_back(r.aggregate_id);
        values.push_back(std::to_string(to_unix_micros(r.time)));
        values.push_back(r.user_id);
        values.push_back(r.command_id);
        values.push_back(r.correlation_id);
        values.push_back(r.causation_id);
        values.push_back(r.data);
        values.push_back(r.hash);
      }
      params.clear();
      for (const auto& v : values) params.push_back(v.c_str());
      const std::string& name = statement(n);
      pq_ok(c,
            PQexecPrepared(c, name.c_str(), static_cast<int>(params.size()), params.data(), nullptr,
                           nullptr, 0),
            "insert");
      i += n;
    }
    pq_exec(c, "COMMIT");
    if (tx_latency_ns != nullptr) tx_latency_ns->push_back(now_ns() - tx_start);
  }
  const double seconds = static_cast<double>(now_ns() - start) / 1e9;
  PGresult* res = PQexec(c, ("SELECT count(*) FROM " + s + "events").c_str());
  const long long count =
      PQresultStatus(res) == PGRES_TUPLES_OK ? std::atoll(PQgetvalue(res, 0, 0)) : -1;
  PQclear(res);
  pq_exec(c, "DROP SCHEMA " + schema + " CASCADE");
  PQfinish(c);
  check(count == static_cast<long long>(rows.size()),
        "postgres ceiling holds " + std::to_string(count) + " rows, expected " +
            std::to_string(rows.size()));
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
