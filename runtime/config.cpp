#include "strata/runtime/config.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <type_traits>
#include <utility>
#include <vector>

#include "strata/domain/kernel/input.hpp"
#include "strata/domain/kernel/json.hpp"
#include "strata/persistence/amqp_url.hpp"
#include "strata/persistence/cluster.hpp"

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

// What a JSON value is, for messages: "a string", "a number", ...
const char* kind_of(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null:
      return "null";
    case boost::json::kind::bool_:
      return "a boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_:
      return "a number";
    case boost::json::kind::string:
      return "a string";
    case boost::json::kind::array:
      return "an array";
    case boost::json::kind::object:
      return "an object";
  }
  return "a value";
}

// ", found <value> (<kind>)", the value shortened when long.
std::string found(const boost::json::value& v) {
  if (v.is_null()) return ", found null";
  std::string text;
  if (v.is_double()) {
    char digits[32];
    std::snprintf(digits, sizeof digits, "%.15g", v.get_double());
    text = digits;
  } else {
    text = boost::json::serialize(v);
  }
  constexpr std::size_t longest = 40;
  if (text.size() > longest) text = text.substr(0, longest - 3) + "...";
  return ", found " + text + " (" + kind_of(v) + ")";
}

// Whether `v` is a number holding an integer, and then whether it fits in I.
template <class I>
std::pair<bool, bool> integer_fit(const boost::json::value& v) {
  using limits = std::numeric_limits<I>;
  if (v.is_uint64()) return {true, v.get_uint64() <= static_cast<std::uint64_t>(limits::max())};
  if (v.is_int64()) {
    const auto x = v.get_int64();
    if (x < 0) return {!std::is_unsigned<I>::value, x >= static_cast<std::int64_t>(limits::min())};
    return {true, static_cast<std::uint64_t>(x) <= static_cast<std::uint64_t>(limits::max())};
  }
  if (v.is_double()) {
    const double d = v.get_double();
    if (!std::isfinite(d) || d != std::floor(d)) return {false, false};
    if (d < 0 && std::is_unsigned<I>::value) return {false, false};
    return {true,
            d >= static_cast<double>(limits::min()) && d <= static_cast<double>(limits::max())};
  }
  return {false, false};
}

// The first value in JSON `v` (shaped as T) of the wrong kind, out of range, or naming no
// enumerator of an enumerated setting, as a message naming its key, what the key takes and
// what was found; empty when every value fits. Walks the described structs generically, so a
// new setting needs no code here. After it, the conversion cannot fail.
template <class T>
std::string first_misfit(const boost::json::value& v, const std::string& key) {
  if constexpr (boost::describe::has_describe_enumerators<T>::value) {
    bool known = false;
    if (v.is_string())
      boost::mp11::mp_for_each<boost::describe::describe_enumerators<T>>(
          [&](auto d) { known = known || v.get_string() == d.name; });
    if (known) return {};
    return key + " must be " + accepted_values<T>() + found(v);
  } else if constexpr (boost::describe::has_describe_members<T>::value) {
    if (!v.is_object()) return key + " must be an object" + found(v);
    std::string misfit;
    boost::mp11::mp_for_each<boost::describe::describe_members<T, boost::describe::mod_public>>(
        [&](auto d) {
          if (!misfit.empty()) return;
          if (auto it = v.as_object().find(d.name); it != v.as_object().end()) {
            using member_t = std::remove_reference_t<decltype(std::declval<T&>().*d.pointer)>;
            misfit = first_misfit<member_t>(it->value(), key_of(key, d.name));
          }
        });
    return misfit;
  } else if constexpr (std::is_same<T, bool>::value) {
    if (v.is_bool()) return {};
    return key + " must be true or false" + found(v);
  } else if constexpr (std::is_same<T, std::string>::value) {
    if (v.is_string()) return {};
    return key + " must be a string" + found(v);
  } else if constexpr (std::is_integral<T>::value) {
    const auto [integer, in_range] = integer_fit<T>(v);
    if (integer && in_range) return {};
    if (integer)
      return key + " must be an integer from " + std::to_string(std::numeric_limits<T>::min()) +
             " to " + std::to_string(std::numeric_limits<T>::max()) + found(v);
    return key +
           (std::is_unsigned<T>::value ? " must be a non-negative integer"
                                       : " must be an integer") +
           found(v);
  } else {
    return {};
  }
}

// What a JSON parser stopped at `offset` of `text` expected next, found by retracing the
// (valid) text before it: "',' or '}'", "':'", "a value", ... Empty when `offset` lies inside
// a string, whose content is what was wrong.
std::string expected_at(std::string_view text, std::size_t offset) {
  enum class want { value, key, key_or_close, value_or_close, colon, comma_or_close, end };
  std::vector<char> open;  // '{' or '[' per enclosing container
  want next = want::value;
  const auto after_value = [&] { return open.empty() ? want::end : want::comma_or_close; };
  offset = std::min(offset, text.size());
  for (std::size_t i = 0; i < offset;) {
    const char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
    } else if (c == '"') {
      std::size_t j = i + 1;
      while (j < offset && text[j] != '"') j += text[j] == '\\' ? 2 : 1;
      if (j >= offset) return {};
      i = j + 1;
      next = next == want::key || next == want::key_or_close ? want::colon : after_value();
    } else if (c == '{' || c == '[') {
      open.push_back(c);
      next = c == '{' ? want::key_or_close : want::value_or_close;
      ++i;
    } else if (c == '}' || c == ']') {
      if (!open.empty()) open.pop_back();
      next = after_value();
      ++i;
    } else if (c == ':') {
      next = want::value;
      ++i;
    } else if (c == ',') {
      next = !open.empty() && open.back() == '{' ? want::key : want::value;
      ++i;
    } else {
      const std::size_t begin = i;
      while (i < offset && (std::isalnum(static_cast<unsigned char>(text[i])) != 0 ||
                            text[i] == '+' || text[i] == '-' || text[i] == '.'))
        ++i;
      if (i == begin) ++i;  // a character the parser cannot have accepted; step over it
      next = after_value();
    }
  }
  switch (next) {
    case want::value:
      return "a value";
    case want::key:
      return "a key in double quotes";
    case want::key_or_close:
      return "a key in double quotes or '}'";
    case want::value_or_close:
      return "a value or ']'";
    case want::colon:
      return "':'";
    case want::comma_or_close:
      return !open.empty() && open.back() == '[' ? "',' or ']'" : "',' or '}'";
    case want::end:
      return "the end of the text";
  }
  return "a value";
}

// What stands at `offset`: "the end of the text", a word such as 'tru', or one character.
std::string found_at(std::string_view text, std::size_t offset) {
  if (offset >= text.size()) return "the end of the text";
  std::size_t end = offset;
  while (end < text.size() && end - offset < 20 &&
         std::isalnum(static_cast<unsigned char>(text[end])) != 0)
    ++end;
  if (end == offset) end = offset + 1;
  return quote_for_message(text.substr(offset, end - offset));
}

// Parses `text`, or says where and why it is not JSON: "configuration is not valid JSON at
// line 3, column 17: expected ',' or '}', found '\"'".
result<boost::json::value> parse_json(std::string_view text) {
  // Checked first, so that the position given is the bad byte's, whatever the parser expected.
  const std::size_t invalid_utf8 = first_invalid_utf8(text);
  boost::json::parse_options options;
  options.max_depth = max_json_depth;
  boost::json::stream_parser parser{{}, options};
  boost::system::error_code ec;
  std::size_t offset = invalid_utf8;
  if (invalid_utf8 == std::string_view::npos) {
    offset = parser.write(text.data(), text.size(), ec);
    if (!ec) {
      parser.finish(ec);
      if (ec) offset = text.size();
    }
    if (!ec) return parser.release();
  }

  std::size_t line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i)
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  std::string what;
  if (invalid_utf8 != std::string_view::npos) {
    what = "the text is not valid UTF-8";
  } else if (ec == boost::json::error::too_deep) {
    what = "nested more than " + std::to_string(max_json_depth) + " levels deep";
  } else if (ec == boost::json::error::exponent_overflow) {
    what = "a number's exponent is too large";
  } else if (auto expected = expected_at(text, offset); expected.empty()) {
    what = "a string holds an invalid escape or a control character";
  } else {
    what = "expected " + expected + ", found " + found_at(text, offset);
  }
  return error{errc::invalid_argument, "configuration is not valid JSON at line " +
                                           std::to_string(line) + ", column " +
                                           std::to_string(offset - line_start + 1) + ": " + what};
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

// The first string setting holding a NUL character: a path or connection string would be cut
// at it when handed to the operating system or a driver.
template <class T>
std::string first_nul_string(const T& x, const std::string& key) {
  if constexpr (std::is_same_v<T, std::string>) {
    if (auto nul = x.find('\0'); nul != std::string::npos)
      return key + " holds a NUL character at offset " + std::to_string(nul);
    return {};
  } else if constexpr (boost::describe::has_describe_members<T>::value) {
    std::string found;
    boost::mp11::mp_for_each<boost::describe::describe_members<T, boost::describe::mod_public>>(
        [&](auto d) {
          if (found.empty()) found = first_nul_string(x.*d.pointer, key_of(key, d.name));
        });
    return found;
  } else {
    return {};
  }
}

// The cluster's timings must nest: a heartbeat well inside the suspicion timeout, which is
// inside the dead timeout, and a lease that outlives one late renewal.
result<void> validate_cluster(const runtime_config& config) {
  const cluster_config& c = config.cluster;
  auto invalid = [](std::string message) {
    return error{errc::invalid_argument, std::move(message)};
  };
  if (c.shard_count > 65536)
    return invalid("cluster.shard_count must be at most 65536, found " +
                   std::to_string(c.shard_count));
  const std::pair<const char*, std::uint32_t> order[] = {
      {"heartbeat_interval_ms", c.heartbeat_interval_ms},
      {"suspect_timeout_ms", c.suspect_timeout_ms},
      {"dead_timeout_ms", c.dead_timeout_ms},
  };
  for (std::size_t i = 1; i < std::size(order); ++i)
    if (order[i].second <= order[i - 1].second)
      return invalid(std::string{"cluster."} + order[i].first + " must be greater than cluster." +
                     order[i - 1].first + " (" + std::to_string(order[i - 1].second) + "), found " +
                     std::to_string(order[i].second));
  if (std::uint64_t{c.lease_duration_ms} < 2 * std::uint64_t{c.heartbeat_interval_ms})
    return invalid(
        "cluster.lease_duration_ms must be at least twice cluster.heartbeat_interval_ms (" +
        std::to_string(2 * std::uint64_t{c.heartbeat_interval_ms}) + "), found " +
        std::to_string(c.lease_duration_ms));
  if (!c.node_id.empty() && !is_valid_node_id(c.node_id))
    return invalid("cluster.node_id must be 1 to 64 characters of [A-Za-z0-9._-], found \"" +
                   c.node_id + "\"");
  if (!c.enabled) return ok();
  if (c.node_id.empty()) return invalid("cluster.node_id must be set when cluster.enabled is true");
  if (c.host.empty()) return invalid("cluster.host must not be empty when cluster.enabled is true");
  if (config.journal.backend != journal_backend::postgres)
    return invalid(std::string{"cluster.enabled needs journal.backend \"postgres\" (membership and "
                               "leases live in the journal's database), found \""} +
                   config_name(config.journal.backend) + "\"");
  if (!c.tls.enabled) return ok();
  const std::pair<const char*, const std::string*> files[] = {
      {"certificate", &c.tls.certificate}, {"key", &c.tls.key}, {"ca", &c.tls.ca}};
  for (const auto& [name, path] : files)
    if (path->empty())
      return invalid(std::string{"cluster.tls."} + name +
                     " must name a PEM file when cluster.tls.enabled is true (nodes authenticate "
                     "each other with certificates of the cluster's CA; set cluster.tls.enabled "
                     "to false for plaintext between nodes)");
  return ok();
}

}  // namespace

result<void> validate(const runtime_config& c) {
  if (auto bad = first_invalid_enum(c, {}); !bad.empty())
    return error{errc::invalid_argument, std::move(bad)};
  if (auto bad = first_nul_string(c, {}); !bad.empty())
    return error{errc::invalid_argument, std::move(bad)};
  // Zero would mean "never", "nothing" or "no thread" where that makes no sense; the few
  // settings where 0 means "off" (idle_timeout_ms, hibernate_after_ms, snapshot_every, max_wait_us,
  // port) are not listed.
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
      {"relay.batch_events", c.relay.batch_events},
      {"relay.backoff_min_ms", c.relay.backoff_min_ms},
      {"relay.backoff_max_ms", c.relay.backoff_max_ms},
      {"relay.confirm_timeout_ms", c.relay.confirm_timeout_ms},
      {"relay.poll_ms", c.relay.poll_ms},
      {"cluster.shard_count", c.cluster.shard_count},
      {"cluster.heartbeat_interval_ms", c.cluster.heartbeat_interval_ms},
  };
  for (const auto& [name, value] : at_least_one)
    if (value == 0) return error{errc::invalid_argument, std::string{name} + " must be at least 1"};
  if (c.relay.backoff_max_ms < c.relay.backoff_min_ms)
    return error{errc::invalid_argument,
                 "relay.backoff_max_ms must be at least relay.backoff_min_ms (" +
                     std::to_string(c.relay.backoff_min_ms) + "), found " +
                     std::to_string(c.relay.backoff_max_ms)};
  if (auto url = persistence::parse_amqp_url(c.relay.rabbitmq.url); !url)
    return error{errc::invalid_argument, "relay.rabbitmq.url: " + url.err().message};
  if (c.relay.rabbitmq.exchange.empty())
    return error{errc::invalid_argument, "relay.rabbitmq.exchange must not be empty"};
  if (c.relay.rabbitmq.exchange.rfind("amq.", 0) == 0)
    return error{errc::invalid_argument,
                 "relay.rabbitmq.exchange must not start with \"amq.\" (reserved by the broker), "
                 "found \"" +
                     c.relay.rabbitmq.exchange + "\""};
  return validate_cluster(c);
}

result<runtime_config> parse_config(std::string_view text) {
  auto parsed = parse_json(text);
  if (!parsed) return std::move(parsed).err();
  const auto& v = *parsed;
  if (!v.is_object())
    return error{errc::invalid_argument,
                 std::string{"configuration must be a JSON object"} + found(v)};
  if (auto unknown = json::first_unknown_key<runtime_config>(v); !unknown.empty())
    return error{errc::invalid_argument, "unknown configuration key " + quote_for_message(unknown)};
  if (auto misfit = first_misfit<runtime_config>(v, {}); !misfit.empty())
    return error{errc::invalid_argument, std::move(misfit)};
  runtime_config c;
  try {
    c = json::from_json<runtime_config>(v);
  } catch (const std::exception&) {
    // first_misfit checked every kind the configuration holds; kept as a guard for a setting
    // of a type it does not know yet.
    return error{errc::invalid_argument, "configuration has a value of the wrong type"};
  }
  if (auto valid = validate(c); !valid) return std::move(valid).err();
  return c;
}

result<void> check_cluster_files(const cluster_config& cluster) {
  if (!cluster.enabled || !cluster.tls.enabled) return ok();
  const std::pair<const char*, const std::string*> files[] = {
      {"certificate", &cluster.tls.certificate},
      {"key", &cluster.tls.key},
      {"ca", &cluster.tls.ca}};
  for (const auto& [name, path] : files) {
    std::ifstream in{*path, std::ios::binary};
    const int why = errno;
    if (!in || in.peek() == std::ifstream::traits_type::eof())
      return error{errc::invalid_argument,
                   std::string{"cluster.tls."} + name + ": cannot read " + *path + ": " +
                       (in ? std::string{"the file is empty"} : std::strerror(why))};
  }
  return ok();
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
