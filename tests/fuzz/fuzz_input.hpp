#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

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

}  // namespace strata::fuzz
