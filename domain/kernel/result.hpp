#pragma once

#include <cassert>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "strata/domain/kernel/error.hpp"

namespace strata {

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

  /// REQUIRES: has_value().
  T& value() & { return assert(has_value()), std::get<0>(data_); }
  const T& value() const& { return assert(has_value()), std::get<0>(data_); }
  T&& value() && { return assert(has_value()), std::get<0>(std::move(data_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  /// REQUIRES: !has_value().
  const error& err() const& { return assert(!has_value()), std::get<1>(data_); }
  error&& err() && { return assert(!has_value()), std::get<1>(std::move(data_)); }

 private:
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

  /// REQUIRES: !has_value().
  const error& err() const& { return assert(error_), *error_; }
  error&& err() && { return assert(error_), std::move(*error_); }

 private:
  std::optional<error> error_;
};

/// Shorthand for a successful `result<void>`.
inline result<void> ok() {
  return {};
}

}  // namespace strata
