#include "strata/persistence/sqlite_snapshot_store.hpp"

#include <limits>
#include <utility>

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include "strata/persistence/detail/sqlite_error.hpp"

namespace strata::persistence {

namespace {

result<snapshot_record> decode(SQLite::Statement& q, const stream_id& stream) {
  std::string where = "snapshot of " + stream.str();
  auto at = q.getColumn(0);
  if (at.getType() != SQLITE_INTEGER || at.getInt64() < 1)
    return error{errc::corrupted, where + ": version column is not a positive integer"};
  snapshot_record s;
  s.stream = stream;
  s.at = version{static_cast<std::uint64_t>(at.getInt64())};
  where += " at v" + std::to_string(s.at.value);
  auto sv = q.getColumn(1);
  if (sv.getType() != SQLITE_INTEGER || sv.getInt64() < 0 ||
      sv.getInt64() > std::numeric_limits<std::uint32_t>::max())
    return error{errc::corrupted, where + ": state_version is not a 32-bit unsigned integer"};
  s.state_version = static_cast<std::uint32_t>(sv.getInt64());
  auto hash = q.getColumn(2);
  auto taken = q.getColumn(3);
  auto state = q.getColumn(4);
  if (hash.getType() != SQLITE_TEXT || taken.getType() != SQLITE_INTEGER ||
      state.getType() != SQLITE_TEXT)
    return error{errc::corrupted, where + ": a column has the wrong type"};
  s.last_event_hash = hash.getString();
  s.taken = from_unix_micros(taken.getInt64());
  s.state = state.getString();
  return s;
}

}  // namespace

struct sqlite_snapshot_store::impl {
  sqlite_snapshot_store_options options;
  SQLite::Database db;
  SQLite::Statement upsert;
  SQLite::Statement prune;
  SQLite::Statement latest;
  SQLite::Statement all;
  SQLite::Statement remove;

  static SQLite::Database open_db(const sqlite_snapshot_store_options& o) {
    SQLite::Database db{o.path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, o.busy_timeout_ms};
    db.exec("PRAGMA journal_mode = WAL");
    db.exec(o.synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    if (o.max_page_count) db.exec("PRAGMA max_page_count = " + std::to_string(*o.max_page_count));
    db.exec(
        "CREATE TABLE IF NOT EXISTS snapshots (stream TEXT NOT NULL, at INTEGER NOT NULL, "
        "state_version INTEGER NOT NULL, last_event_hash TEXT NOT NULL, "
        "taken_us INTEGER NOT NULL, state TEXT NOT NULL, PRIMARY KEY (stream, at)) "
        "WITHOUT ROWID");
    return db;
  }

  explicit impl(sqlite_snapshot_store_options o)
      : options(std::move(o)),
        db(open_db(options)),
        upsert(db,
               "INSERT OR REPLACE INTO snapshots (stream, at, state_version, last_event_hash, "
               "taken_us, state) VALUES (?, ?, ?, ?, ?, ?)"),
        prune(db,
              "DELETE FROM snapshots WHERE stream = ?1 AND at < (SELECT at FROM snapshots "
              "WHERE stream = ?1 ORDER BY at DESC LIMIT 1 OFFSET ?2)"),
        latest(db,
               "SELECT at, state_version, last_event_hash, taken_us, state FROM snapshots "
               "WHERE stream = ? AND at <= ? ORDER BY at DESC LIMIT 1"),
        all(db,
            "SELECT at, state_version, last_event_hash, taken_us, state FROM snapshots "
            "WHERE stream = ? ORDER BY at"),
        remove(db, "DELETE FROM snapshots WHERE stream = ?") {}
};

sqlite_snapshot_store::sqlite_snapshot_store(std::unique_ptr<impl> state)
    : impl_(std::move(state)) {}
sqlite_snapshot_store::~sqlite_snapshot_store() = default;

result<std::unique_ptr<sqlite_snapshot_store>> sqlite_snapshot_store::open(
    sqlite_snapshot_store_options options) {
  if (options.path.empty())
    return error{errc::invalid_argument, "sqlite snapshot store: path is empty"};
  if (options.keep_last == 0)
    return error{errc::invalid_argument, "sqlite snapshot store: keep_last must be >= 1"};
  std::string what = "sqlite snapshot store " + options.path;
  return detail::sqlite_guarded(what, [&]() -> result<std::unique_ptr<sqlite_snapshot_store>> {
    return std::unique_ptr<sqlite_snapshot_store>{
        new sqlite_snapshot_store{std::make_unique<impl>(std::move(options))}};
  });
}

result<void> sqlite_snapshot_store::save(const snapshot_record& s) {
  return save_all({s});
}

result<void> sqlite_snapshot_store::save_all(const std::vector<snapshot_record>& batch) {
  auto what = check_snapshot_batch(batch);
  if (!what) return std::move(what).err();
  if (batch.empty()) return ok();
  return detail::sqlite_guarded(*what, [&]() -> result<void> {
    SQLite::Transaction tx{impl_->db};
    for (const auto& s : batch) {
      auto& up = impl_->upsert;
      up.reset();
      up.bind(1, s.stream.str());
      up.bind(2, static_cast<std::int64_t>(s.at.value));
      up.bind(3, static_cast<std::int64_t>(s.state_version));
      up.bind(4, s.last_event_hash);
      up.bind(5, static_cast<std::int64_t>(to_unix_micros(s.taken)));
      up.bind(6, s.state);
      up.exec();
      auto& pr = impl_->prune;
      pr.reset();
      pr.bind(1, s.stream.str());
      pr.bind(2, static_cast<std::int64_t>(impl_->options.keep_last - 1));
      pr.exec();
    }
    tx.commit();
    return ok();
  });
}

result<std::optional<snapshot_record>> sqlite_snapshot_store::load_latest(const stream_id& stream,
                                                                          version at_or_below) {
  return detail::sqlite_guarded(
      "load snapshot of " + stream.str(), [&]() -> result<std::optional<snapshot_record>> {
        auto& q = impl_->latest;
        q.reset();
        q.bind(1, stream.str());
        q.bind(2, static_cast<std::int64_t>(std::min<std::uint64_t>(
                      at_or_below.value, std::numeric_limits<std::int64_t>::max())));
        if (!q.executeStep()) return std::optional<snapshot_record>{};
        auto s = decode(q, stream);
        q.reset();
        if (!s) return std::move(s).err();
        return std::optional<snapshot_record>{std::move(*s)};
      });
}

result<std::vector<snapshot_record>> sqlite_snapshot_store::list(const stream_id& stream) {
  return detail::sqlite_guarded("list snapshots of " + stream.str(),
                                [&]() -> result<std::vector<snapshot_record>> {
                                  auto& q = impl_->all;
                                  q.reset();
                                  q.bind(1, stream.str());
                                  std::vector<snapshot_record> out;
                                  while (q.executeStep()) {
                                    auto s = decode(q, stream);
                                    if (!s) {
                                      q.reset();
                                      return std::move(s).err();
                                    }
                                    out.push_back(std::move(*s));
                                  }
                                  return out;
                                });
}

result<void> sqlite_snapshot_store::remove_stream(const stream_id& stream) {
  return detail::sqlite_guarded("remove snapshots of " + stream.str(), [&]() -> result<void> {
    auto& q = impl_->remove;
    q.reset();
    q.bind(1, stream.str());
    q.exec();
    return ok();
  });
}

sqlite_snapshot_store_factory::sqlite_snapshot_store_factory(sqlite_snapshot_store_options options)
    : options_(std::move(options)) {}

result<std::unique_ptr<snapshot_store>> sqlite_snapshot_store_factory::open() {
  auto s = sqlite_snapshot_store::open(options_);
  if (!s) return std::move(s).err();
  return std::unique_ptr<snapshot_store>{std::move(*s)};
}

}  // namespace strata::persistence
