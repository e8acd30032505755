#include "strata/persistence/postgres/postgres_host_lock.hpp"

#include <pqxx/pqxx>

#include "strata/persistence/postgres/detail/pg_error.hpp"
#include "strata/persistence/postgres/detail/pg_session.hpp"

namespace strata {

namespace {

constexpr int host_lock_class = 0x53545241;  // "STRA"

class postgres_host_lock final : public host_lock {
 public:
  postgres_host_lock(std::unique_ptr<pqxx::connection> c, std::string schema, std::string what,
                     bool shared)
      : connection_(std::move(c)),
        schema_(std::move(schema)),
        what_(std::move(what)),
        shared_(shared) {}
  ~postgres_host_lock() override {
    // The session's end releases a session-level lock; unlocking first makes it immediate
    // behind a pooling proxy too. A failure here only leaves that to the session's end.
    try {
      pqxx::nontransaction tx{*connection_};
      static_cast<void>(tx.exec_params(shared_
                                           ? "SELECT pg_advisory_unlock_shared($1, hashtext($2))"
                                           : "SELECT pg_advisory_unlock($1, hashtext($2))",
                                       host_lock_class, schema_));
    } catch (const std::exception&) {
      connection_.reset();
    }
  }
  postgres_host_lock(const postgres_host_lock&) = delete;
  postgres_host_lock& operator=(const postgres_host_lock&) = delete;

  const std::string& what() const noexcept override { return what_; }

 private:
  std::unique_ptr<pqxx::connection> connection_;
  std::string schema_;
  std::string what_;
  bool shared_;
};

}  // namespace

result<std::unique_ptr<host_lock>> lock_postgres_host(const std::string& conninfo,
                                                      const std::string& schema,
                                                      std::chrono::milliseconds wait, bool shared) {
  if (!persistence::detail::is_plain_identifier(schema))
    return error{errc::invalid_argument, "'" + schema + "' is not a plain schema name"};
  const std::string what = "(the PostgreSQL advisory lock of schema " + schema + ")";
  const std::string doing = "take the host lock of schema " + schema;
  try {
    auto c = std::make_unique<pqxx::connection>(conninfo);
    bool taken = false;
    if (wait.count() > 0) {
      // The wait is the server's: lock_timeout ends it with SQLSTATE 55P03.
      pqxx::nontransaction tx{*c};
      tx.exec0("SET lock_timeout = " + std::to_string(wait.count()));
      try {
        tx.exec_params(shared ? "SELECT pg_advisory_lock_shared($1, hashtext($2))"
                              : "SELECT pg_advisory_lock($1, hashtext($2))",
                       host_lock_class, schema);
        taken = true;
      } catch (const pqxx::sql_error& e) {
        if (e.sqlstate() != "55P03") throw;
      }
      if (taken) tx.exec0("SET lock_timeout = 0");
    } else {
      pqxx::nontransaction tx{*c};
      taken = tx.exec_params1(shared ? "SELECT pg_try_advisory_lock_shared($1, hashtext($2))"
                                     : "SELECT pg_try_advisory_lock($1, hashtext($2))",
                              host_lock_class, schema)[0]
                  .as<bool>();
    }
    if (!taken) return error{errc::conflict, host_lock_held_message(what)};
    return std::unique_ptr<host_lock>{new postgres_host_lock{std::move(c), schema, what, shared}};
  } catch (const pqxx::broken_connection& e) {
    return error{errc::unavailable, doing + ": PostgreSQL unreachable: " + e.what()};
  } catch (const pqxx::sql_error& e) {
    return persistence::detail::pg_error(e, doing);
  } catch (const std::exception& e) {
    return error{errc::internal, doing + ": " + e.what()};
  }
}

}  // namespace strata
