#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace strata::persistence {

/// One SQL value: NULL, a 64-bit integer, a double or text. What read-model handlers bind to
/// `?` placeholders and read back from queries (see projection_store.hpp).
using sql_value = std::variant<std::nullptr_t, std::int64_t, double, std::string>;

/// One result row, columns in the order of the SELECT.
using sql_row = std::vector<sql_value>;

/// The integer in `v` (a double is truncated), or `fallback` when it holds something else.
inline std::int64_t as_int(const sql_value& v, std::int64_t fallback = 0) noexcept {
  if (const auto* i = std::get_if<std::int64_t>(&v)) return *i;
  if (const auto* d = std::get_if<double>(&v)) return static_cast<std::int64_t>(*d);
  return fallback;
}

/// The text in `v` (an integer in decimal), or an empty string when it holds something else.
inline std::string as_text(const sql_value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  return {};
}

}  // namespace strata::persistence
