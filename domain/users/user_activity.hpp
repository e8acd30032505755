#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/describe.hpp>

#include "strata/domain/kernel/aggregate.hpp"
#include "strata/domain/kernel/decider.hpp"
#include "strata/domain/kernel/schema.hpp"

/// The UserActivity aggregate: the actions one user performed (the aggregate id is the
/// user id), for analytics.
///
/// Each accepted action gets the user's next sequence number (1, 2, ...) and the time of the
/// context it was decided in. Input is size-limited, and a user records at most
/// `max_actions_per_minute` actions within any minute before `context.now`.
///
/// Pure: no I/O, no clock, no exceptions. Everything here is safe to use from any thread.
namespace strata::users {

/// Rejection codes of `user_activity::decide`: stable, compare against these.
inline constexpr std::string_view kind_unknown = "kind_unknown";
inline constexpr std::string_view subject_too_long = "subject_too_long";
inline constexpr std::string_view too_many_attributes = "too_many_attributes";
inline constexpr std::string_view attribute_key_empty = "attribute_key_empty";
inline constexpr std::string_view attribute_key_too_long = "attribute_key_too_long";
inline constexpr std::string_view attribute_value_too_long = "attribute_value_too_long";
inline constexpr std::string_view rate_limited = "rate_limited";

/// Limits on one recorded action.
inline constexpr std::size_t max_subject_bytes = 256;
inline constexpr std::size_t max_attributes = 16;
inline constexpr std::size_t max_attribute_bytes = 128;  ///< For each key and each value.

/// The rate limit: at most this many actions per user within `rate_window`.
inline constexpr std::size_t max_actions_per_minute = 100;
inline constexpr std::chrono::microseconds rate_window = std::chrono::minutes{1};

/// What the user did; stored by name, so new kinds are added at the end and never renamed.
enum class action_kind : std::uint8_t {
  signed_in,
  signed_out,
  viewed,
  searched,
  added_to_cart,
  removed_from_cart,
  placed_order,
  cancelled_order,
  updated_profile,
};
BOOST_DESCRIBE_ENUM(action_kind, signed_in, signed_out, viewed, searched, added_to_cart,
                    removed_from_cart, placed_order, cancelled_order, updated_profile)

/// Records one action. `subject` is what it was about (a product id, a search query; may be
/// empty, at most `max_subject_bytes`); `attributes` are free-form details (at most
/// `max_attributes`, keys non-empty, keys and values at most `max_attribute_bytes`).
struct record {
  action_kind kind = action_kind::viewed;
  std::string subject;
  std::map<std::string, std::string> attributes;
};
BOOST_DESCRIBE_STRUCT(record, (), (kind, subject, attributes))

using command = std::variant<record>;

// Events are the storage contract. Version history: UserActionRecorded is still at v1, the
// shape it was introduced with.

/// "UserActionRecorded" v1. `sequence` is 1-based per user; `occurred_at_us` is the decision
/// time in microseconds since the Unix epoch (UTC).
struct action_recorded {
  std::uint64_t sequence = 0;
  action_kind kind = action_kind::viewed;
  std::string subject;
  std::map<std::string, std::string> attributes;
  std::int64_t occurred_at_us = 0;
};
BOOST_DESCRIBE_STRUCT(action_recorded, (), (sequence, kind, subject, attributes, occurred_at_us))

using event = std::variant<action_recorded>;

/// The decision state of one user (also its snapshot shape, see
/// `user_activity::state_version`): the last sequence number and the times of at most
/// `max_actions_per_minute` most recent actions inside the rate window, oldest first. That
/// is all the rate limit needs: the limit is reached exactly when that many fall inside the
/// window.
struct state {
  std::uint64_t last_sequence = 0;
  std::vector<std::int64_t> recent_us;
};
BOOST_DESCRIBE_STRUCT(state, (), (last_sequence, recent_us))

/// The UserActivity decider (see `strata::is_decider`).
struct user_activity {
  static constexpr std::string_view type = "UserActivity";
  using state = users::state;
  using command = users::command;
  using event = users::event;
  static constexpr std::uint32_t state_version = 1;

  static state initial() { return {}; }

  /// Events for `cmd` on `s`, or a rejection with one of the codes above. Never throws.
  /// Reads `ctx.now` (the action's time and the rate limit).
  static decision<event> decide(const state& s, const command& cmd, const context& ctx);

  /// Applies `e` to `s`. Total: any event applies to any state (out-of-order times are
  /// inserted in order; the recent list stays bounded).
  static state evolve(state s, const event& e) noexcept;

  /// Wire names and current versions.
  static const schema<event>& events();
};

static_assert(is_decider_v<user_activity>);

}  // namespace strata::users
