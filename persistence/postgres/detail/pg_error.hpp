#pragma once

// The one mapping from PostgreSQL (libpqxx) failures to strata's error codes, shared by the
// PostgreSQL journal and snapshot store. Internal to persistence/postgres/.
//
// One meaning per SQLSTATE class, phrased as what the caller should do:
//
//   08xxx (connection exception), 57P01..57P03
//   (server shutting down or starting)               unavailable  the connection is dropped and
//                                                                 the next call reconnects
//   40xxx (serialization failure, deadlock),
//   53xxx (insufficient resources),
//   55xxx (lock not available)                       unavailable  retry later
//   23xxx (integrity constraint: unique, check, ...) conflict     another write got there first
//   22xxx (data exception: not JSON, out of range,
//   not UTF-8)                                       invalid_argument
//   anything else                                    internal     "SQLSTATE xxxxx: ..."
//
// Besides SQL errors: `pqxx::broken_connection` is `unavailable`; `pqxx::in_doubt_error` (the
// connection was lost during COMMIT) is `unavailable` with "outcome unknown" in the message;
// `pqxx::transaction_rollback`, which libpqxx 6.4 throws for class 40 instead of an `sql_error`,
// is `unavailable` as the table says (40003, statement completion unknown, with "outcome
// unknown"); any other exception is `internal`.

#include <string_view>

#include <pqxx/except>

#include "strata/domain/kernel/error.hpp"

namespace strata::persistence::detail {

/// The error code of a PostgreSQL failure with `sqlstate` (see the table above).
errc code_of_sqlstate(std::string_view sqlstate) noexcept;

/// True when `sqlstate` says the connection or the server went away (class 08, 57P0x).
bool is_connection_sqlstate(std::string_view sqlstate) noexcept;

/// The error for `e` met while doing `what` ("<what>: <server message>").
error pg_error(const pqxx::sql_error& e, std::string_view what);

/// The error for a transaction the server rolled back (class 40: a deadlock it broke, a
/// serialization failure), met while doing `what`: `unavailable`, to be tried again.
error rollback_error(const pqxx::transaction_rollback& e, std::string_view what);

}  // namespace strata::persistence::detail
