#include "strata/persistence/postgres/postgres_projection_store.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include <pqxx/pqxx>

#include "strata/persistence/detail/read_model_tables.hpp"
#include "strata/persistence/postgres/detail/pg_error.hpp"
#include "strata/persistence/postgres/detail/pg_session.hpp"

namespace strata::persistence {

namespace {

bool is_word_start(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_word_char(char c) noexcept {
  return is_word_start(c) || (c >= '0' && c <= '9');
}
bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const char x = (a[i] >= 'a' && a[i] <= 'z') ? static_cast<char>(a[i] - 'a' + 'A') : a[i];
    if (x != b[i]) return false;  // `b` is upper case
  }
  return true;
}

}  // namespace

std::string postgres_placeholders(std::string_view sql, std::string_view kinds) {
  std::string out;
  out.reserve(sql.size() + 8 * kinds.size());
  std::size_t largest = 0;
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  for (std::size_t i = 0; i < sql.size();) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {  // a literal or quoted identifier; a doubled quote stays in it
      std::size_t end = i + 1;
      while (end < sql.size()) {
        if (sql[end] == c) {
          if (end + 1 < sql.size() && sql[end + 1] == c) {
            end += 2;
            continue;
          }
          break;
        }
        ++end;
      }
      end = std::min(end + 1, sql.size());
      out.append(sql.substr(i, end - i));
      i = end;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      const std::size_t nl = sql.find('\n', i);
      const std::size_t end = nl == std::string_view::npos ? sql.size() : nl;
      out.append(sql.substr(i, end - i));
      i = end;
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      const std::size_t close = sql.find("*/", i + 2);
      const std::size_t end = close == std::string_view::npos ? sql.size() : close + 2;
      out.append(sql.substr(i, end - i));
      i = end;
    } else if (c == '?') {
      std::size_t end = i + 1;
      std::size_t n = 0;
      while (end < sql.size() && is_digit(sql[end]))
        n = n * 10 + static_cast<std::size_t>(sql[end++] - '0');
      if (end == i + 1) n = largest + 1;
      largest = std::max(largest, n);
      out += '$';
      out += std::to_string(n);
      if (n >= 1 && n <= kinds.size()) {
        switch (kinds[n - 1]) {
          case 'i':
            out += "::bigint";
            break;
          case 'd':
            out += "::double precision";
            break;
          case 't':
            out += "::text";
            break;
          default:
            break;
        }
      }
      i = end;
    } else if (is_word_start(c) && (i == 0 || !is_word_char(sql[i - 1]))) {
      std::size_t end = i;
      while (end < sql.size() && is_word_char(sql[end])) ++end;
      const std::string_view word = sql.substr(i, end - i);
      if (iequals(word, "INTEGER")) {
        out += "BIGINT";  // SQLite's INTEGER holds 64 bits
      } else if (iequals(word, "WITHOUT")) {
        std::size_t next = end;
        while (next < sql.size() && (sql[next] == ' ' || sql[next] == '\n' || sql[next] == '\t'))
          ++next;
        std::size_t next_end = next;
        while (next_end < sql.size() && is_word_char(sql[next_end])) ++next_end;
        if (next > end && iequals(sql.substr(next, next_end - next), "ROWID"))
          end = next_end;  // a storage option of SQLite's only
        else
          out.append(word);
      } else {
        out.append(word);
      }
      i = end;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

namespace {

// Type OIDs of pg_catalog.pg_type (stable across versions).
constexpr pqxx::oid bool_oid = 16;
constexpr pqxx::oid int8_oid = 20;
constexpr pqxx::oid int2_oid = 21;
constexpr pqxx::oid int4_oid = 23;
constexpr pqxx::oid oid_oid = 26;
constexpr pqxx::oid float4_oid = 700;
constexpr pqxx::oid float8_oid = 701;
constexpr pqxx::oid numeric_oid = 1700;

char kind_of(const sql_value& v) noexcept {
  switch (v.index()) {
    case 1:
      return 'i';
    case 2:
      return 'd';
    case 3:
      return 't';
    default:
      return 'n';
  }
}

std::string render(const sql_value& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", *d);
    return buf;
  }
  return std::get<std::string>(v);
}

sql_value real_of(const char* text) {
  return std::strtod(text, nullptr);
}

sql_value column_value(const pqxx::field& f, pqxx::oid type) {
  if (f.is_null()) return nullptr;
  const char* text = f.c_str();
  switch (type) {
    case bool_oid:
      return std::int64_t{text[0] == 't' ? 1 : 0};
    case int2_oid:
    case int4_oid:
    case int8_oid:
    case oid_oid:
      return std::int64_t{std::strtoll(text, nullptr, 10)};
    case float4_oid:
    case float8_oid:
      return real_of(text);
    case numeric_oid: {
      // SUM and AVG of integers are numeric: an integral value that fits reads as an integer.
      const std::string_view s{text, f.size()};
      if (s.find_first_of(".eEN") == std::string_view::npos) {
        errno = 0;
        const long long i = std::strtoll(text, nullptr, 10);
        if (errno == 0) return std::int64_t{i};
      }
      return real_of(text);
    }
    default:
      return std::string{text, f.size()};
  }
}

std::vector<sql_row> rows_of(const pqxx::result& r) {
  std::vector<sql_row> rows;
  rows.reserve(r.size());
  const auto n = r.columns();
  std::vector<pqxx::oid> types(n);
  for (pqxx::row_size_type c = 0; c < n; ++c) types[c] = r.column_type(c);
  for (const auto& row : r) {
    sql_row out;
    out.reserve(n);
    for (pqxx::row_size_type c = 0; c < n; ++c) out.push_back(column_value(row[c], types[c]));
    rows.push_back(std::move(out));
  }
  return rows;
}

}  // namespace

struct postgres_projection_store::impl {
  postgres_projection_store_options options;
  std::unique_ptr<pqxx::connection> connection;
  std::unique_ptr<pqxx::work> work;  ///< The open write transaction, if any.
  std::optional<error> failed;       ///< The first failure of the open transaction.
  // Prepared statement names by PostgreSQL text (which carries the parameters' casts).
  std::unordered_map<std::string, std::string> prepared;
  std::string key;  ///< Scratch for the lookup key, reused.

  explicit impl(postgres_projection_store_options o) : options(std::move(o)) {}

  ~impl() { drop_transaction(); }

  void drop_transaction() noexcept {
    try {
      work.reset();  // aborts when not committed
    } catch (...) {
    }
    failed.reset();
  }

  void drop_connection() noexcept {
    drop_transaction();
    connection.reset();
    prepared.clear();
  }

  /// Maps the exception being handled; a lost connection is dropped once nothing uses it.
  /// REQUIRES: called inside a catch block.
  error current_error(std::string_view what, bool* lost) {
    std::string prefix = std::string{what} + ": ";
    try {
      throw;
    } catch (const pqxx::in_doubt_error& e) {
      *lost = true;
      return error{errc::unavailable,
                   prefix + "connection lost during commit, outcome unknown: " + e.what()};
    } catch (const pqxx::broken_connection& e) {
      *lost = true;
      return error{errc::unavailable, prefix + "PostgreSQL unreachable: " + e.what()};
    } catch (const pqxx::sql_error& e) {
      if (detail::is_connection_sqlstate(e.sqlstate())) *lost = true;
      return detail::pg_error(e, what);
    } catch (const std::exception& e) {
      *lost = connection == nullptr || !connection->is_open();
      return error{errc::internal, prefix + e.what()};
    } catch (...) {
      *lost = true;
      return error{errc::internal, prefix + "unknown exception"};
    }
  }

  result<void> ensure_connected() {
    if (connection && connection->is_open()) return ok();
    drop_connection();
    try {
      auto c = std::make_unique<pqxx::connection>(options.conninfo);
      c->set_variable("client_min_messages", "warning");
      c->set_variable("search_path", options.schema);
      connection = std::move(c);
      return ok();
    } catch (...) {
      bool lost = false;
      auto e = current_error("connecting to the read-model database", &lost);
      e.code = errc::unavailable;
      return e;
    }
  }

  result<void> create_schema() {
    if (auto c = ensure_connected(); !c) return c;
    try {
      pqxx::work tx{*connection};
      tx.exec_params("SELECT pg_advisory_xact_lock(hashtext($1))",
                     "strata.read_models.schema." + options.schema);
      tx.exec0("CREATE SCHEMA IF NOT EXISTS " + options.schema);
      tx.exec0("CREATE TABLE IF NOT EXISTS " + options.schema +
               ".projection_checkpoints (name text PRIMARY KEY, position bigint NOT NULL, "
               "last_event_us bigint NOT NULL, journal_id text NOT NULL DEFAULT '')");
      tx.exec0("CREATE TABLE IF NOT EXISTS " + options.schema +
               ".projection_dead_letters (projection text NOT NULL, position bigint NOT NULL, "
               "event_id text NOT NULL, event_type text NOT NULL, error text NOT NULL, "
               "parked_us bigint NOT NULL, attempts bigint NOT NULL, "
               "PRIMARY KEY (projection, position))");
      tx.commit();
      return ok();
    } catch (...) {
      bool lost = false;
      auto e = current_error("creating the read-model schema " + options.schema, &lost);
      if (lost) drop_connection();
      return e;
    }
  }

  // Runs `sql` in `tx`: a statement with parameters is prepared once per connection.
  pqxx::result run(pqxx::transaction_base& tx, std::string_view sql,
                   const std::vector<sql_value>& params) {
    key.clear();
    for (const auto& p : params) key += kind_of(p);
    std::string text = postgres_placeholders(sql, key);
    if (params.empty()) return tx.exec(text);
    auto it = prepared.find(text);
    if (it == prepared.end()) {
      std::string name = "strata_rm_" + std::to_string(prepared.size());
      connection->prepare(name, text);
      it = prepared.emplace(std::move(text), std::move(name)).first;
    }
    // A NULL is a null pointer; `values` is complete before any pointer into it is taken.
    std::vector<std::string> values;
    values.reserve(params.size());
    for (const auto& p : params)
      values.push_back(std::holds_alternative<std::nullptr_t>(p) ? std::string{} : render(p));
    std::vector<const char*> pointers(params.size(), nullptr);
    for (std::size_t i = 0; i < params.size(); ++i)
      if (!std::holds_alternative<std::nullptr_t>(params[i])) pointers[i] = values[i].c_str();
    return tx.exec_prepared(it->second, pqxx::prepare::make_dynamic_params(pointers));
  }

  // A statement of the open transaction; its failure aborts the transaction.
  result<std::vector<sql_row>> in_transaction(std::string_view what, std::string_view sql,
                                              const std::vector<sql_value>& params) {
    if (failed) return error{failed->code, "transaction failed earlier: " + failed->message};
    try {
      return rows_of(run(*work, sql, params));
    } catch (...) {
      bool lost = false;
      failed = current_error(what, &lost);
      return *failed;
    }
  }

  // A query outside a write transaction (retried once on a new connection when it was lost).
  result<std::vector<sql_row>> outside(std::string_view sql, const std::vector<sql_value>& params) {
    if (work) return in_transaction("read-model query", sql, params);
    for (int attempt = 0;; ++attempt) {
      const bool had_connection = connection != nullptr;
      if (auto c = ensure_connected(); !c) return c.err();
      try {
        pqxx::nontransaction tx{*connection};
        return rows_of(run(tx, sql, params));
      } catch (...) {
        bool lost = false;
        auto e = current_error("read-model query", &lost);
        if (!lost) return e;
        drop_connection();
        if (attempt > 0 || !had_connection) return e;
      }
    }
  }

  result<checkpoint> load_checkpoint(std::string_view name) {
    auto rows = outside(detail::checkpoint_sql, {std::string{name}});
    if (!rows) return std::move(rows).err();
    return detail::checkpoint_of(name, *rows);
  }
};

namespace {

class postgres_transaction final : public detail::table_transaction {
 public:
  explicit postgres_transaction(postgres_projection_store::impl& s) : s_(&s) {}
  ~postgres_transaction() override {
    if (s_ != nullptr) s_->drop_transaction();
  }

  result<void> execute(std::string_view sql, const std::vector<sql_value>& params) override {
    if (s_ == nullptr) return finished();
    auto r = s_->in_transaction("read-model statement", sql, params);
    if (!r) return std::move(r).err();
    return ok();
  }
  result<std::vector<sql_row>> query(std::string_view sql,
                                     const std::vector<sql_value>& params) override {
    if (s_ == nullptr) return finished();
    return s_->in_transaction("read-model query", sql, params);
  }
  result<checkpoint> load_checkpoint(std::string_view p) override {
    if (s_ == nullptr) return finished();
    return s_->load_checkpoint(p);
  }
  result<void> commit() override {
    if (s_ == nullptr) return finished();
    auto* s = std::exchange(s_, nullptr);
    if (s->failed) {
      error e{s->failed->code, "transaction failed earlier: " + s->failed->message};
      s->drop_transaction();
      return e;
    }
    try {
      s->work->commit();
      s->work.reset();
      return ok();
    } catch (...) {
      bool lost = false;
      auto e = s->current_error("read-model commit", &lost);
      s->drop_transaction();
      if (lost) s->drop_connection();
      return e;
    }
  }

 private:
  static error finished() { return error{errc::invalid_argument, "transaction is finished"}; }
  postgres_projection_store::impl* s_;
};

}  // namespace

postgres_projection_store::postgres_projection_store(std::unique_ptr<impl> i)
    : impl_(std::move(i)) {}
postgres_projection_store::~postgres_projection_store() = default;

result<std::unique_ptr<postgres_projection_store>> postgres_projection_store::open(
    const postgres_projection_store_options& options) {
  if (!detail::is_plain_identifier(options.schema))
    return error{errc::invalid_argument, "postgres read-model store: schema '" + options.schema +
                                             "' is not a plain identifier"};
  auto i = std::make_unique<impl>(options);
  if (auto created = i->create_schema(); !created) return std::move(created).err();
  return std::make_unique<postgres_projection_store>(std::move(i));
}

result<std::unique_ptr<projection_transaction>> postgres_projection_store::begin() {
  if (impl_->work) return error{errc::invalid_argument, "a read-model transaction is open already"};
  if (auto c = impl_->ensure_connected(); !c) return c.err();
  try {
    impl_->work = std::make_unique<pqxx::work>(*impl_->connection);
    impl_->failed.reset();
    return std::unique_ptr<projection_transaction>{std::make_unique<postgres_transaction>(*impl_)};
  } catch (...) {
    bool lost = false;
    auto e = impl_->current_error("beginning a read-model transaction", &lost);
    impl_->drop_transaction();
    if (lost) impl_->drop_connection();
    return e;
  }
}

result<std::vector<sql_row>> postgres_projection_store::query(
    std::string_view sql, const std::vector<sql_value>& params) {
  return impl_->outside(sql, params);
}

result<checkpoint> postgres_projection_store::load_checkpoint(std::string_view projection) {
  return impl_->load_checkpoint(projection);
}

result<std::vector<dead_letter>> postgres_projection_store::dead_letters(
    std::string_view projection) {
  auto rows = impl_->outside(detail::dead_letters_sql, {std::string{projection}});
  if (!rows) return std::move(rows).err();
  return detail::dead_letters_of(projection, *rows);
}

postgres_projection_store_factory::postgres_projection_store_factory(
    postgres_projection_store_options options)
    : options_(std::move(options)) {}

result<std::unique_ptr<projection_store>> postgres_projection_store_factory::open() {
  auto s = postgres_projection_store::open(options_);
  if (!s) return std::move(s).err();
  return std::unique_ptr<projection_store>{std::move(*s)};
}

}  // namespace strata::persistence
