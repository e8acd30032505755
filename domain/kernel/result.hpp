#pragma once

#include <cassert>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "strata/domain/kernel/error.hpp"

namespace strata {

/// Thrown by `result::value()` on an error and by `result::err()` on a success: a bug in the
/// caller, which should have tested `has_value()` first. Thrown in every build type, never
/// undefined behaviour. `what()` renders the error as "code: message".
class bad_result_access : public std::exception {
 public:
  explicit bad_result_access(error e) : error_(std::move(e)), what_(to_string(error_)) {}

  /// The error the result held (for `err()` on a success: an `internal` error saying so).
  const error& err() const noexcept { return error_; }
  errc code() const noexcept { return error_.code; }
  const std::string& message() const noexcept { return error_.message; }
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  error error_;
  std::string what_;
};

namespace detail {

[[noreturn, gnu::cold, gnu::noinline]] inline void throw_bad_result_access(const error& e) {
  throw bad_result_access{e};
}

[[noreturn, gnu::cold, gnu::noinline]] inline void throw_bad_result_err() {
  throw bad_result_access{
      error{errc::internal, "result::err() called on a result that holds a value"}};
}

}  // namespace detail

/// Either a value or an `error`. Infrastructure calls return it instead of throwing.
///
/// A `result` converts implicitly from a `T` and from an `error`, so functions can
/// `return value;` or `return error{errc::conflict, "..."};`.
template <class T>
class [[nodiscard]] result {
 public:
  using value_type = T;

  result(T value) : data_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
  result(error e) : data_(std::in_place_index<1>, std::move(e)) {}      // NOLINT: implicit

  bool has_value() const noexcept { return data_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  /// The value. Throws `bad_result_access` (carrying the error) when there is none.
  T& value() & { return *checked(); }
  const T& value() const& { return *checked(); }
  T&& value() && { return std::move(*checked()); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  /// The error. Throws `bad_result_access` when the result holds a value.
  const error& err() const& { return *checked_err(); }
  error&& err() && { return std::move(*checked_err()); }

 private:
  T* checked() {
    if (auto* v = std::get_if<0>(&data_)) return v;
    detail::throw_bad_result_access(*std::get_if<1>(&data_));
  }
  const T* checked() const {
    if (const auto* v = std::get_if<0>(&data_)) return v;
    detail::throw_bad_result_access(*std::get_if<1>(&data_));
  }
  error* checked_err() {
    if (auto* e = std::get_if<1>(&data_)) return e;
    detail::throw_bad_result_err();
  }
  const error* checked_err() const {
    if (const auto* e = std::get_if<1>(&data_)) return e;
    detail::throw_bad_result_err();
  }

  std::variant<T, error> data_;
};

/// A `result` with no value: success, or an `error`.
template <>
class [[nodiscard]] result<void> {
 public:
  result() = default;
  result(error e) : error_(std::move(e)) {}  // NOLINT: implicit

  bool has_value() const noexcept { return !error_.has_value(); }
  explicit operator bool() const noexcept { return has_value(); }

  /// The error. Throws `bad_result_access` on a success.
  const error& err() const& {
    if (!error_) detail::throw_bad_result_err();
    return *error_;
  }
  error&& err() && {
    if (!error_) detail::throw_bad_result_err();
    return std::move(*error_);
  }

 private:
  std::optional<error> error_;
};

/// Shorthand for a successful `result<void>`.
inline result<void> ok() {
  return {};
}

}  // namespace strata
