#include "strata/domain/kernel/arithmetic.hpp"

#include <cstdint>
#include <limits>

#include <doctest/doctest.h>

namespace {

using strata::checked_add;
using strata::checked_mul;
using strata::checked_sub;
using strata::saturating_add;
using strata::saturating_mul;
using strata::saturating_sub;

constexpr std::int64_t max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t min = std::numeric_limits<std::int64_t>::min();

}  // namespace

TEST_CASE("checked arithmetic returns the exact result when it fits") {
  CHECK(checked_add(40, 2) == std::int64_t{42});
  CHECK(checked_add(max, min) == std::int64_t{-1});
  CHECK(checked_sub(40, 42) == std::int64_t{-2});
  CHECK(checked_sub(min, min) == std::int64_t{0});
  CHECK(checked_mul(-6, 7) == std::int64_t{-42});
  CHECK(checked_mul(max, 1) == max);
  CHECK(checked_mul(min, 0) == std::int64_t{0});
}

TEST_CASE("checked arithmetic returns nothing when the result does not fit in 64 bits") {
  CHECK_FALSE(checked_add(max, 1).has_value());
  CHECK_FALSE(checked_add(min, -1).has_value());
  CHECK_FALSE(checked_sub(min, 1).has_value());
  CHECK_FALSE(checked_sub(max, -1).has_value());
  CHECK_FALSE(checked_sub(0, min).has_value());
  CHECK_FALSE(checked_mul(max, 2).has_value());
  CHECK_FALSE(checked_mul(min, -1).has_value());
  CHECK_FALSE(checked_mul(max / 2 + 2, -2).has_value());
}

TEST_CASE("saturating arithmetic equals the exact result when it fits") {
  CHECK(saturating_add(-5, 3) == -2);
  CHECK(saturating_sub(-5, 3) == -8);
  CHECK(saturating_mul(-5, 3) == -15);
  CHECK(saturating_add(max, 0) == max);
  CHECK(saturating_sub(min, 0) == min);
}

TEST_CASE("saturating addition sticks at the limit in the direction of the addend") {
  CHECK(saturating_add(max, 1) == max);
  CHECK(saturating_add(max - 1, max) == max);
  CHECK(saturating_add(min, -1) == min);
  CHECK(saturating_add(min + 1, min) == min);
}

TEST_CASE("saturating subtraction sticks at the limit opposite to the subtrahend's sign") {
  CHECK(saturating_sub(max, -1) == max);
  CHECK(saturating_sub(0, min) == max);
  CHECK(saturating_sub(min, 1) == min);
  CHECK(saturating_sub(-2, max) == min);
}

TEST_CASE("saturating multiplication sticks at the limit of the exact product's sign") {
  CHECK(saturating_mul(max, 2) == max);
  CHECK(saturating_mul(min, -1) == max);
  CHECK(saturating_mul(min, 2) == min);
  CHECK(saturating_mul(max, -2) == min);
  CHECK(saturating_mul(-3, max) == min);
}

TEST_CASE("the arithmetic helpers can be evaluated at compile time") {
  static_assert(saturating_add(max, 1) == max);
  static_assert(!checked_mul(max, 2).has_value());
  CHECK(checked_add(1, 1) == std::int64_t{2});
}
