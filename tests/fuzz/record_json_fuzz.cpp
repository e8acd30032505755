// Reads a stored record from its JSON form (persistence/record_json.hpp), as `strata` and the
// audit tools do with records from outside. A record that reads must write and read back; to
// the same text unless its data holds a floating-point number, which Boost.JSON 1.81 reads to
// within one ulp (fuzz_input.hpp; found input: corpus/record_json/double-drift.json).

#include <cstddef>
#include <cstdint>

#include "strata/persistence/record_json.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace strata::persistence;
  auto r = record_from_json(strata::fuzz::as_text(data, size));
  if (!r) return 0;
  auto once = to_json_text(*r);
  if (!once) strata::fuzz::property_violated();
  auto back = record_from_json(*once);
  if (!back) strata::fuzz::property_violated();
  auto twice = to_json_text(*back);
  if (!twice) strata::fuzz::property_violated();
  boost::system::error_code ec;
  const auto body = boost::json::parse(r->data, ec);
  if (*twice != *once && (ec || !strata::fuzz::has_double(body))) strata::fuzz::property_violated();
  return 0;
}
