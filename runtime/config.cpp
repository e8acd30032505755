#include "strata/runtime/config.hpp"

#include <fstream>
#include <sstream>
#include <type_traits>
#include <utility>

#include "strata/domain/kernel/json.hpp"

namespace strata {
namespace {

// Enumerated settings are handled once, generically, over the described structs: every
// described enum member is checked wherever it sits, so a new one needs no code here.

template <class E>
std::string accepted_values() {
  std::vector<std::string> names;
  boost::mp11::mp_for_each<boost::describe::describe_enumerators<E>>(
      [&](auto d) { names.push_back(std::string{"\""} + d.name + "\""); });
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i)
    out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return out;
}

std::string key_of(const std::string& prefix, const char* name) {
  return prefix.empty() ? std::string{name} : prefix + "." + name;
}

// The first enumerated setting in JSON `v` (shaped as T) whose text names no enumerator, as
// a message naming its key and the accepted values; empty when there is none. Values of the
// wrong kind elsewhere are left to the conversion, which reports them.
template <class T>
std::string first_unaccepted_name(const boost::json::value& v, const std::string& key) {
  if constexpr (boost::describe::has_describe_enumerators<T>::value) {
    bool known = false;
    if (v.is_string())
      boost::mp11::mp_for_each<boost::describe::describe_enumerators<T>>(
          [&](auto d) { known = known || v.get_string() == d.name; });
    if (known) return {};
    return key + " must be " + accepted_values<T>() + ", not " + boost::json::serialize(v);
  } else if constexpr (boost::describe::has_describe_members<T>::value) {
    if (!v.is_object()) return {};
    std::string found;
    boost::mp11::mp_for_each<boost::describe::describe_members<T, boost::describe::mod_public>>(
        [&](auto d) {
          if (!found.empty()) return;
          if (auto it = v.as_object().find(d.name); it != v.as_object().end()) {
            using member_t = std::remove_reference_t<decltype(std::declval<T&>().*d.pointer)>;
            found = first_unaccepted_name<member_t>(it->value(), key_of(key, d.name));
          }
        });
    return found;
  } else {
    return {};
  }
}

// The same for a configuration built in code: an enum member holding no enumerator.
template <class T>
std::string first_invalid_enum(const T& x, const std::string& key) {
  if constexpr (boost::describe::has_describe_enumerators<T>::value) {
    bool known = false;
    boost::mp11::mp_for_each<boost::describe::describe_enumerators<T>>(
        [&](auto d) { known = known || x == d.value; });
    if (known) return {};
    return key + " must be " + accepted_values<T>() + ", not the value " +
           std::to_string(static_cast<std::underlying_type_t<T>>(x));
  } else if constexpr (boost::describe::has_describe_members<T>::value) {
    std::string found;
    boost::mp11::mp_for_each<boost::describe::describe_members<T, boost::describe::mod_public>>(
        [&](auto d) {
          if (found.empty()) found = first_invalid_enum(x.*d.pointer, key_of(key, d.name));
        });
    return found;
  } else {
    return {};
  }
}

}  // namespace

result<void> validate(const runtime_config& c) {
  if (auto bad = first_invalid_enum(c, {}); !bad.empty())
    return error{errc::invalid_argument, std::move(bad)};
  // Zero would mean "never", "nothing" or "no thread" where that makes no sense; the few
  // settings where 0 means "off" (idle_timeout_ms, snapshot_every, max_wait_us, port) are
  // not listed.
  const std::pair<const char*, std::uint64_t> at_least_one[] = {
      {"scheduler_threads", c.scheduler_threads},
      {"journal.max_batch_events", c.journal.max_batch_events},
      {"journal.reader_threads", c.journal.reader_threads},
      {"commands.timeout_ms", c.commands.timeout_ms},
      {"commands.max_in_flight_per_type", c.commands.max_in_flight_per_type},
      {"commands.max_queued_per_aggregate", c.commands.max_queued_per_aggregate},
      {"aggregates.snapshots_kept", c.aggregates.snapshots_kept},
      {"aggregates.max_live_per_type", c.aggregates.max_live_per_type},
      {"aggregates.max_crashes", c.aggregates.max_crashes},
      {"aggregates.crash_window_ms", c.aggregates.crash_window_ms},
      {"projections.batch_events", c.projections.batch_events},
      {"projections.buffer_events", c.projections.buffer_events},
  };
  for (const auto& [name, value] : at_least_one)
    if (value == 0) return error{errc::invalid_argument, std::string{name} + " must be at least 1"};
  return ok();
}

result<runtime_config> parse_config(std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec) return error{errc::invalid_argument, "configuration is not valid JSON: " + ec.message()};
  if (!v.is_object()) return error{errc::invalid_argument, "configuration must be a JSON object"};
  if (auto unknown = json::first_unknown_key<runtime_config>(v); !unknown.empty())
    return error{errc::invalid_argument, "unknown configuration key '" + unknown + "'"};
  if (auto bad = first_unaccepted_name<runtime_config>(v, {}); !bad.empty())
    return error{errc::invalid_argument, std::move(bad)};
  runtime_config c;
  try {
    c = json::from_json<runtime_config>(v);
  } catch (const std::exception& ex) {
    return error{errc::invalid_argument,
                 std::string{"configuration has a value of the wrong type: "} + ex.what()};
  }
  if (auto valid = validate(c); !valid) return std::move(valid).err();
  return c;
}

result<runtime_config> load_config(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in) return error{errc::not_found, "cannot read configuration file " + path};
  std::stringstream buf;
  buf << in.rdbuf();
  auto c = parse_config(buf.str());
  if (!c) {
    auto e = std::move(c).err();
    e.message = path + ": " + e.message;
    return e;
  }
  return c;
}

std::string to_json_text(const runtime_config& config) {
  return json::to_json(config);
}

}  // namespace strata
