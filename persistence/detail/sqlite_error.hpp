#pragma once

// The one mapping from SQLite failures to strata's error codes, shared by every SQLite
// backend (journal, snapshot store, read-model store). Internal to persistence/.
//
// One meaning per SQLite primary result code, phrased as what the caller should do:
//
//   SQLITE_CONSTRAINT                              conflict     (a unique or check guard held:
//                                                               another write got there first)
//   SQLITE_BUSY, SQLITE_LOCKED                     unavailable  "database is locked by another
//                                                               connection (...)"
//   SQLITE_FULL                                    unavailable  "disk full (...)", also when
//                                                               max_page_count is reached
//   SQLITE_READONLY                                unavailable  "database is read-only (...)"
//   SQLITE_CANTOPEN, SQLITE_IOERR, SQLITE_PERM,
//   SQLITE_NOLFS, SQLITE_AUTH                      unavailable
//   SQLITE_CORRUPT, SQLITE_NOTADB                  corrupted
//   everything else (SQLITE_ERROR, SQLITE_MISMATCH,
//   SQLITE_RANGE, SQLITE_MISUSE, ...)               internal    (a bug: bad SQL, bad binding)
//
// Extended result codes are reduced to their primary code first. A failure that is not an
// SQLite exception (std::bad_alloc, ...) is `internal`.

#include <string>
#include <string_view>

#include <SQLiteCpp/Exception.h>

#include "strata/domain/kernel/error.hpp"

namespace strata::persistence::detail {

/// The error for SQLite result code `code` (primary or extended) met while doing `what`;
/// `detail` is SQLite's own message.
error sqlite_error(int code, std::string_view what, std::string_view detail);

/// The error for `e` met while doing `what`.
error sqlite_error(const SQLite::Exception& e, std::string_view what);

/// Runs `fn` (returning a `result<T>`) and turns every exception it throws into an error, so
/// that none crosses a store's API. `what` names the operation in the message.
template <class Fn>
auto sqlite_guarded(std::string_view what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const SQLite::Exception& e) {
    return sqlite_error(e, what);
  } catch (const std::exception& e) {
    return error{errc::internal, std::string{what} + ": " + e.what()};
  }
}

}  // namespace strata::persistence::detail
