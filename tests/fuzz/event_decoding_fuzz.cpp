// Decodes stored records of one of the shop's aggregates the way a reader does:
// persistence::detail::decode_recorded<A> (each record's type and schema version pick the
// aggregate's upcasters and decoder), then evolves the aggregate's initial state with the
// events in order. An input is a stream of records, each a header line and a data line:
//
//   <aggregate type> <event type> <schema version>\n<data>\n
//
// The first record's aggregate type picks the aggregate. A decoded event must encode, decode
// and encode again to the same text.

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "strata/domain/fulfilment/fulfilment.hpp"
#include "strata/domain/inventory/inventory_item.hpp"
#include "strata/domain/orders/order.hpp"
#include "strata/domain/payments/payment.hpp"
#include "strata/domain/users/user_activity.hpp"
#include "strata/persistence/event_record.hpp"
#include "strata/persistence/recorded_decoding.hpp"
#include "tests/fuzz/fuzz_input.hpp"

namespace {

using strata::persistence::event_record;

template <class A>
void decode_as(const std::vector<event_record>& records) {
  if (records.front().aggregate_type != A::type) return;
  auto decoded = strata::persistence::detail::decode_recorded<A>(records);
  if (!decoded) return;
  auto state = A::initial();
  for (const auto& e : *decoded) {
    state = A::evolve(std::move(state), e.event);
    const auto once = A::events().encode(e.event);
    auto back = A::events().decode(once.type, once.schema_version, once.data);
    if (!back || back->size() != 1) strata::fuzz::property_violated();
    if (A::events().encode(back->front()).data != once.data) strata::fuzz::property_violated();
  }
}

// Splits off the text of `s` up to the next `separator`.
std::string_view next(std::string_view& s, char separator) {
  const auto end = s.find(separator);
  const auto part = s.substr(0, end);
  s.remove_prefix(end == std::string_view::npos ? s.size() : end + 1);
  return part;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto text = strata::fuzz::as_text(data, size);
  std::vector<event_record> records;
  while (!text.empty()) {
    auto header = next(text, '\n');
    event_record r;
    r.aggregate_type = std::string{next(header, ' ')};
    r.aggregate_id = "fuzz";
    r.event_type = std::string{next(header, ' ')};
    const auto version = next(header, ' ');
    if (std::from_chars(version.data(), version.data() + version.size(), r.schema_version).ec !=
        std::errc{})
      return 0;
    r.stream_version = strata::version{records.size() + 1};
    r.data = std::string{next(text, '\n')};
    records.push_back(std::move(r));
  }
  if (records.empty()) return 0;
  decode_as<strata::orders::order>(records);
  decode_as<strata::payments::payment>(records);
  decode_as<strata::inventory::inventory_item>(records);
  decode_as<strata::users::user_activity>(records);
  decode_as<strata::fulfilment::fulfilment>(records);
  return 0;
}
