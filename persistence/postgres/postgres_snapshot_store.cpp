#include "strata/persistence/postgres/postgres_snapshot_store.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include "strata/persistence/postgres/detail/pg_session.hpp"

namespace strata::persistence {

namespace {

constexpr std::int64_t max_i64 = std::numeric_limits<std::int64_t>::max();

result<snapshot_record> decode(const pqxx::row& row, const stream_id& stream) {
  std::string where = "snapshot of " + stream.str();
  try {
    auto at = row[0].as<std::int64_t>();
    if (at < 1) return error{errc::corrupted, where + ": version " + std::to_string(at)};
    snapshot_record s;
    s.stream = stream;
    s.at = version{static_cast<std::uint64_t>(at)};
    where += " at v" + std::to_string(at);
    auto sv = row[1].as<std::int64_t>();
    if (sv < 0 || sv > std::numeric_limits<std::uint32_t>::max())
      return error{errc::corrupted, where + ": state_version " + std::to_string(sv)};
    s.state_version = static_cast<std::uint32_t>(sv);
    s.last_event_hash = row[2].as<std::string>();
    s.taken = from_unix_micros(row[3].as<std::int64_t>());
    s.state = row[4].as<std::string>();
    return s;
  } catch (const std::exception& e) {
    return error{errc::corrupted, where + " cannot be read: " + e.what()};
  }
}

}  // namespace

struct postgres_snapshot_store::impl {
  postgres_snapshot_store_options options;
  std::string table;
  detail::pg_session session;

  explicit impl(postgres_snapshot_store_options o)
      : options(std::move(o)),
        table(options.schema + ".snapshots"),
        session(options.conninfo, [this](pqxx::connection& c) { prepare(c); }) {}

  void prepare(pqxx::connection& c) {
    std::string columns =
        "at, state_version, last_event_hash, "
        "(extract(epoch from taken) * 1000000)::bigint, state";
    c.prepare("snapshot_upsert",
              "INSERT INTO " + table +
                  " (stream, at, state_version, last_event_hash, taken, state) VALUES ($1, $2, "
                  "$3, $4, timestamptz 'epoch' + $5::bigint * interval '1 microsecond', $6) "
                  "ON CONFLICT (stream, at) DO UPDATE SET state_version = excluded.state_version, "
                  "last_event_hash = excluded.last_event_hash, taken = excluded.taken, "
                  "state = excluded.state");
    c.prepare("snapshot_prune", "DELETE FROM " + table +
                                    " WHERE stream = $1 AND at < (SELECT at FROM " + table +
                                    " WHERE stream = $1 ORDER BY at DESC LIMIT 1 OFFSET $2)");
    c.prepare("snapshot_latest", "SELECT " + columns + " FROM " + table +
                                     " WHERE stream = $1 AND at <= $2 ORDER BY at DESC LIMIT 1");
    c.prepare("snapshot_list",
              "SELECT " + columns + " FROM " + table + " WHERE stream = $1 ORDER BY at");
    c.prepare("snapshot_remove", "DELETE FROM " + table + " WHERE stream = $1");
  }

  result<void> create_schema(pqxx::connection& c) {
    {
      pqxx::nontransaction probe{c};
      if (probe.exec_params1("SELECT to_regclass($1) IS NOT NULL", table)[0].as<bool>())
        return ok();
    }
    pqxx::work tx{c};
    tx.exec0("SET LOCAL client_min_messages = warning");
    tx.exec_params("SELECT pg_advisory_xact_lock(hashtext($1))",
                   "strata.snapshots.schema." + options.schema);
    tx.exec0("CREATE SCHEMA IF NOT EXISTS " + options.schema);
    tx.exec0("CREATE TABLE IF NOT EXISTS " + table +
             " (stream text NOT NULL, at bigint NOT NULL, state_version bigint NOT NULL, "
             "last_event_hash text NOT NULL, taken timestamptz NOT NULL, state text NOT NULL, "
             "PRIMARY KEY (stream, at))");
    tx.commit();
    return ok();
  }
};

postgres_snapshot_store::postgres_snapshot_store(std::unique_ptr<impl> state)
    : impl_(std::move(state)) {}
postgres_snapshot_store::~postgres_snapshot_store() = default;

result<std::unique_ptr<postgres_snapshot_store>> postgres_snapshot_store::open(
    postgres_snapshot_store_options options) {
  if (!detail::is_plain_identifier(options.schema))
    return error{errc::invalid_argument, "postgres snapshot store: schema '" + options.schema +
                                             "' is not a plain identifier"};
  if (options.keep_last == 0)
    return error{errc::invalid_argument, "postgres snapshot store: keep_last must be >= 1"};
  auto state = std::make_unique<impl>(std::move(options));
  impl* raw = state.get();
  auto created = raw->session.run("postgres snapshot store: creating schema",
                                  [raw](pqxx::connection& c) { return raw->create_schema(c); });
  if (!created) return std::move(created).err();
  return std::unique_ptr<postgres_snapshot_store>{new postgres_snapshot_store{std::move(state)}};
}

result<void> postgres_snapshot_store::save(const snapshot_record& s) {
  return save_all({s});
}

result<void> postgres_snapshot_store::save_all(const std::vector<snapshot_record>& batch) {
  auto what = check_snapshot_batch(batch);
  if (!what) return std::move(what).err();
  if (batch.empty()) return ok();
  return impl_->session.run(*what, [&](pqxx::connection& c) -> result<void> {
    pqxx::work tx{c};
    for (const auto& s : batch) {
      tx.exec_prepared0("snapshot_upsert", s.stream.str(),
                        static_cast<std::int64_t>(std::min<std::uint64_t>(s.at.value, max_i64)),
                        static_cast<std::int64_t>(s.state_version), s.last_event_hash,
                        to_unix_micros(s.taken), s.state);
      tx.exec_prepared0("snapshot_prune", s.stream.str(),
                        static_cast<std::int64_t>(impl_->options.keep_last - 1));
    }
    tx.commit();
    return ok();
  });
}

result<std::optional<snapshot_record>> postgres_snapshot_store::load_latest(const stream_id& stream,
                                                                            version at_or_below) {
  return impl_->session.run_idempotent(
      "load snapshot of " + stream.str(),
      [&](pqxx::connection& c) -> result<std::optional<snapshot_record>> {
        pqxx::nontransaction tx{c};
        auto rows = tx.exec_prepared(
            "snapshot_latest", stream.str(),
            static_cast<std::int64_t>(std::min<std::uint64_t>(at_or_below.value, max_i64)));
        if (rows.empty()) return std::optional<snapshot_record>{};
        auto s = decode(rows[0], stream);
        if (!s) return std::move(s).err();
        return std::optional<snapshot_record>{std::move(*s)};
      });
}

result<std::vector<snapshot_record>> postgres_snapshot_store::list(const stream_id& stream) {
  return impl_->session.run_idempotent(
      "list snapshots of " + stream.str(),
      [&](pqxx::connection& c) -> result<std::vector<snapshot_record>> {
        pqxx::nontransaction tx{c};
        std::vector<snapshot_record> out;
        for (const auto& row : tx.exec_prepared("snapshot_list", stream.str())) {
          auto s = decode(row, stream);
          if (!s) return std::move(s).err();
          out.push_back(std::move(*s));
        }
        return out;
      });
}

result<void> postgres_snapshot_store::remove_stream(const stream_id& stream) {
  return impl_->session.run("remove snapshots of " + stream.str(),
                            [&](pqxx::connection& c) -> result<void> {
                              pqxx::nontransaction tx{c};
                              tx.exec_prepared0("snapshot_remove", stream.str());
                              return ok();
                            });
}

postgres_snapshot_store_factory::postgres_snapshot_store_factory(
    postgres_snapshot_store_options options)
    : options_(std::move(options)) {}

result<std::unique_ptr<snapshot_store>> postgres_snapshot_store_factory::open() {
  auto s = postgres_snapshot_store::open(options_);
  if (!s) return std::move(s).err();
  return std::unique_ptr<snapshot_store>{std::move(*s)};
}

}  // namespace strata::persistence
