#pragma once

#include <string>
#include <utility>
#include <vector>

#include "strata/domain/kernel/error.hpp"
#include "strata/domain/kernel/recorded.hpp"
#include "strata/domain/kernel/result.hpp"
#include "strata/persistence/event_record.hpp"

namespace strata::persistence::detail {

/// The audit metadata of stored record `r` (everything but its body and hash).
inline event_info info_of(const event_record& r) {
  event_info i;
  i.position = r.position;
  i.stream_version = r.stream_version;
  i.time = r.time;
  i.aggregate_type = r.aggregate_type;
  i.aggregate_id = r.aggregate_id;
  i.event_id = r.event_id;
  i.event_type = r.event_type;
  i.schema_version = r.schema_version;
  i.user_id = r.user_id;
  i.command_id = r.command_id;
  i.correlation_id = r.correlation_id;
  i.causation_id = r.causation_id;
  return i;
}

/// Decodes stored records of aggregate type `A` into its current events, in order, as a
/// reader does: each is upcast with `A::events()` (an upcaster that splits one record yields
/// several, sharing its metadata). Errors: `invalid_argument` for a record of another
/// aggregate type than `A::type`; the schema's (`corrupted`, `unsupported`) when a record
/// does not decode, prefixed with its stream, version and event type.
template <class A>
result<std::vector<recorded<A>>> decode_recorded(const std::vector<event_record>& records) {
  std::vector<recorded<A>> out;
  out.reserve(records.size());
  for (const auto& r : records) {
    const auto where = [&r] {
      return r.aggregate_type + "-" + r.aggregate_id + " v" +
             std::to_string(r.stream_version.value) + " (" + r.event_type + ")";
    };
    if (r.aggregate_type != A::type)
      return error{errc::invalid_argument, where() + " is not an event of " + std::string{A::type}};
    const std::size_t first = out.size();
    auto decoded =
        A::events().decode(r.event_type, r.schema_version, r.data, [&out](typename A::event&& e) {
          out.push_back(recorded<A>{std::move(e), event_info{}});
        });
    if (!decoded) {
      auto e = std::move(decoded).err();
      e.message = where() + ": " + e.message;
      return e;
    }
    // Usually one event per record; none when an upcaster drops it.
    for (std::size_t k = first; k < out.size(); ++k) out[k].info = info_of(r);
  }
  return out;
}

}  // namespace strata::persistence::detail
