#pragma once

#include <cstdint>
#include <limits>
#include <optional>

namespace strata {

/// Overflow-aware arithmetic on 64-bit signed integers (money minor units, quantities).
///
/// `decide` uses the checked forms to reject commands whose amounts would overflow; `evolve`
/// may not fail, so it uses the saturating forms, which stick at the limit instead of wrapping.
/// All functions are pure, `noexcept` and safe to call from any thread.

/// `a + b`, or `std::nullopt` if the sum does not fit in `std::int64_t`.
constexpr std::optional<std::int64_t> checked_add(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

/// `a - b`, or `std::nullopt` if the difference does not fit in `std::int64_t`.
constexpr std::optional<std::int64_t> checked_sub(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t r = 0;
  if (__builtin_sub_overflow(a, b, &r)) return std::nullopt;
  return r;
}

/// `a * b`, or `std::nullopt` if the product does not fit in `std::int64_t`.
constexpr std::optional<std::int64_t> checked_mul(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

/// `a + b`, clamped to the `std::int64_t` range: the maximum when `b > 0` overflows, the
/// minimum when `b < 0` does.
constexpr std::int64_t saturating_add(std::int64_t a, std::int64_t b) noexcept {
  if (auto r = checked_add(a, b)) return *r;
  return b > 0 ? std::numeric_limits<std::int64_t>::max()
               : std::numeric_limits<std::int64_t>::min();
}

/// `a - b`, clamped to the `std::int64_t` range: the maximum when `b < 0` overflows, the
/// minimum when `b > 0` does.
constexpr std::int64_t saturating_sub(std::int64_t a, std::int64_t b) noexcept {
  if (auto r = checked_sub(a, b)) return *r;
  return b < 0 ? std::numeric_limits<std::int64_t>::max()
               : std::numeric_limits<std::int64_t>::min();
}

/// `a * b`, clamped to the `std::int64_t` range: the maximum when the exact product is
/// positive, the minimum when it is negative.
constexpr std::int64_t saturating_mul(std::int64_t a, std::int64_t b) noexcept {
  if (auto r = checked_mul(a, b)) return *r;
  return (a < 0) == (b < 0) ? std::numeric_limits<std::int64_t>::max()
                            : std::numeric_limits<std::int64_t>::min();
}

}  // namespace strata
