#include "strata/persistence/detail/sqlite_error.hpp"

#include <sqlite3.h>

namespace strata::persistence::detail {

error sqlite_error(int code, std::string_view what, std::string_view detail) {
  std::string message{what};
  message += ": ";
  message += detail;
  switch (code & 0xff) {
    case SQLITE_CONSTRAINT:
      return error{errc::conflict, std::move(message)};
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return error{errc::unavailable, "database is locked by another connection (" + message + ")"};
    case SQLITE_FULL:
      return error{errc::unavailable, "disk full (" + message + ")"};
    case SQLITE_READONLY:
      return error{errc::unavailable, "database is read-only (" + message + ")"};
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_PERM:
    case SQLITE_NOLFS:
    case SQLITE_AUTH:
      return error{errc::unavailable, std::move(message)};
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return error{errc::corrupted, std::move(message)};
    default:
      return error{errc::internal, std::move(message)};
  }
}

error sqlite_error(const SQLite::Exception& e, std::string_view what) {
  return sqlite_error(e.getErrorCode(), what, e.what());
}

}  // namespace strata::persistence::detail
