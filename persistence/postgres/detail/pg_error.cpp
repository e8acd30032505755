#include "strata/persistence/postgres/detail/pg_error.hpp"

#include <string>

namespace strata::persistence::detail {

bool is_connection_sqlstate(std::string_view sqlstate) noexcept {
  return sqlstate.substr(0, 2) == "08" || sqlstate.substr(0, 4) == "57P0";
}

errc code_of_sqlstate(std::string_view sqlstate) noexcept {
  if (is_connection_sqlstate(sqlstate)) return errc::unavailable;
  const std::string_view cls = sqlstate.substr(0, 2);
  if (cls == "40" || cls == "53" || cls == "55") return errc::unavailable;
  if (cls == "23") return errc::conflict;
  if (cls == "22") return errc::invalid_argument;
  return errc::internal;
}

error pg_error(const pqxx::sql_error& e, std::string_view what) {
  const std::string& state = e.sqlstate();
  const errc code = code_of_sqlstate(state);
  std::string message{what};
  message += ": ";
  if (is_connection_sqlstate(state)) message += "PostgreSQL unreachable: ";
  if (code == errc::internal) message += "SQLSTATE " + state + ": ";
  message += e.what();
  return error{code, std::move(message)};
}

error rollback_error(const pqxx::transaction_rollback& e, std::string_view what) {
  std::string message{what};
  message += dynamic_cast<const pqxx::statement_completion_unknown*>(&e) != nullptr
                 ? ": outcome unknown, the server rolled the transaction back: "
                 : ": the server rolled the transaction back, try again: ";
  message += e.what();
  return error{errc::unavailable, std::move(message)};
}

}  // namespace strata::persistence::detail
