// Reads one line of an export file as `strata import` does (parse_export_line). A line that
// is accepted names a stream, a version of 1 or more and a well-formed hash, and writes back as
// a record JSON line that is accepted again and writes the same text.

#include <cstddef>
#include <cstdint>

#include "strata/cli/operations.hpp"
#include "strata/persistence/record_json.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace strata;
  auto r = parse_export_line(fuzz::as_text(data, size));
  if (!r) return 0;
  if (r->aggregate_type.empty() || r->aggregate_id.empty() || r->stream_version.value == 0)
    fuzz::property_violated();
  auto once = persistence::to_json_text(*r);
  if (!once) fuzz::property_violated();
  auto back = parse_export_line(*once);
  if (!back) fuzz::property_violated();
  auto twice = persistence::to_json_text(*back);
  if (!twice || *twice != *once) fuzz::property_violated();
  return 0;
}
