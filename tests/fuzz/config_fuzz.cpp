// Parses a runtime configuration file's text (runtime/config.hpp `parse_config`). A
// configuration that parses must write (`to_json_text`) and parse back to the same text.

#include <cstddef>
#include <cstdint>

#include "strata/runtime/config.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto config = strata::parse_config(strata::fuzz::as_text(data, size));
  if (!config) return 0;
  const auto once = strata::to_json_text(*config);
  auto back = strata::parse_config(once);
  if (!back || strata::to_json_text(*back) != once) strata::fuzz::property_violated();
  return 0;
}
