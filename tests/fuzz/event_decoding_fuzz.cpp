// Decodes a stored record of one of the shop's aggregates the way a reader does:
// persistence::detail::decode_recorded<A> (the record's type and schema version pick the
// aggregate's upcasters and decoder), then evolves the aggregate's initial state with the
// events. An input is the record's header line and its data:
//
//   <aggregate type> <event type> <schema version>\n<data>
//
// A decoded event must encode, decode and encode again to the same text.

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

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
void decode_as(const event_record& r) {
  if (r.aggregate_type != A::type) return;
  auto decoded = strata::persistence::detail::decode_recorded<A>({r});
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

// Splits off the next space-separated word of `s`.
std::string_view next_word(std::string_view& s) {
  const auto end = s.find(' ');
  const auto word = s.substr(0, end);
  s.remove_prefix(end == std::string_view::npos ? s.size() : end + 1);
  return word;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto text = strata::fuzz::as_text(data, size);
  const auto newline = text.find('\n');
  if (newline == std::string_view::npos) return 0;
  auto header = text.substr(0, newline);
  event_record r;
  r.aggregate_type = std::string{next_word(header)};
  r.aggregate_id = "fuzz";
  r.event_type = std::string{next_word(header)};
  const auto version = next_word(header);
  if (std::from_chars(version.data(), version.data() + version.size(), r.schema_version).ec !=
      std::errc{})
    return 0;
  r.stream_version = strata::version{1};
  r.data = std::string{text.substr(newline + 1)};
  decode_as<strata::orders::order>(r);
  decode_as<strata::payments::payment>(r);
  decode_as<strata::inventory::inventory_item>(r);
  decode_as<strata::users::user_activity>(r);
  decode_as<strata::fulfilment::fulfilment>(r);
  return 0;
}
