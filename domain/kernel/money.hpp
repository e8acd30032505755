#pragma once

#include <cstdint>
#include <string>

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

}  // namespace strata
