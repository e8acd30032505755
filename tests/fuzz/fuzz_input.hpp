#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <boost/json.hpp>

namespace strata::fuzz {

/// libFuzzer's bytes as text (any bytes; the decoders under test take text).
inline std::string_view as_text(const std::uint8_t* data, std::size_t size) noexcept {
  return {reinterpret_cast<const char*>(data), size};
}

/// Stops the run with a crash libFuzzer records: a property of a decoder does not hold for the
/// current input (what it wrote it must read back), which no sanitizer would notice.
[[noreturn]] inline void property_violated() {
  __builtin_trap();
}

/// Whether `v` holds a floating-point number anywhere. Boost.JSON 1.81 parses those to within
/// one ulp, not exactly (exact parsing came in 1.83), so text holding one may move by an ulp on
/// each read and write: a limit of the library, which the round-trip properties leave out.
inline bool has_double(const boost::json::value& v) {
  if (v.is_double()) return true;
  if (const auto* a = v.if_array())
    for (const auto& x : *a)
      if (has_double(x)) return true;
  if (const auto* o = v.if_object())
    for (const auto& m : *o)
      if (has_double(m.value())) return true;
  return false;
}

}  // namespace strata::fuzz
