#include "strata/persistence/sqlite_projection_store.hpp"

#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include "strata/persistence/detail/read_model_tables.hpp"
#include "strata/persistence/detail/sqlite_error.hpp"

namespace strata::persistence {

namespace {

constexpr const char* schema_sql = R"sql(
CREATE TABLE IF NOT EXISTS projection_checkpoints (
  name TEXT PRIMARY KEY,
  position INTEGER NOT NULL,
  last_event_us INTEGER NOT NULL,
  journal_id TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS projection_dead_letters (
  projection TEXT NOT NULL,
  position INTEGER NOT NULL,
  event_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  error TEXT NOT NULL,
  parked_us INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  PRIMARY KEY (projection, position)
) WITHOUT ROWID;
)sql";

void bind_all(SQLite::Statement& s, const std::vector<sql_value>& params) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    const int at = static_cast<int>(i + 1);
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::nullptr_t>) {
            s.bind(at);
          } else if constexpr (std::is_same_v<T, std::int64_t>) {
            s.bind(at, static_cast<int64_t>(v));
          } else if constexpr (std::is_same_v<T, double>) {
            s.bind(at, v);
          } else {
            s.bindNoCopy(at, v);
          }
        },
        params[i]);
  }
}

sql_value column_value(const SQLite::Column& c) {
  switch (c.getType()) {
    case SQLITE_INTEGER:
      return std::int64_t{c.getInt64()};
    case SQLITE_FLOAT:
      return c.getDouble();
    case SQLITE_TEXT:
    case SQLITE_BLOB:
      return c.getString();
    default:
      return nullptr;
  }
}

}  // namespace

struct sqlite_projection_store::impl {
  sqlite_projection_store_options options;
  SQLite::Database db;
  // Keyed by a view of each statement's own text: a lookup hashes the SQL, allocates nothing.
  std::unordered_map<std::string_view, std::unique_ptr<SQLite::Statement>> cache;
  bool in_transaction = false;

  impl(sqlite_projection_store_options o)
      : options(std::move(o)), db(options.path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE) {
    db.setBusyTimeout(options.busy_timeout_ms);
    db.exec("PRAGMA journal_mode=WAL");
    db.exec(options.synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    if (options.cache_kib > 0) db.exec("PRAGMA cache_size=-" + std::to_string(options.cache_kib));
    db.exec(schema_sql);
    if (!has_journal_id_column()) add_journal_id_column();
  }

  bool has_journal_id_column() {
    SQLite::Statement s(db,
                        "SELECT count(*) FROM pragma_table_info('projection_checkpoints') "
                        "WHERE name = 'journal_id'");
    s.executeStep();
    return s.getColumn(0).getInt64() > 0;
  }

  // A file written before checkpoints recorded their journal: the column is added, empty,
  // once (under the write lock, so that concurrent openers do not both add it).
  void add_journal_id_column() {
    db.exec("BEGIN IMMEDIATE");
    try {
      if (!has_journal_id_column())
        db.exec(
            "ALTER TABLE projection_checkpoints ADD COLUMN journal_id TEXT NOT NULL DEFAULT ''");
      db.exec("COMMIT");
    } catch (...) {
      if (sqlite3_get_autocommit(db.getHandle()) == 0) db.tryExec("ROLLBACK");
      throw;
    }
  }

  // A cached statement, reset and bound; valid until the next call with the same text.
  SQLite::Statement& prepared(std::string_view sql, const std::vector<sql_value>& params) {
    auto it = cache.find(sql);
    if (it == cache.end()) {
      auto st = std::make_unique<SQLite::Statement>(db, std::string{sql});
      const std::string_view key{st->getQuery()};
      it = cache.emplace(key, std::move(st)).first;
    }
    auto& s = *it->second;
    s.reset();
    s.clearBindings();
    bind_all(s, params);
    return s;
  }

  result<void> execute(std::string_view sql, const std::vector<sql_value>& params) {
    return detail::sqlite_guarded("read-model statement", [&]() -> result<void> {
      auto& s = prepared(sql, params);
      while (s.executeStep()) {
      }
      s.reset();
      return ok();
    });
  }

  result<std::vector<sql_row>> query(std::string_view sql, const std::vector<sql_value>& params) {
    return detail::sqlite_guarded("read-model query", [&]() -> result<std::vector<sql_row>> {
      auto& s = prepared(sql, params);
      std::vector<sql_row> rows;
      const int n = s.getColumnCount();
      while (s.executeStep()) {
        sql_row row;
        row.reserve(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) row.push_back(column_value(s.getColumn(i)));
        rows.push_back(std::move(row));
      }
      s.reset();
      return rows;
    });
  }

  result<checkpoint> load_checkpoint(std::string_view name) {
    auto rows = query(detail::checkpoint_sql, {std::string{name}});
    if (!rows) return std::move(rows).err();
    return detail::checkpoint_of(name, *rows);
  }
};

namespace {

class sqlite_transaction final : public detail::table_transaction {
 public:
  explicit sqlite_transaction(sqlite_projection_store::impl& s) : s_(&s) {}
  ~sqlite_transaction() override {
    if (s_ != nullptr) rollback();
  }

  result<void> execute(std::string_view sql, const std::vector<sql_value>& params) override {
    if (s_ == nullptr) return finished();
    return s_->execute(sql, params);
  }
  result<std::vector<sql_row>> query(std::string_view sql,
                                     const std::vector<sql_value>& params) override {
    if (s_ == nullptr) return finished();
    return s_->query(sql, params);
  }
  result<checkpoint> load_checkpoint(std::string_view p) override {
    if (s_ == nullptr) return finished();
    return s_->load_checkpoint(p);
  }
  result<void> commit() override {
    if (s_ == nullptr) return finished();
    auto r = detail::sqlite_guarded("read-model commit", [&]() -> result<void> {
      s_->db.exec("COMMIT");
      return ok();
    });
    if (!r) {
      rollback();
    } else {
      s_->in_transaction = false;
    }
    s_ = nullptr;
    return r;
  }

 private:
  static error finished() { return error{errc::invalid_argument, "transaction is finished"}; }
  void rollback() noexcept {
    try {
      if (s_->db.getHandle() != nullptr && sqlite3_get_autocommit(s_->db.getHandle()) == 0)
        s_->db.exec("ROLLBACK");
    } catch (...) {  // nothing to add: the connection rolls back on close anyway
    }
    for (auto& [sql, st] : s_->cache) {
      try {
        st->reset();
      } catch (...) {
      }
    }
    s_->in_transaction = false;
    s_ = nullptr;
  }
  sqlite_projection_store::impl* s_;
};

}  // namespace

sqlite_projection_store::sqlite_projection_store(std::unique_ptr<impl> i) : impl_(std::move(i)) {}
sqlite_projection_store::~sqlite_projection_store() = default;

result<std::unique_ptr<sqlite_projection_store>> sqlite_projection_store::open(
    const sqlite_projection_store_options& options) {
  if (options.path.empty()) return error{errc::invalid_argument, "read-model path is empty"};
  return detail::sqlite_guarded(
      "opening read-model database " + options.path,
      [&]() -> result<std::unique_ptr<sqlite_projection_store>> {
        return std::make_unique<sqlite_projection_store>(std::make_unique<impl>(options));
      });
}

result<std::unique_ptr<projection_transaction>> sqlite_projection_store::begin() {
  if (impl_->in_transaction)
    return error{errc::invalid_argument, "a read-model transaction is open already"};
  return detail::sqlite_guarded("beginning a read-model transaction",
                                [&]() -> result<std::unique_ptr<projection_transaction>> {
                                  impl_->db.exec("BEGIN IMMEDIATE");
                                  impl_->in_transaction = true;
                                  return std::unique_ptr<projection_transaction>{
                                      std::make_unique<sqlite_transaction>(*impl_)};
                                });
}

result<std::vector<sql_row>> sqlite_projection_store::query(std::string_view sql,
                                                            const std::vector<sql_value>& params) {
  return impl_->query(sql, params);
}

result<checkpoint> sqlite_projection_store::load_checkpoint(std::string_view projection) {
  return impl_->load_checkpoint(projection);
}

result<std::vector<dead_letter>> sqlite_projection_store::dead_letters(
    std::string_view projection) {
  auto rows = impl_->query(detail::dead_letters_sql, {std::string{projection}});
  if (!rows) return std::move(rows).err();
  return detail::dead_letters_of(projection, *rows);
}

sqlite_projection_store_factory::sqlite_projection_store_factory(
    sqlite_projection_store_options options)
    : options_(std::move(options)) {}

result<std::unique_ptr<projection_store>> sqlite_projection_store_factory::open() {
  auto s = sqlite_projection_store::open(options_);
  if (!s) return std::move(s).err();
  return std::unique_ptr<projection_store>{std::move(*s)};
}

}  // namespace strata::persistence
