#pragma once

// The JSON form of a decider's command, as a command travels between the nodes of a cluster
// (docs/CLUSTER.md, "Forwarding"). A command that is a `std::variant` of described structs
// (the usual shape) is an object {"alt": <index of the alternative>, "data": <the struct>};
// any other command type is {"data": <its JSON>}. Both nodes run the same code, so the index
// names the alternative; it is never stored.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <boost/json.hpp>

#include "strata/domain/kernel/json.hpp"
#include "strata/domain/kernel/result.hpp"

namespace strata::actors {

namespace detail {

template <class T>
struct is_variant : std::false_type {};
template <class... Ts>
struct is_variant<std::variant<Ts...>> : std::true_type {};

template <class V, std::size_t I = 0>
bool decode_alternative(std::size_t index, const boost::json::value& data, V& out) {
  if constexpr (I < std::variant_size_v<V>) {
    if (index == I) {
      out.template emplace<I>(json::from_json<std::variant_alternative_t<I, V>>(data));
      return true;
    }
    return decode_alternative<V, I + 1>(index, data, out);
  } else {
    return false;
  }
}

}  // namespace detail

/// `command` as JSON text. Errors: `invalid_argument` when it holds a number JSON cannot
/// represent (infinite or NaN).
template <class C>
result<std::string> encode_command(const C& command) {
  try {
    boost::json::object o;
    if constexpr (detail::is_variant<C>::value) {
      o["alt"] = command.index();
      std::visit([&](const auto& alt) { o["data"] = boost::json::parse(json::to_json(alt)); },
                 command);
    } else {
      o["data"] = boost::json::parse(json::to_json(command));
    }
    return boost::json::serialize(o);
  } catch (const std::exception& ex) {
    return error{errc::invalid_argument, std::string{"command does not encode: "} + ex.what()};
  }
}

/// The command `text` (from `encode_command<C>`) holds. Errors: `invalid_argument` when it is
/// not such JSON.
template <class C>
result<C> decode_command(std::string_view text) {
  try {
    const auto v = boost::json::parse(text);
    const auto& o = v.as_object();
    const auto* data = o.if_contains("data");
    if (data == nullptr) return error{errc::invalid_argument, "command JSON has no \"data\""};
    if constexpr (detail::is_variant<C>::value) {
      const auto* alt = o.if_contains("alt");
      if (alt == nullptr) return error{errc::invalid_argument, "command JSON has no \"alt\""};
      C out;
      if (!detail::decode_alternative(boost::json::value_to<std::size_t>(*alt), *data, out))
        return error{errc::invalid_argument, "command JSON names no alternative of the command"};
      return out;
    } else {
      return json::from_json<C>(*data);
    }
  } catch (const std::exception& ex) {
    return error{errc::invalid_argument, std::string{"command JSON: "} + ex.what()};
  }
}

}  // namespace strata::actors
