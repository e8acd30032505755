#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

namespace strata {

/// A 1-based position of an event within its stream; 0 means "no events yet".
struct version {
  std::uint64_t value = 0;

  constexpr version next() const noexcept { return version{value + 1}; }
  friend constexpr bool operator==(version a, version b) noexcept { return a.value == b.value; }
  friend constexpr bool operator!=(version a, version b) noexcept { return a.value != b.value; }
  friend constexpr bool operator<(version a, version b) noexcept { return a.value < b.value; }
  friend constexpr bool operator<=(version a, version b) noexcept { return a.value <= b.value; }
  friend constexpr bool operator>(version a, version b) noexcept { return a.value > b.value; }
  friend constexpr bool operator>=(version a, version b) noexcept { return a.value >= b.value; }
  friend std::ostream& operator<<(std::ostream& os, version v) { return os << 'v' << v.value; }
};

/// A 1-based, gap-free position of an event in the whole journal, in commit order;
/// 0 means "before the first event".
struct global_position {
  std::uint64_t value = 0;

  constexpr global_position next() const noexcept { return global_position{value + 1}; }
  friend constexpr bool operator==(global_position a, global_position b) noexcept {
    return a.value == b.value;
  }
  friend constexpr bool operator!=(global_position a, global_position b) noexcept {
    return a.value != b.value;
  }
  friend constexpr bool operator<(global_position a, global_position b) noexcept {
    return a.value < b.value;
  }
  friend constexpr bool operator<=(global_position a, global_position b) noexcept {
    return a.value <= b.value;
  }
  friend constexpr bool operator>(global_position a, global_position b) noexcept {
    return a.value > b.value;
  }
  friend constexpr bool operator>=(global_position a, global_position b) noexcept {
    return a.value >= b.value;
  }
  friend std::ostream& operator<<(std::ostream& os, global_position p) {
    return os << '@' << p.value;
  }
};

/// The name of one aggregate instance's event stream: `<aggregate type>-<aggregate id>`,
/// e.g. "Order-456". The type never contains '-', so the split is unambiguous.
class stream_id {
 public:
  stream_id() = default;

  /// REQUIRES: `aggregate_type` is non-empty and contains no '-'; `aggregate_id` is non-empty.
  stream_id(std::string_view aggregate_type, std::string_view aggregate_id)
      : name_(std::string{aggregate_type} + '-' + std::string{aggregate_id}),
        split_(aggregate_type.size()) {}

  /// Parses "<type>-<id>"; returns an empty stream_id when `name` has no '-'.
  static stream_id parse(std::string_view name) {
    auto dash = name.find('-');
    if (dash == std::string_view::npos || dash == 0 || dash + 1 == name.size()) return {};
    return stream_id{name.substr(0, dash), name.substr(dash + 1)};
  }

  const std::string& str() const noexcept { return name_; }
  std::string_view aggregate_type() const noexcept {
    return std::string_view{name_}.substr(0, split_);
  }
  std::string_view aggregate_id() const noexcept {
    return empty() ? std::string_view{} : std::string_view{name_}.substr(split_ + 1);
  }
  bool empty() const noexcept { return name_.empty(); }

  friend bool operator==(const stream_id& a, const stream_id& b) { return a.name_ == b.name_; }
  friend bool operator!=(const stream_id& a, const stream_id& b) { return a.name_ != b.name_; }
  friend bool operator<(const stream_id& a, const stream_id& b) { return a.name_ < b.name_; }
  friend std::ostream& operator<<(std::ostream& os, const stream_id& s) { return os << s.name_; }

 private:
  std::string name_;
  std::size_t split_ = 0;
};

}  // namespace strata

template <>
struct std::hash<strata::stream_id> {
  std::size_t operator()(const strata::stream_id& s) const noexcept {
    return std::hash<std::string>{}(s.str());
  }
};
