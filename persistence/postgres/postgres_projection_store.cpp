#include "strata/persistence/postgres/postgres_projection_store.hpp"

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

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

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

/// One past the string literal, quoted identifier or comment that starts at `i` (a doubled
/// quote stays inside), or `i` when none starts there.
std::size_t past_quoted(std::string_view sql, std::size_t i) noexcept {
  const char c = sql[i];
  if (c == '\'' || c == '"') {
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
    return std::min(end + 1, sql.size());
  }
  if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
    const std::size_t nl = sql.find('\n', i);
    return nl == std::string_view::npos ? sql.size() : nl;
  }
  if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
    const std::size_t close = sql.find("*/", i + 2);
    return close == std::string_view::npos ? sql.size() : close + 2;
  }
  return i;
}

/// Appends the PostgreSQL text of `sql` to `out` (see `postgres_placeholders`), writing
/// placeholder `n` (1-based) with `param(out, n)`.
template <class Param>
void translate(std::string& out, std::string_view sql, Param&& param) {
  std::size_t largest = 0;
  for (std::size_t i = 0; i < sql.size();) {
    const char c = sql[i];
    if (const std::size_t skip = past_quoted(sql, i); skip != i) {
      out.append(sql.substr(i, skip - i));
      i = skip;
    } else if (c == '?') {
      std::size_t end = i + 1;
      std::size_t n = 0;
      while (end < sql.size() && is_digit(sql[end]))
        n = n * 10 + static_cast<std::size_t>(sql[end++] - '0');
      if (end == i + 1) n = largest + 1;
      largest = std::max(largest, n);
      param(out, n);
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
}

/// The cast of a parameter of kind `kind` ('i', 'd', 't'; none for anything else).
void append_cast(std::string& out, char kind) {
  switch (kind) {
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

/// A lexical token of SQL text: a word, a placeholder, a quoted item or one other character.
struct sql_token {
  enum kind_t : std::uint8_t { word, placeholder, quoted, other } kind;
  std::size_t begin;
  std::size_t end;
  std::size_t param = 0;  ///< Of a placeholder: its 0-based parameter.
};

/// The tokens of `sql`, without white space and comments; placeholders numbered as
/// `translate` numbers them.
std::vector<sql_token> tokens_of(std::string_view sql) {
  std::vector<sql_token> out;
  std::size_t largest = 0;
  for (std::size_t i = 0; i < sql.size();) {
    const char c = sql[i];
    if (const std::size_t skip = past_quoted(sql, i); skip != i) {
      if (c == '\'' || c == '"') out.push_back({sql_token::quoted, i, skip});
      i = skip;
    } else if (c == '?') {
      std::size_t end = i + 1;
      std::size_t n = 0;
      while (end < sql.size() && is_digit(sql[end]))
        n = n * 10 + static_cast<std::size_t>(sql[end++] - '0');
      if (end == i + 1) n = largest + 1;
      largest = std::max(largest, n);
      out.push_back({sql_token::placeholder, i, end, n == 0 ? 0 : n - 1});
      i = end;
    } else if (is_word_char(c)) {
      std::size_t end = i;
      while (end < sql.size() && is_word_char(sql[end])) ++end;
      out.push_back({sql_token::word, i, end});
      i = end;
    } else {
      if (c != ' ' && c != '\n' && c != '\t' && c != '\r')
        out.push_back({sql_token::other, i, i + 1});
      ++i;
    }
  }
  return out;
}

/// How consecutive executions of one statement merge into one statement: an INSERT into one
/// multi-row INSERT, an UPDATE or a DELETE by key into one that joins a VALUES list.
struct merge_shape {
  bool mergeable = false;
  std::string head;  ///< The text before the first row; no placeholder in it.
  std::string row;   ///< One row, with the statement's placeholders.
  std::string tail;  ///< The text after the last row; no placeholder in it.
  /// The rows are a VALUES list in a FROM or USING clause, whose column types come from the
  /// rows: a NULL parameter would leave a column without a type, so such executions run alone.
  bool typed_rows = false;
  std::size_t params = 0;  ///< Parameters a row binds (typed rows: exactly these).
  /// The parameters (0-based) of the key: two rows with equal values there must not share a
  /// statement. For an INSERT, the conflict target of `ON CONFLICT (...) DO UPDATE`
  /// (PostgreSQL refuses to update one row twice in one command); for an UPDATE, the key of
  /// its WHERE clause (a joined UPDATE would apply only one of the two).
  std::vector<std::size_t> key;
};

/// The tokens of a statement, with the questions its shape is asked.
struct sql_tokens {
  std::string_view sql;
  std::vector<sql_token> t = tokens_of(sql);

  /// Whether token `k` is the word `upper` (in any case).
  bool is(std::size_t k, std::string_view upper) const {
    return k < t.size() && t[k].kind == sql_token::word && iequals(text(k), upper);
  }
  /// Whether token `k` is the character `c`.
  bool is_char(std::size_t k, char c) const {
    return k < t.size() && t[k].kind == sql_token::other && sql[t[k].begin] == c;
  }
  std::string_view text(std::size_t k) const {
    return sql.substr(t[k].begin, t[k].end - t[k].begin);
  }
};

/// The shape of `sql`: mergeable when it is `INSERT INTO t [(columns)] VALUES (row) [tail]`
/// with every placeholder in the one row, no subquery in the row, and, when the tail says
/// `ON CONFLICT ... DO UPDATE`, a conflict target of columns that the row binds to parameters.
/// Rows of one multi-row INSERT are inserted in order, as the single statements would be.
merge_shape insert_shape_of(std::string_view sql) {
  merge_shape shape;
  const sql_tokens tokens{sql};
  const auto& t = tokens.t;
  // The tokens of a parenthesised list starting at `open`, split at its top-level commas;
  // `close` receives the index of its ')'.
  auto list = [&](std::size_t open, std::size_t* close) {
    std::vector<std::vector<std::size_t>> items(1);
    int depth = 0;
    for (std::size_t k = open; k < t.size(); ++k) {
      if (tokens.is_char(k, '(') && depth++ == 0) continue;
      if (tokens.is_char(k, ')') && --depth == 0) {
        *close = k;
        return items;
      }
      if (depth == 1 && tokens.is_char(k, ','))
        items.emplace_back();
      else
        items.back().push_back(k);
    }
    *close = t.size();
    return std::vector<std::vector<std::size_t>>{};
  };
  if (!tokens.is(0, "INSERT") || !tokens.is(1, "INTO")) return shape;
  std::size_t values = 2;
  while (values < t.size() && !tokens.is(values, "VALUES")) {
    if (t[values].kind == sql_token::placeholder) return shape;
    ++values;
  }
  if (!tokens.is_char(values + 1, '(')) return shape;
  std::size_t row_close = 0;
  const auto row = list(values + 1, &row_close);
  if (row.empty() || tokens.is_char(row_close + 1, ',')) return shape;
  for (std::size_t k = values + 1; k < row_close; ++k)
    if (tokens.is(k, "SELECT")) return shape;  // a subquery would not see the earlier rows
  for (std::size_t k = row_close + 1; k < t.size(); ++k)
    if (t[k].kind == sql_token::placeholder) return shape;
  // The conflict target, when the tail updates on a conflict.
  std::size_t on = row_close + 1;
  while (on < t.size() && !(tokens.is(on, "ON") && tokens.is(on + 1, "CONFLICT"))) ++on;
  if (on < t.size()) {
    std::size_t d = on + 2;
    while (d < t.size() && !tokens.is(d, "DO")) ++d;
    if (tokens.is(d + 1, "UPDATE")) {
      std::size_t target_close = 0;
      const auto target = tokens.is_char(on + 2, '(') ? list(on + 2, &target_close)
                                                      : std::vector<std::vector<std::size_t>>{};
      std::size_t columns_close = 0;
      const auto columns = tokens.is_char(values - 1, ')') && tokens.is_char(3, '(')
                               ? list(3, &columns_close)
                               : std::vector<std::vector<std::size_t>>{};
      if (target.empty() || columns.size() != row.size() || columns_close != values - 1)
        return shape;
      for (const auto& target_column : target) {
        if (target_column.size() != 1 || t[target_column[0]].kind != sql_token::word) return shape;
        bool bound = false;
        for (std::size_t c = 0; c < columns.size() && !bound; ++c) {
          if (columns[c].size() != 1 || t[columns[c][0]].kind != sql_token::word) continue;
          const auto a = tokens.text(columns[c][0]);
          const auto b = tokens.text(target_column[0]);
          if (a.size() != b.size()) continue;
          bool same = true;
          for (std::size_t i = 0; i < a.size() && same; ++i) same = (a[i] | 0x20) == (b[i] | 0x20);
          if (!same) continue;
          if (row[c].size() != 1 || t[row[c][0]].kind != sql_token::placeholder) return shape;
          shape.key.push_back(t[row[c][0]].param);
          bound = true;
        }
        if (!bound) return shape;
      }
    }
  }
  shape.mergeable = true;
  shape.head.assign(sql.substr(0, t[values + 1].begin));
  shape.row.assign(sql.substr(t[values + 1].begin, t[row_close].end - t[values + 1].begin));
  shape.tail.assign(sql.substr(t[row_close].end));
  return shape;
}

/// The shape of `sql` when it is `UPDATE t SET c = ?, ... WHERE k = ? AND ...` or
/// `DELETE FROM t WHERE k = ? AND ...`: every assignment and every condition a column and a
/// placeholder, nothing after the WHERE clause. Its rows join as a VALUES list:
/// `UPDATE t AS strata_t SET c = strata_v.p1, ... FROM (VALUES (...), ...) AS strata_v(p1, ...)
/// WHERE strata_t.k = strata_v.p2 AND ...`, which updates (or deletes) the same rows as the
/// single statements as long as no two rows share a key.
merge_shape keyed_shape_of(std::string_view sql) {
  merge_shape shape;
  const sql_tokens tokens{sql};
  const auto& t = tokens.t;
  // `column = placeholder` at k: the column's token, or none.
  auto pair_at = [&](std::size_t k) {
    return k + 2 < t.size() && t[k].kind == sql_token::word && tokens.is_char(k + 1, '=') &&
           t[k + 2].kind == sql_token::placeholder;
  };
  const bool update = tokens.is(0, "UPDATE");
  if (!update && !(tokens.is(0, "DELETE") && tokens.is(1, "FROM"))) return shape;
  const std::size_t table = update ? 1 : 2;
  if (table >= t.size() || t[table].kind != sql_token::word) return shape;
  std::size_t k = table + 1;  // a qualified name: schema.table
  while (tokens.is_char(k, '.') && k + 1 < t.size() && t[k + 1].kind == sql_token::word) k += 2;
  const std::string_view table_name = sql.substr(t[table].begin, t[k - 1].end - t[table].begin);
  using pairs = std::vector<std::pair<std::string_view, std::size_t>>;
  // `column = ? <separator> column = ? ...` from k on, into `out`; false when k holds none.
  auto pairs_at = [&](pairs& out, auto separated) {
    for (;;) {
      if (!pair_at(k)) return false;
      out.emplace_back(tokens.text(k), t[k + 2].param);
      k += 3;
      if (!separated(k)) return true;
      ++k;
    }
  };
  pairs set;
  pairs where;
  if (update && !(tokens.is(k++, "SET") &&
                  pairs_at(set, [&](std::size_t i) { return tokens.is_char(i, ','); })))
    return shape;
  if (!tokens.is(k++, "WHERE") ||
      !pairs_at(where, [&](std::size_t i) { return tokens.is(i, "AND"); }))
    return shape;
  if (k != t.size() && !(k + 1 == t.size() && tokens.is_char(k, ';'))) return shape;
  std::size_t params = 0;
  for (const auto& [column, p] : set) params = std::max(params, p + 1);
  for (const auto& [column, p] : where) params = std::max(params, p + 1);
  auto column = [](std::size_t p) { return "strata_v.p" + std::to_string(p + 1); };
  shape.head = update ? "UPDATE " : "DELETE FROM ";
  shape.head.append(table_name);
  shape.head += " AS strata_t";
  if (update) {
    shape.head += " SET ";
    for (std::size_t i = 0; i < set.size(); ++i) {
      if (i > 0) shape.head += ", ";
      shape.head.append(set[i].first);
      shape.head += " = ";
      shape.head += column(set[i].second);
    }
  }
  shape.head += update ? " FROM (VALUES " : " USING (VALUES ";
  shape.row = "(";
  shape.tail = ") AS strata_v(";
  for (std::size_t p = 0; p < params; ++p) {
    if (p > 0) {
      shape.row += ", ";
      shape.tail += ", ";
    }
    shape.row += "?" + std::to_string(p + 1);
    shape.tail += "p" + std::to_string(p + 1);
  }
  shape.row += ")";
  shape.tail += ") WHERE ";
  for (std::size_t i = 0; i < where.size(); ++i) {
    if (i > 0) shape.tail += " AND ";
    shape.tail += "strata_t.";
    shape.tail.append(where[i].first);
    shape.tail += " = ";
    shape.tail += column(where[i].second);
    shape.key.push_back(where[i].second);
  }
  shape.typed_rows = true;
  shape.params = params;
  shape.mergeable = true;
  return shape;
}

/// How executions of `sql` merge (see `merge_shape`).
merge_shape shape_of(std::string_view sql) {
  auto shape = insert_shape_of(sql);
  return shape.mergeable ? shape : keyed_shape_of(sql);
}

}  // namespace

std::string postgres_placeholders(std::string_view sql, std::string_view kinds) {
  std::string out;
  out.reserve(sql.size() + 8 * kinds.size());
  translate(out, sql, [&](std::string& o, std::size_t n) {
    o += '$';
    o += std::to_string(n);
    if (n >= 1 && n <= kinds.size()) append_cast(o, kinds[n - 1]);
  });
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

/// Appends `v` as an SQL literal (NULL, a quoted number, or text quoted by `tx`).
void append_literal(std::string& out, pqxx::transaction_base& tx, const sql_value& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) {
    out += '\'';  // quoted, so that the smallest bigint reads as one
    out += std::to_string(*i);
    out += '\'';
  } else if (const auto* d = std::get_if<double>(&v)) {
    out += '\'';
    if (std::isnan(*d))
      out += "NaN";
    else if (std::isinf(*d))
      out += *d > 0 ? "Infinity" : "-Infinity";
    else
      out += render(v);
    out += '\'';
  } else if (const auto* t = std::get_if<std::string>(&v)) {
    out += tx.quote(*t);
  } else {
    out += "NULL";
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
  /// Whether the open transaction queues its statements (`defer_writes`).
  bool deferring = false;
  /// The queued statements, with their parameters written as literals, each ending in ';':
  /// sent as one multi-statement query by `flush`.
  std::string queued;
  static constexpr std::size_t max_queued_bytes = 1 << 20;
  /// The merged statement whose rows `queued` ends with, still open for more rows of the same
  /// text.
  struct open_insert {
    std::string sql;  ///< Its text as the handler wrote it; empty when none is open.
    std::string kinds;
    const merge_shape* shape = nullptr;
    std::unordered_set<std::string> keys;  ///< Keys of its rows (`merge_shape::key`).
  } pending;
  std::unordered_map<std::string, merge_shape> shapes;  ///< By SQL text.
  std::string row_key;                                  ///< Scratch.
  std::string last_sql;                                 ///< The text `last_shape` belongs to.
  const merge_shape* last_shape = nullptr;
  /// Statements the queue runs with EXECUTE: the name each PostgreSQL text was prepared under
  /// on this connection. A prepared statement outlives a rolled-back transaction, but one whose
  /// PREPARE never ran (the queue failed or was dropped first) does not exist: `unsent` holds
  /// the texts whose PREPARE is still queued, forgotten unless the queue runs. Names are never
  /// reused.
  std::unordered_map<std::string, std::string> queued_statements;
  std::vector<std::string> unsent;
  std::size_t next_statement = 0;
  std::string statement_text;  ///< Scratch.
  /// Statements written by the open transaction, and by the committed ones on this connection.
  std::uint64_t written = 0;
  std::uint64_t committed_writes = 0;
  /// The committed writes at which the schema's tables are analyzed next (see `analyze`).
  std::uint64_t next_analyze = first_analyze;
  static constexpr std::uint64_t first_analyze = 1000;

  explicit impl(postgres_projection_store_options o) : options(std::move(o)) {}

  ~impl() { drop_transaction(); }

  void drop_transaction() noexcept {
    try {
      work.reset();  // aborts when not committed
    } catch (...) {
    }
    failed.reset();
    deferring = false;
    written = 0;
    queued.clear();
    pending.sql.clear();
    forget_unsent();
  }

  void forget_unsent() noexcept {
    for (const auto& t : unsent) queued_statements.erase(t);
    unsent.clear();
  }

  void drop_connection() noexcept {
    drop_transaction();
    connection.reset();
    prepared.clear();
    queued_statements.clear();
    committed_writes = 0;
    next_analyze = first_analyze;
  }

  // Counts a committed transaction's writes. A read model is often filled from empty in one
  // sitting (a new projection, a rebuild), far faster than autovacuum analyzes it: the planner
  // would go on taking its tables for empty and scan them whole for every lookup. So the
  // tables are analyzed here each time the committed writes of this connection have doubled
  // since the last time (1,000, 2,000, 4,000, ...): a few times during a catch-up, rarely after.
  void committed() noexcept {
    committed_writes += std::exchange(written, 0);
    if (committed_writes < next_analyze) return;
    next_analyze = committed_writes * 2;
    analyze();
  }

  // ANALYZE of the schema's tables; best effort: on a failure the old statistics stay.
  void analyze() noexcept {
    try {
      pqxx::nontransaction tx{*connection};
      const auto tables = tx.exec_params(
          "SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables "
          "WHERE schemaname = $1",
          options.schema);
      if (tables.empty()) return;
      std::string sql = "ANALYZE ";
      for (pqxx::row::size_type i = 0; i < tables.size(); ++i) {
        if (i > 0) sql += ", ";
        sql += tables[i][0].c_str();
      }
      tx.exec(sql);
    } catch (...) {
    }
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
    } catch (const pqxx::transaction_rollback& e) {
      return detail::rollback_error(e, what);
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
      if (options.idle_in_transaction_timeout_ms > 0)
        c->set_variable("idle_in_transaction_session_timeout",
                        std::to_string(options.idle_in_transaction_timeout_ms));
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

  error failed_earlier() const {
    return error{failed->code, "transaction failed earlier: " + failed->message};
  }

  // Sends the queued statements of the open transaction, in one round trip.
  result<void> flush() {
    if (failed) return failed_earlier();
    close_insert();
    if (queued.empty()) return ok();
    try {
      work->exec(queued);
      queued.clear();
      unsent.clear();
      return ok();
    } catch (...) {
      queued.clear();
      forget_unsent();
      bool lost = false;
      failed = current_error("read-model statements", &lost);
      return *failed;
    }
  }

  // Writes `sql` (a part of a statement) with `params` as literals.
  void append_inline(std::string_view sql, const std::vector<sql_value>& params) {
    translate(queued, sql, [&](std::string& out, std::size_t n) {
      if (n < 1 || n > params.size()) {  // as an unbound parameter: the statement fails
        out += '$';
        out += std::to_string(n);
        return;
      }
      append_literal(out, *work, params[n - 1]);
      append_cast(out, key[n - 1]);
    });
  }

  // Ends the open merged statement with its tail.
  void close_insert() {
    if (pending.sql.empty()) return;
    append_inline(pending.shape->tail, {});
    queued += ";\n";
    pending.sql.clear();
  }

  // The conflict key of a row (false when a part of it is NULL, which conflicts with nothing).
  bool key_of(const merge_shape& shape, const std::vector<sql_value>& params) {
    row_key.clear();
    for (const std::size_t p : shape.key) {
      if (p >= params.size() || std::holds_alternative<std::nullptr_t>(params[p])) return false;
      append_literal(row_key, *work, params[p]);
      row_key += '\x1f';
    }
    return !shape.key.empty();
  }

  const merge_shape& shape_for(std::string_view sql) {
    if (last_shape != nullptr && last_sql == sql) return *last_shape;
    last_sql.assign(sql.data(), sql.size());
    auto it = shapes.find(last_sql);
    if (it == shapes.end()) it = shapes.emplace(last_sql, shape_of(sql)).first;
    last_shape = &it->second;
    return *last_shape;
  }

  // Queues `sql` as an EXECUTE of a statement prepared once per connection (the server then
  // parses and plans it once), its parameters written as literals.
  void execute_prepared(std::string_view sql, const std::vector<sql_value>& params) {
    if (params.empty()) {
      append_inline(sql, params);
      queued += ";\n";
      return;
    }
    statement_text = postgres_placeholders(sql, key);
    auto it = queued_statements.find(statement_text);
    if (it == queued_statements.end()) {
      it = queued_statements.emplace(statement_text, "strata_q_" + std::to_string(next_statement++))
               .first;
      unsent.push_back(statement_text);
      queued += "PREPARE ";
      queued += it->second;
      queued += " AS ";
      queued += statement_text;
      queued += ";\n";
    }
    queued += "EXECUTE ";
    queued += it->second;
    queued += '(';
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (i > 0) queued += ", ";
      append_literal(queued, *work, params[i]);
      append_cast(queued, key[i]);
    }
    queued += ");\n";
  }

  // Queues a statement of the open transaction (sending the queue when it grows large). A run
  // of one INSERT's executions becomes one multi-row INSERT, split where a row would update
  // a row an earlier one of the same statement inserted or updated.
  result<void> enqueue(std::string_view sql, const std::vector<sql_value>& params) {
    if (failed) return failed_earlier();
    key.clear();
    for (const auto& p : params) key += kind_of(p);
    if (!pending.sql.empty() && pending.sql == sql && pending.kinds == key) {
      const bool keyed = key_of(*pending.shape, params);
      if (!keyed || pending.keys.insert(row_key).second) {
        queued += ',';
        append_inline(pending.shape->row, params);
        return queued.size() >= max_queued_bytes ? flush() : ok();
      }
    }
    close_insert();
    const auto& shape = shape_for(sql);
    if (!shape.mergeable || (shape.typed_rows && (params.size() != shape.params ||
                                                  key.find('n') != std::string::npos))) {
      execute_prepared(sql, params);
      return queued.size() >= max_queued_bytes ? flush() : ok();
    }
    pending.sql.assign(sql.data(), sql.size());
    pending.kinds = key;
    pending.shape = &shape;
    pending.keys.clear();
    if (key_of(shape, params)) pending.keys.insert(row_key);
    append_inline(shape.head, {});
    append_inline(shape.row, params);
    return queued.size() >= max_queued_bytes ? flush() : ok();
  }

  // A statement of the open transaction; its failure aborts the transaction.
  result<std::vector<sql_row>> in_transaction(std::string_view what, std::string_view sql,
                                              const std::vector<sql_value>& params) {
    if (auto f = flush(); !f) return std::move(f).err();
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
    ++s_->written;
    if (s_->deferring) return s_->enqueue(sql, params);
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
  bool defer_writes(bool on) noexcept override {
    if (s_ == nullptr) return false;
    s_->deferring = on;
    return on;
  }
  result<void> flush() override {
    if (s_ == nullptr) return finished();
    return s_->flush();
  }
  result<void> commit() override {
    if (s_ == nullptr) return finished();
    auto* s = std::exchange(s_, nullptr);
    if (auto f = s->flush(); !f) {
      error e = std::move(f).err();
      s->drop_transaction();
      return e;
    }
    try {
      s->work->commit();
      s->work.reset();
      s->committed();
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
