#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <pqxx/pqxx>

#include "strata/domain/kernel/error.hpp"
#include "strata/domain/kernel/result.hpp"
#include "strata/persistence/postgres/detail/pg_error.hpp"

namespace strata::persistence::detail {

/// True when `schema` is a plain lower-case SQL identifier (so it can be spliced into SQL).
bool is_plain_identifier(std::string_view schema) noexcept;

/// One lazily (re)opened libpqxx connection with the statements its owner prepares on it.
///
/// Every call goes through `run`, which opens the connection when there is none, runs the
/// function and turns every exception into an `error`. When the exception says the connection
/// is lost, the connection is dropped so that the next call reconnects (and re-prepares).
/// Not thread-safe: owned by one journal or store instance.
class pg_session {
 public:
  using preparer = std::function<void(pqxx::connection&)>;

  pg_session(std::string conninfo, preparer prepare)
      : conninfo_(std::move(conninfo)), prepare_(std::move(prepare)) {}

  /// Runs `fn(connection&)`, which returns a `result<T>`; `what` prefixes error messages.
  template <class Fn>
  auto run(std::string_view what, Fn&& fn) -> decltype(fn(std::declval<pqxx::connection&>())) {
    auto opened = ensure_open(what);
    if (!opened) return opened.err();
    try {
      return fn(*connection_);
    } catch (...) {
      return current_exception_error(what);
    }
  }

  /// Like `run` for a read-only `fn`: when the connection turns out to be lost, it reconnects
  /// and tries once more (a read has no effect that could be applied twice).
  template <class Fn>
  auto run_idempotent(std::string_view what, Fn&& fn)
      -> decltype(fn(std::declval<pqxx::connection&>())) {
    bool had_connection = connection_ != nullptr;
    auto first = run(what, fn);
    if (first || !had_connection || connection_ != nullptr) return first;
    return run(what, fn);
  }

  /// Drops the connection; the next call reconnects.
  void reset() noexcept { connection_.reset(); }

  /// Maps the exception being handled to an error (pg_error.hpp), resetting the connection
  /// when it is lost.
  /// REQUIRES: called inside a catch block.
  error current_exception_error(std::string_view what);

 private:
  result<void> ensure_open(std::string_view what);

  std::string conninfo_;
  preparer prepare_;
  std::unique_ptr<pqxx::connection> connection_;
};

}  // namespace strata::persistence::detail
