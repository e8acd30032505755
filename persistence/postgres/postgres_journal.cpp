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
//   CREATE TABLE s.journal_position (             -- exactly one row
//     singleton bool PRIMARY KEY CHECK (singleton), last_position bigint NOT NULL);
//
//   CREATE SEQUENCE s.naive_positions;            -- test-only naive mode
//
// An append locks the journal_position row first (serialising writers until commit, see the
// header), then per stream: SAVEPOINT; upsert-and-lock the streams row; compare its head with
// the expected version; multi-row INSERT of the events; UPDATE the streams row; RELEASE. A
// conflicting stream is rolled back to its savepoint and gives its positions back.

#include "persistence/postgres/postgres_journal.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <set>
#include <string_view>
#include <utility>

#include "persistence/audit_chain.hpp"
#include "persistence/postgres/detail/pg_session.hpp"

namespace strata::persistence {

namespace {

constexpr std::int64_t max_i64 = std::numeric_limits<std::int64_t>::max();

std::int64_t clamp_i64(std::uint64_t v) {
  return v > static_cast<std::uint64_t>(max_i64) ? max_i64 : static_cast<std::int64_t>(v);
}

// The columns every read selects, in the order decode_event expects.
constexpr std::string_view event_columns =
    "e.global_position, e.version, e.event_id, e.event_type, e.schema_version, "
    "e.aggregate_type, e.aggregate_id, "
    "(extract(epoch from e.occurred_at) * 1000000)::bigint, "
    "e.user_id, e.command_id, e.correlation_id, e.causation_id, e.data_text, e.hash";

result<event_record> decode_event(const pqxx::row& row, global_position previous) {
  std::string where = "event after position " + std::to_string(previous.value);
  try {
    if (row[0].is_null()) return error{errc::corrupted, where + " has no global position"};
    auto position = row[0].as<std::int64_t>();
    where = "event at position " + std::to_string(position);
    if (position <= 0) return error{errc::corrupted, where + " has a non-positive position"};
    event_record r;
    r.position = global_position{static_cast<std::uint64_t>(position)};
    auto v = row[1].as<std::int64_t>();
    if (v <= 0) return error{errc::corrupted, where + " has a non-positive version"};
    r.stream_version = version{static_cast<std::uint64_t>(v)};
    r.event_id = row[2].as<std::string>();
    r.event_type = row[3].as<std::string>();
    auto sv = row[4].as<std::int64_t>();
    if (sv < 0 || sv > std::numeric_limits<std::uint32_t>::max())
      return error{errc::corrupted, where + " has an out-of-range schema version"};
    r.schema_version = static_cast<std::uint32_t>(sv);
    r.aggregate_type = row[5].as<std::string>();
    r.aggregate_id = row[6].as<std::string>();
    r.time = from_unix_micros(row[7].as<std::int64_t>());
    r.user_id = row[8].as<std::string>();
    r.command_id = row[9].as<std::string>();
    r.correlation_id = row[10].as<std::string>();
    r.causation_id = row[11].as<std::string>();
    r.data = row[12].as<std::string>();
    r.hash = row[13].as<std::string>();
    if (r.aggregate_type.empty() || r.aggregate_id.empty())
      return error{errc::corrupted, where + " has no stream name"};
    return r;
  } catch (const std::exception& e) {
    return error{errc::corrupted, where + " cannot be read: " + e.what()};
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

}  // namespace

struct postgres_journal::impl {
  postgres_journal_options options;
  std::string s;  // "<schema>." prefix for table names
  std::set<std::size_t> prepared_insert_sizes;
  detail::pg_session session;

  explicit impl(postgres_journal_options o)
      : options(std::move(o)),
        s(options.schema + "."),
        session(options.conninfo, [this](pqxx::connection& c) { prepare(c); }) {}

  void prepare(pqxx::connection& c) {
    prepared_insert_sizes.clear();
    c.prepare("lock_position",
              "SELECT last_position FROM " + s + "journal_position WHERE singleton FOR UPDATE");
    c.prepare("set_position",
              "UPDATE " + s + "journal_position SET last_position = $1 WHERE singleton");
    c.prepare("naive_positions",
              "SELECT nextval('" + s + "naive_positions') FROM generate_series(1, $1::int)");
    c.prepare("sleep", "SELECT pg_sleep($1::double precision)");
    // ON CONFLICT DO UPDATE locks an existing row like FOR UPDATE and returns its values.
    c.prepare("upsert_stream",
              "INSERT INTO " + s +
                  "streams AS t (name, aggregate_type, aggregate_id, head, last_hash) "
                  "VALUES ($1, $2, $3, 0, '') ON CONFLICT (name) DO UPDATE SET head = t.head "
                  "RETURNING stream_key, head, last_hash");
    c.prepare("update_stream",
              "UPDATE " + s + "streams SET head = $2, last_hash = $3 WHERE stream_key = $1");
    c.prepare("head", "SELECT head FROM " + s + "streams WHERE name = $1");
    c.prepare("last_position", "SELECT coalesce(max(global_position), 0) FROM " + s + "events");
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

  std::string insert_statement(pqxx::connection& c, std::size_t rows) {
    std::string name = "insert_events_" + std::to_string(rows);
    if (prepared_insert_sizes.count(rows) != 0) return name;
    std::string sql = "INSERT INTO " + s +
                      "events (stream_key, aggregate_type, aggregate_id, global_position, "
                      "version, event_id, event_type, schema_version, occurred_at, user_id, "
                      "command_id, correlation_id, causation_id, data_text, hash) VALUES ";
    constexpr std::size_t per_row = 12;
    for (std::size_t i = 0; i < rows; ++i) {
      auto p = [&](std::size_t k) { return "$" + std::to_string(4 + i * per_row + k); };
      if (i != 0) sql += ", ";
      sql += "($1::bigint, $2::text, $3::text, " + p(0) + "::bigint, " + p(1) + "::bigint, " +
             p(2) + "::text, " + p(3) + "::text, " + p(4) + "::integer, timestamptz 'epoch' + " +
             p(5) + "::bigint * interval '1 microsecond', " + p(6) + "::text, " + p(7) +
             "::text, " + p(8) + "::text, " + p(9) + "::text, " + p(10) + "::text, " + p(11) +
             "::text)";
    }
    c.prepare(name, sql);
    prepared_insert_sizes.insert(rows);
    return name;
  }

  result<void> create_schema(pqxx::connection& c) {
    {
      pqxx::nontransaction probe{c};
      auto r = probe.exec_params1(
          "SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL AND "
          "to_regclass($3) IS NOT NULL AND to_regclass($4) IS NOT NULL",
          s + "streams", s + "events", s + "journal_position", s + "naive_positions");
      if (r[0].as<bool>()) return ok();
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
    tx.exec0("CREATE TABLE IF NOT EXISTS " + s +
             "journal_position (singleton boolean PRIMARY KEY CHECK (singleton), "
             "last_position bigint NOT NULL)");
    tx.exec0("INSERT INTO " + s +
             "journal_position VALUES (true, 0) ON CONFLICT (singleton) DO NOTHING");
    tx.exec0("CREATE SEQUENCE IF NOT EXISTS " + s + "naive_positions");
    tx.commit();
    return ok();
  }

  void delay(pqxx::transaction_base& tx) const {
    if (options.testing.delay_after_positions_ms == 0) return;
    tx.exec_prepared("sleep", options.testing.delay_after_positions_ms / 1000.0);
  }

  // Writes one stream's events inside its savepoint; returns its records or a conflict.
  // Throws driver exceptions other than the unique violation that means a conflict.
  stream_outcome append_stream(pqxx::connection& c, pqxx::work& tx, const stream_append& a,
                               std::uint64_t first_position, bool& delayed) {
    auto row =
        tx.exec_prepared1("upsert_stream", a.stream.str(), std::string{a.stream.aggregate_type()},
                          std::string{a.stream.aggregate_id()});
    auto key = row[0].as<std::int64_t>();
    version head{static_cast<std::uint64_t>(row[1].as<std::int64_t>())};
    std::string previous_hash = row[2].as<std::string>();
    if (head != a.expected)
      return error{errc::conflict, conflict_message(a.stream, a.expected, head)};

    std::vector<std::uint64_t> positions;
    positions.reserve(a.events.size());
    if (options.testing.positions == postgres_position_mode::naive_sequence) {
      auto rows = tx.exec_prepared("naive_positions", static_cast<int>(a.events.size()));
      for (const auto& r : rows) positions.push_back(r[0].as<std::uint64_t>());
      std::sort(positions.begin(), positions.end());
      if (!delayed) {
        delay(tx);
        delayed = true;
      }
    } else {
      for (std::size_t i = 0; i < a.events.size(); ++i) positions.push_back(first_position + i);
    }

    std::vector<event_record> records;
    records.reserve(a.events.size());
    for (std::size_t i = 0; i < a.events.size(); ++i) {
      const new_event& e = a.events[i];
      event_record r;
      r.position = global_position{positions[i]};
      r.event_id = e.event_id;
      r.event_type = e.event_type;
      r.schema_version = e.schema_version;
      r.aggregate_type = std::string{a.stream.aggregate_type()};
      r.aggregate_id = std::string{a.stream.aggregate_id()};
      r.stream_version = version{head.value + 1 + i};
      r.time = e.time;
      r.user_id = e.user_id;
      r.command_id = e.command_id;
      r.correlation_id = e.correlation_id;
      r.causation_id = e.causation_id;
      r.data = e.data;
      r.hash = chain_hash(previous_hash, r);
      previous_hash = r.hash;
      records.push_back(std::move(r));
    }

    std::size_t chunk = options.insert_chunk_rows;
    std::vector<std::string> params;
    for (std::size_t begin = 0; begin < records.size(); begin += chunk) {
      std::size_t end = std::min(records.size(), begin + chunk);
      params.clear();
      params.reserve((end - begin) * 12);
      for (std::size_t i = begin; i < end; ++i) {
        const event_record& r = records[i];
        params.push_back(std::to_string(r.position.value));
        params.push_back(std::to_string(r.stream_version.value));
        params.push_back(r.event_id);
        params.push_back(r.event_type);
        params.push_back(std::to_string(r.schema_version));
        params.push_back(std::to_string(to_unix_micros(r.time)));
        params.push_back(r.user_id);
        params.push_back(r.command_id);
        params.push_back(r.correlation_id);
        params.push_back(r.causation_id);
        params.push_back(r.data);
        params.push_back(r.hash);
      }
      std::string statement = insert_statement(c, end - begin);
      tx.exec_prepared0(statement, key, records.front().aggregate_type,
                        records.front().aggregate_id, pqxx::prepare::make_dynamic_params(params));
    }
    tx.exec_prepared0("update_stream", key, clamp_i64(records.back().stream_version.value),
                      records.back().hash);
    return records;
  }

  result<std::vector<stream_outcome>> append(pqxx::connection& c,
                                             const std::vector<stream_append>& batch) {
    pqxx::work tx{c};
    bool counter = options.testing.positions == postgres_position_mode::counter_row;
    std::uint64_t next = 0;
    bool delayed = false;
    if (counter) {
      auto row = tx.exec_prepared1("lock_position");
      next = row[0].as<std::uint64_t>() + 1;
      delay(tx);
      delayed = true;
    }
    std::uint64_t first = next;
    std::vector<stream_outcome> outcomes;
    outcomes.reserve(batch.size());
    for (const stream_append& a : batch) {
      // Plain SAVEPOINT statements rather than pqxx::subtransaction: libpqxx 6.4 opens a
      // subtransaction lazily and skips that for prepared statements, so a failing prepared
      // statement would abort the whole transaction.
      tx.exec0("SAVEPOINT stream");
      stream_outcome outcome = error{errc::internal, "unset"};
      try {
        outcome = append_stream(c, tx, a, next, delayed);
      } catch (const pqxx::sql_error& e) {
        // 23505: the last guard, UNIQUE(stream_key, version), caught a concurrent writer.
        // 22xxx: this stream's data is malformed (not JSON, time out of range).
        // Anything else fails the whole batch.
        const std::string& state = e.sqlstate();
        if (state == "23505")
          outcome = error{errc::conflict, a.stream.str() + ": " + e.what()};
        else if (state.substr(0, 2) == "22")
          outcome = error{errc::invalid_argument, a.stream.str() + ": " + e.what()};
        else
          throw;
      }
      if (outcome) {
        tx.exec0("RELEASE SAVEPOINT stream");
        next += outcome->size();
      } else {
        tx.exec0("ROLLBACK TO SAVEPOINT stream");
      }
      outcomes.push_back(std::move(outcome));
    }
    if (counter && next != first) tx.exec_prepared0("set_position", clamp_i64(next - 1));
    tx.commit();
    return outcomes;
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
        pqxx::result rows = range.until ? tx.exec_prepared("read_stream_until", stream.str(),
                                                           clamp_i64(range.from.value), to, limit,
                                                           to_unix_micros(*range.until))
                                        : tx.exec_prepared("read_stream", stream.str(),
                                                           clamp_i64(range.from.value), to, limit);
        return decode_events(rows);
      });
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

postgres_journal_factory::postgres_journal_factory(postgres_journal_options options)
    : options_(std::move(options)) {}

result<std::unique_ptr<journal>> postgres_journal_factory::open() {
  auto j = postgres_journal::open(options_);
  if (!j) return std::move(j).err();
  return std::unique_ptr<journal>{std::move(*j)};
}

}  // namespace strata::persistence
