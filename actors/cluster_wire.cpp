#include "strata/actors/cluster_wire.hpp"

#include <cstdint>
#include <exception>
#include <utility>

#include <boost/json.hpp>

namespace strata::actors {

namespace {

namespace bj = boost::json;

// Enumerations travel as their numbers: both ends run the same code, and nothing is stored.

const bj::value* member(const bj::object& o, std::string_view key) {
  return o.if_contains(key);
}

std::string text_of(const bj::object& o, std::string_view key) {
  const auto* v = member(o, key);
  return v == nullptr ? std::string{} : std::string{v->as_string()};
}

std::uint64_t number_of(const bj::object& o, std::string_view key) {
  const auto* v = member(o, key);
  return v == nullptr ? 0 : bj::value_to<std::uint64_t>(*v);
}

bj::object record_json(const persistence::event_record& r) {
  bj::object o;
  o["position"] = r.position.value;
  o["eventId"] = r.event_id;
  o["eventType"] = r.event_type;
  o["schemaVersion"] = r.schema_version;
  o["aggregateType"] = r.aggregate_type;
  o["aggregateId"] = r.aggregate_id;
  o["version"] = r.stream_version.value;
  o["time"] = r.time.time_since_epoch().count();
  o["userId"] = r.user_id;
  o["commandId"] = r.command_id;
  o["correlationId"] = r.correlation_id;
  o["causationId"] = r.causation_id;
  o["data"] = r.data;  // the stored text itself, byte for byte
  o["hash"] = r.hash;
  return o;
}

persistence::event_record record_of(const bj::object& o) {
  persistence::event_record r;
  r.position = global_position{number_of(o, "position")};
  r.event_id = text_of(o, "eventId");
  r.event_type = text_of(o, "eventType");
  r.schema_version = static_cast<std::uint32_t>(number_of(o, "schemaVersion"));
  r.aggregate_type = text_of(o, "aggregateType");
  r.aggregate_id = text_of(o, "aggregateId");
  r.stream_version = version{number_of(o, "version")};
  if (const auto* t = member(o, "time"))
    r.time = timestamp{std::chrono::microseconds{bj::value_to<std::int64_t>(*t)}};
  r.user_id = text_of(o, "userId");
  r.command_id = text_of(o, "commandId");
  r.correlation_id = text_of(o, "correlationId");
  r.causation_id = text_of(o, "causationId");
  r.data = text_of(o, "data");
  r.hash = text_of(o, "hash");
  return r;
}

}  // namespace

std::string encode_forwarded(const forwarded_command& c) {
  bj::object o;
  o["type"] = c.type;
  o["id"] = c.aggregate_id;
  o["command"] = c.command;
  o["commandId"] = c.meta.command_id;
  o["userId"] = c.meta.user_id;
  o["correlationId"] = c.meta.correlation_id;
  o["causationId"] = c.meta.causation_id;
  if (c.meta.expected_version) o["expectedVersion"] = c.meta.expected_version->value;
  o["from"] = c.from_node;
  return bj::serialize(o);
}

result<forwarded_command> decode_forwarded(std::string_view text) {
  try {
    const auto v = bj::parse(text);
    const auto& o = v.as_object();
    forwarded_command c;
    c.type = text_of(o, "type");
    c.aggregate_id = text_of(o, "id");
    c.command = text_of(o, "command");
    if (c.type.empty() || c.command.empty())
      return error{errc::invalid_argument, "forwarded command without a type or a command"};
    c.meta.command_id = text_of(o, "commandId");
    c.meta.user_id = text_of(o, "userId");
    c.meta.correlation_id = text_of(o, "correlationId");
    c.meta.causation_id = text_of(o, "causationId");
    if (member(o, "expectedVersion") != nullptr)
      c.meta.expected_version = version{number_of(o, "expectedVersion")};
    c.from_node = text_of(o, "from");
    return c;
  } catch (const std::exception& ex) {
    return error{errc::invalid_argument, std::string{"forwarded command: "} + ex.what()};
  }
}

std::string encode_result(const command_result& r) {
  bj::object o;
  o["status"] = static_cast<int>(r.status);
  o["at"] = r.at.value;
  o["position"] = r.position.value;
  if (!r.records.empty()) {
    bj::array records;
    records.reserve(r.records.size());
    for (const auto& record : r.records) records.emplace_back(record_json(record));
    o["records"] = std::move(records);
  }
  if (r.duplicate) o["duplicate"] = true;
  if (r.why) o["why"] = bj::object{{"code", r.why->code}, {"message", r.why->message}};
  if (r.failure)
    o["failure"] =
        bj::object{{"errc", static_cast<int>(r.failure->code)}, {"message", r.failure->message}};
  return bj::serialize(o);
}

result<command_result> decode_result(std::string_view text) {
  try {
    const auto v = bj::parse(text);
    const auto& o = v.as_object();
    if (member(o, "status") == nullptr)
      return error{errc::invalid_argument, "command result without a status"};
    command_result r;
    r.status = static_cast<command_status>(number_of(o, "status"));
    r.at = version{number_of(o, "at")};
    r.position = global_position{number_of(o, "position")};
    if (const auto* records = member(o, "records")) {
      const auto& a = records->as_array();
      r.records.reserve(a.size());
      for (const auto& record : a) r.records.push_back(record_of(record.as_object()));
    }
    if (const auto* d = member(o, "duplicate")) r.duplicate = d->as_bool();
    if (const auto* why = member(o, "why")) {
      const auto& w = why->as_object();
      r.why = rejection{text_of(w, "code"), text_of(w, "message")};
    }
    if (const auto* failure = member(o, "failure")) {
      const auto& f = failure->as_object();
      r.failure = error{static_cast<errc>(number_of(f, "errc")), text_of(f, "message")};
    }
    return r;
  } catch (const std::exception& ex) {
    return error{errc::invalid_argument, std::string{"command result: "} + ex.what()};
  }
}

}  // namespace strata::actors
