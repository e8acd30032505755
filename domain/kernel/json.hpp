#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <boost/describe.hpp>
#include <boost/json.hpp>
#include <boost/mp11/algorithm.hpp>

namespace strata::json {

/// JSON mapping for every type described with `BOOST_DESCRIBE_STRUCT` / `BOOST_DESCRIBE_ENUM`.
///
/// Encoding is Boost.JSON's own `value_from`. Decoding is tolerant where Boost.JSON is
/// strict, because stored events outlive the code that wrote them: a member missing from the
/// JSON keeps its default (so adding a defaulted field is not a breaking change) and keys the
/// type does not know are ignored. A value of the wrong JSON kind throws
/// `boost::system::system_error`; callers at a layer edge catch it and return an `error`.

template <class T>
T from_json(const boost::json::value& v);

namespace detail {

template <class T>
struct is_vector : std::false_type {};
template <class T, class A>
struct is_vector<std::vector<T, A>> : std::true_type {};

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
struct is_string_map : std::false_type {};
template <class V, class C, class A>
struct is_string_map<std::map<std::string, V, C, A>> : std::true_type {};

}  // namespace detail

template <class T>
T from_json(const boost::json::value& v) {
  if constexpr (boost::describe::has_describe_members<T>::value) {
    T out{};
    const auto& obj = v.as_object();
    using members = boost::describe::describe_members<T, boost::describe::mod_public>;
    boost::mp11::mp_for_each<members>([&](auto d) {
      if (auto it = obj.find(d.name); it != obj.end()) {
        using member_t = std::remove_reference_t<decltype(out.*d.pointer)>;
        out.*d.pointer = from_json<member_t>(it->value());
      }
    });
    return out;
  } else if constexpr (detail::is_vector<T>::value) {
    T out;
    const auto& arr = v.as_array();
    out.reserve(arr.size());
    for (const auto& e : arr) out.push_back(from_json<typename T::value_type>(e));
    return out;
  } else if constexpr (detail::is_optional<T>::value) {
    if (v.is_null()) return T{};
    return T{from_json<typename T::value_type>(v)};
  } else if constexpr (detail::is_string_map<T>::value) {
    T out;
    for (const auto& [k, e] : v.as_object())
      out.emplace(std::string{k}, from_json<typename T::mapped_type>(e));
    return out;
  } else if constexpr (std::is_same_v<T, boost::json::value>) {
    // Into the default memory: `v` may live in a parser's scratch buffer.
    return boost::json::value(v, boost::json::storage_ptr{});
  } else if constexpr (std::is_same_v<T, boost::json::object>) {
    return boost::json::object(v.as_object(), boost::json::storage_ptr{});
  } else if constexpr (std::is_same_v<T, boost::json::array>) {
    return boost::json::array(v.as_array(), boost::json::storage_ptr{});
  } else {
    return boost::json::value_to<T>(v);
  }
}

/// Whether `v` holds a floating-point number that is infinite or NaN anywhere inside it. JSON
/// has no text for one: Boost.JSON 1.81 writes `Infinity` or `NaN`, which no parser reads
/// back, and parses an out-of-range literal such as `1e400` to infinity.
bool holds_non_finite(const boost::json::value& v) noexcept;

namespace detail {

/// Whether a `T` may encode to a JSON number with a fraction or exponent: false only for the
/// types known to hold none (integers, strings, bools and described structs, vectors,
/// optionals and string maps of those), so `to_json` checks nothing for them.
template <class T>
constexpr bool may_hold_double() {
  if constexpr (std::is_floating_point_v<T>) {
    return true;
  } else if constexpr (std::is_integral_v<T> || std::is_enum_v<T> ||
                       std::is_same_v<T, std::string>) {
    return false;
  } else if constexpr (boost::describe::has_describe_members<T>::value) {
    bool any = false;
    using members = boost::describe::describe_members<T, boost::describe::mod_public>;
    boost::mp11::mp_for_each<members>([&](auto d) {
      using member_t = std::remove_reference_t<decltype(std::declval<T&>().*d.pointer)>;
      any = any || may_hold_double<member_t>();
    });
    return any;
  } else if constexpr (is_vector<T>::value || is_optional<T>::value) {
    return may_hold_double<typename T::value_type>();
  } else if constexpr (is_string_map<T>::value) {
    return may_hold_double<typename T::mapped_type>();
  } else {
    return true;  // a conversion of the host's own: look at what it wrote
  }
}

}  // namespace detail

/// Serializes any type Boost.JSON can convert (described structs included) to compact text.
/// Throws `std::domain_error` for a value holding an infinite or NaN number, which JSON cannot
/// represent (see `holds_non_finite`); callers at a layer edge turn it into an `error`.
template <class T>
std::string to_json(const T& x) {
  boost::json::value v = boost::json::value_from(x);
  if constexpr (detail::may_hold_double<T>()) {
    if (holds_non_finite(v))
      throw std::domain_error("a number is infinite or NaN, which JSON cannot represent");
  }
  return boost::json::serialize(v);
}

}  // namespace strata::json

namespace strata::json {

/// Checks that every key of `v` (recursively through described members) names a member of
/// `T`. Returns the dotted path of the first unknown key, e.g. "journal.sqlite.pth", or an
/// empty string when all keys are known. For configuration files, where a typo must not be
/// silently ignored.
template <class T>
std::string first_unknown_key(const boost::json::value& v, const std::string& prefix = {}) {
  if constexpr (boost::describe::has_describe_members<T>::value) {
    if (!v.is_object()) return {};
    using members = boost::describe::describe_members<T, boost::describe::mod_public>;
    for (const auto& kv : v.as_object()) {
      // Named references, not a structured binding: C++17 lambdas cannot capture those.
      const auto key = kv.key();
      const auto& child = kv.value();
      bool known = false;
      std::string nested;
      boost::mp11::mp_for_each<members>([&](auto d) {
        if (known || key != d.name) return;
        known = true;
        using member_t = std::remove_reference_t<decltype(std::declval<T&>().*d.pointer)>;
        nested = first_unknown_key<member_t>(child, prefix + std::string{key} + ".");
      });
      if (!known) return prefix + std::string{key};
      if (!nested.empty()) return nested;
    }
  }
  return {};
}

}  // namespace strata::json
