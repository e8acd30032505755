// Reads the wire form of a forwarded command and of a command result (actors/cluster_wire.hpp),
// as a cluster node does with what a peer sends. A body that reads must write and read back to
// the same body: what decodes is canonical once written (a number may arrive in more bytes
// than needed, and is then written in the fewest).

#include <cstddef>
#include <cstdint>

#include "strata/actors/cluster_wire.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace strata::actors;
  const auto text = strata::fuzz::as_text(data, size);
  if (auto c = decode_forwarded(text)) {
    const auto once = encode_forwarded(*c);
    auto back = decode_forwarded(once);
    if (!back || encode_forwarded(*back) != once) strata::fuzz::property_violated();
  }
  if (auto r = decode_result(text)) {
    const auto once = encode_result(*r);
    auto back = decode_result(once);
    if (!back || encode_result(*back) != once) strata::fuzz::property_violated();
  }
  return 0;
}
