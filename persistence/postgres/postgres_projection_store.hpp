#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "strata/persistence/projection_store.hpp"

namespace strata::persistence {

/// Options of the PostgreSQL read-model store.
struct postgres_projection_store_options {
  std::string conninfo;  ///< A libpq connection string.
  /// The schema holding the read models and the bookkeeping tables; it is the connection's
  /// `search_path`, so read-model SQL names its tables unqualified. REQUIRES: a lower-case SQL
  /// identifier ([a-z_][a-z0-9_]*, at most 48 characters).
  std::string schema = "strata_read";
  /// When not 0, the connection sets `idle_in_transaction_session_timeout` to it: the server
  /// ends a transaction whose client stopped between two statements (a process frozen with
  /// SIGSTOP) after this time, releasing the rows it locked. The runtime of a cluster node
  /// sets it to `cluster.lease_duration_ms`, as for the journal. 0: the server's setting.
  std::uint32_t idle_in_transaction_timeout_ms = 0;
};

/// The read-model store on PostgreSQL, one libpqxx connection per instance.
///
/// Storage format (schema and tables created when missing):
///   <schema>.projection_checkpoints(name text PRIMARY KEY, position bigint,
///     last_event_us bigint, journal_id text DEFAULT '')
///   <schema>.projection_dead_letters(projection text, position bigint, event_id text,
///     event_type text, error text, parked_us bigint, attempts bigint,
///     PRIMARY KEY (projection, position))
/// Times are microseconds since the Unix epoch (UTC).
///
/// SQL dialect: handlers write the SQL both backends accept. `?` and `?NNN` placeholders are
/// translated to `$n` (outside string literals, quoted identifiers and comments), and each
/// parameter is typed by its value: an integer is `bigint`, a real `double precision`, text
/// `text`, NULL takes the type its place needs. Result columns come back by their type:
/// smallint, integer, bigint, boolean and integral numeric values as integers, real, double
/// precision and other numeric values as reals, everything else as text.
///
/// One difference from SQLite: a failed statement aborts PostgreSQL's transaction, so every
/// later call of that transaction (and its `commit`) returns the first failure again.
///
/// `defer_writes(true)` (the runner sets it for a batch) queues `execute`s and sends them as
/// one multi-statement query before the next read, `flush` or `commit` (or at 1 MiB): a run
/// of one INSERT as a multi-row INSERT, other statements as EXECUTE of a statement prepared
/// once per connection, parameters written as literals of their kinds.
///
/// Thread-safety: as `projection_store`. Errors (persistence/postgres/detail/pg_error.hpp):
/// `unavailable` when the server is unreachable, the connection was lost or the server is
/// shutting down (the instance reconnects on its next `begin` or query), or on a serialization
/// failure; `conflict` for a statement that breaks a constraint; `invalid_argument` for a
/// value the column does not take; `internal` for SQL that does not compile.
class postgres_projection_store final : public projection_store {
 public:
  /// Connects and creates the schema and the bookkeeping tables when missing.
  /// Errors: `invalid_argument` for a bad schema name, `unavailable` when unreachable.
  static result<std::unique_ptr<postgres_projection_store>> open(
      const postgres_projection_store_options& options);

  ~postgres_projection_store() override;
  postgres_projection_store(const postgres_projection_store&) = delete;
  postgres_projection_store& operator=(const postgres_projection_store&) = delete;

  result<std::unique_ptr<projection_transaction>> begin() override;
  result<std::vector<sql_row>> query(std::string_view sql,
                                     const std::vector<sql_value>& params = {}) override;
  result<checkpoint> load_checkpoint(std::string_view projection) override;
  result<std::vector<dead_letter>> dead_letters(std::string_view projection) override;

  struct impl;  ///< The connection and its prepared statements; opaque outside the .cpp.
  explicit postgres_projection_store(std::unique_ptr<impl> i);

 private:
  std::unique_ptr<impl> impl_;
};

/// Opens `postgres_projection_store` connections on one schema. Thread-safety: any thread.
class postgres_projection_store_factory final : public projection_store_factory {
 public:
  explicit postgres_projection_store_factory(postgres_projection_store_options options);
  result<std::unique_ptr<projection_store>> open() override;
  const postgres_projection_store_options& options() const noexcept { return options_; }

 private:
  postgres_projection_store_options options_;
};

/// The PostgreSQL text of `sql`: `?` and `?NNN` placeholders become `$n` (a bare `?` takes
/// the number after the largest one so far, as in SQLite), each followed by the cast of its
/// parameter's kind in `kinds` ('i' bigint, 'd' double precision, 't' text, anything else
/// none). SQLite's words that PostgreSQL spells otherwise are translated, so one read model's
/// SQL serves both: `INTEGER` becomes `BIGINT` (SQLite's integers hold 64 bits) and the table
/// option `WITHOUT ROWID` is dropped. Text inside '...' literals, "..." identifiers and
/// comments is kept as written.
std::string postgres_placeholders(std::string_view sql, std::string_view kinds);

}  // namespace strata::persistence
