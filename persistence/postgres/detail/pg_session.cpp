#include "strata/persistence/postgres/detail/pg_session.hpp"

#include <exception>

namespace strata::persistence::detail {

bool is_plain_identifier(std::string_view schema) noexcept {
  if (schema.empty() || schema.size() > 48) return false;
  if (!(schema[0] == '_' || (schema[0] >= 'a' && schema[0] <= 'z'))) return false;
  for (char c : schema) {
    bool good = c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!good) return false;
  }
  return true;
}

result<void> pg_session::ensure_open(std::string_view what) {
  if (connection_ && connection_->is_open()) return ok();
  connection_.reset();
  try {
    auto c = std::make_unique<pqxx::connection>(conninfo_);
    if (prepare_) prepare_(*c);
    connection_ = std::move(c);
    return ok();
  } catch (...) {
    return current_exception_error(what);
  }
}

error pg_session::current_exception_error(std::string_view what) {
  std::string prefix = std::string{what} + ": ";
  try {
    throw;
  } catch (const pqxx::in_doubt_error& e) {
    reset();
    return error{errc::unavailable,
                 prefix + "connection lost during commit, outcome unknown: " + e.what()};
  } catch (const pqxx::broken_connection& e) {
    reset();
    return error{errc::unavailable, prefix + "PostgreSQL unreachable: " + e.what()};
  } catch (const pqxx::transaction_rollback& e) {
    return rollback_error(e, what);
  } catch (const pqxx::sql_error& e) {
    if (is_connection_sqlstate(e.sqlstate())) reset();
    return pg_error(e, what);
  } catch (const std::exception& e) {
    // Any other driver failure may have left the connection in an unknown state.
    reset();
    return error{errc::internal, prefix + e.what()};
  } catch (...) {
    reset();
    return error{errc::internal, prefix + "unknown exception"};
  }
}

}  // namespace strata::persistence::detail
