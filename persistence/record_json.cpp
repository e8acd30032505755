#include "strata/persistence/record_json.hpp"

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <tuple>

#include <boost/json.hpp>

#include "strata/domain/kernel/json.hpp"

namespace strata::persistence {
namespace {

namespace bj = boost::json;

std::optional<std::uint64_t> as_unsigned(const bj::value& v) {
  if (v.is_uint64()) return v.get_uint64();
  if (v.is_int64() && v.get_int64() >= 0) return static_cast<std::uint64_t>(v.get_int64());
  return std::nullopt;
}

error bad_member(std::string_view name, std::string_view expected) {
  return error{errc::invalid_argument, "event record JSON: member " + std::string{name} +
                                           " is missing or not " + std::string{expected}};
}

}  // namespace

result<bj::value> to_json_value(const event_record& r) {
  bj::error_code ec;
  bj::value data = bj::parse(r.data, ec);
  if (ec) {
    return error{errc::corrupted, "event at global position " + std::to_string(r.position.value) +
                                      " has data that is not JSON: " + ec.message()};
  }
  bj::object o;
  o.reserve(14);
  o.emplace("eventId", r.event_id);
  o.emplace("eventType", r.event_type);
  o.emplace("aggregateId", r.aggregate_id);
  o.emplace("aggregateType", r.aggregate_type);
  o.emplace("timestamp", to_iso8601(r.time));
  o.emplace("userId", r.user_id);
  o.emplace("data", std::move(data));
  o.emplace("version", r.stream_version.value);
  o.emplace("globalPosition", r.position.value);
  o.emplace("schemaVersion", r.schema_version);
  o.emplace("commandId", r.command_id);
  o.emplace("correlationId", r.correlation_id);
  o.emplace("causationId", r.causation_id);
  o.emplace("hash", r.hash);
  return bj::value(std::move(o));
}

result<std::string> to_json_text(const event_record& r) {
  auto v = to_json_value(r);
  if (!v) return std::move(v).err();
  return bj::serialize(*v);
}

result<event_record> record_from_json(const bj::value& v) {
  const bj::object* o = v.if_object();
  if (o == nullptr) return error{errc::invalid_argument, "event record JSON is not an object"};
  event_record r;
  auto text = [&](std::string_view name, std::string& out, bool required) -> result<void> {
    const bj::value* m = o->if_contains(name);
    if (m == nullptr) return required ? result<void>{bad_member(name, "a string")} : ok();
    if (!m->is_string()) return bad_member(name, "a string");
    out = std::string{m->get_string()};
    return ok();
  };
  for (auto [name, field, required] :
       {std::tuple<std::string_view, std::string*, bool>{"eventId", &r.event_id, true},
        {"eventType", &r.event_type, true},
        {"aggregateId", &r.aggregate_id, true},
        {"aggregateType", &r.aggregate_type, true},
        {"userId", &r.user_id, false},
        {"commandId", &r.command_id, false},
        {"correlationId", &r.correlation_id, false},
        {"causationId", &r.causation_id, false},
        {"hash", &r.hash, false}}) {
    if (auto t = text(name, *field, required); !t) return std::move(t).err();
  }

  std::string when;
  if (auto t = text("timestamp", when, true); !t) return std::move(t).err();
  auto parsed = parse_iso8601(when);
  if (!parsed) return bad_member("timestamp", "an ISO 8601 UTC time");
  r.time = *parsed;

  const bj::value* data = o->if_contains("data");
  if (data == nullptr || json::holds_non_finite(*data))
    return bad_member("data", "JSON with every number in range");
  r.data = bj::serialize(*data);
  // Boost.JSON 1.81 reads some numbers imprecisely (more than 17 significant digits, large
  // exponents): such a number moves by one unit in the last place each time it is written
  // and read again, so its text would never settle, and a record carrying it could not be
  // exported and imported with its text (and so its hash) unchanged. It is refused instead.
  // (Read with an error code: a value handed in may nest deeper than the reader's limit.)
  boost::system::error_code reread;
  const bj::value again = bj::parse(r.data, reread);
  if (reread) return bad_member("data", "JSON nested at most 32 levels");
  if (bj::serialize(again) != r.data)
    return bad_member("data",
                      "JSON whose numbers read back as written (one does not: Boost.JSON "
                      "1.81 reads it imprecisely)");

  const bj::value* ver = o->if_contains("version");
  auto v_num = ver ? as_unsigned(*ver) : std::nullopt;
  if (!v_num || *v_num == 0) return bad_member("version", "a positive integer");
  r.stream_version = version{*v_num};

  if (const bj::value* p = o->if_contains("globalPosition")) {
    auto n = as_unsigned(*p);
    if (!n) return bad_member("globalPosition", "a non-negative integer");
    r.position = global_position{*n};
  }
  if (const bj::value* s = o->if_contains("schemaVersion")) {
    auto n = as_unsigned(*s);
    if (!n || *n > std::numeric_limits<std::uint32_t>::max()) {
      return bad_member("schemaVersion", "a 32-bit unsigned integer");
    }
    r.schema_version = static_cast<std::uint32_t>(*n);
  }
  return r;
}

result<event_record> record_from_json(std::string_view text) {
  bj::error_code ec;
  bj::value v = bj::parse(text, ec);
  if (ec) return error{errc::invalid_argument, "event record JSON does not parse: " + ec.message()};
  return record_from_json(v);
}

}  // namespace strata::persistence
