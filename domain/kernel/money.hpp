#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/describe/class.hpp>

namespace strata {

/// An amount in integer minor units (cents for USD) of a currency (ISO 4217 code).
/// Never floating point.
struct money {
  std::int64_t minor = 0;
  std::string currency;

  friend bool operator==(const money& a, const money& b) {
    return a.minor == b.minor && a.currency == b.currency;
  }
  friend bool operator!=(const money& a, const money& b) { return !(a == b); }
};
BOOST_DESCRIBE_STRUCT(money, (), (minor, currency))

/// True if `code` has the shape of an ISO 4217 currency code: exactly three ASCII upper-case
/// letters. Whether the currency exists is not checked.
constexpr bool is_currency_code(std::string_view code) noexcept {
  if (code.size() != 3) return false;
  for (char ch : code)
    if (ch < 'A' || ch > 'Z') return false;
  return true;
}

}  // namespace strata
