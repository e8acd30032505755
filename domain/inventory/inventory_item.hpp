#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>

#include <boost/describe.hpp>

#include "strata/domain/kernel/aggregate.hpp"
#include "strata/domain/kernel/decider.hpp"
#include "strata/domain/kernel/schema.hpp"

/// The InventoryItem aggregate: the stock of one SKU (the aggregate id is the SKU).
///
/// `on_hand` units are in the warehouse; `reserved` of them are promised to orders, one
/// reservation per order id. `available = on_hand - reserved` never goes below zero.
/// A reservation ends by `release` (the order no longer needs it) or `commit` (the goods
/// shipped: on hand and reserved both drop). `adjust` replaces on hand by a counted figure,
/// recording who counted (the context's user id) and why.
///
/// Pure: no I/O, no clock, no exceptions. Everything here is safe to use from any thread.
namespace strata::inventory {

/// Rejection codes of `inventory_item::decide`: stable, compare against these.
inline constexpr std::string_view quantity_not_positive = "quantity_not_positive";
inline constexpr std::string_view quantity_negative = "quantity_negative";
inline constexpr std::string_view quantity_overflow = "quantity_overflow";
inline constexpr std::string_view order_id_missing = "order_id_missing";
inline constexpr std::string_view insufficient_stock = "insufficient_stock";
inline constexpr std::string_view reservation_conflict = "reservation_conflict";
inline constexpr std::string_view reservation_unknown = "reservation_unknown";
inline constexpr std::string_view reason_missing = "reason_missing";
inline constexpr std::string_view user_missing = "user_missing";
inline constexpr std::string_view adjustment_below_reserved = "adjustment_below_reserved";

/// Adds `quantity` (> 0) units to on hand.
struct receive {
  std::int64_t quantity = 0;
};
BOOST_DESCRIBE_STRUCT(receive, (), (quantity))

/// Promises `quantity` (> 0) available units to `order_id`. Repeating the same reservation
/// is an accepted no-op; reserving a different quantity for the same order is rejected
/// (release first).
struct reserve {
  std::string order_id;
  std::int64_t quantity = 0;
};
BOOST_DESCRIBE_STRUCT(reserve, (), (order_id, quantity))

/// Gives the units reserved for `order_id` back to available stock.
struct release {
  std::string order_id;
};
BOOST_DESCRIBE_STRUCT(release, (), (order_id))

/// The reserved units of `order_id` left the warehouse.
struct commit {
  std::string order_id;
};
BOOST_DESCRIBE_STRUCT(commit, (), (order_id))

/// A stock count: on hand becomes `on_hand` (>= 0 and >= reserved); `reason` is required
/// and the context's user id is recorded as the counter.
struct adjust {
  std::int64_t on_hand = 0;
  std::string reason;
};
BOOST_DESCRIBE_STRUCT(adjust, (), (on_hand, reason))

using command = std::variant<receive, reserve, release, commit, adjust>;

// Events are the storage contract. Version history: every event is still at v1, the shape
// it was introduced with.

/// "StockReceived" v1.
struct received {
  std::int64_t quantity = 0;
};
BOOST_DESCRIBE_STRUCT(received, (), (quantity))

/// "StockReserved" v1.
struct reserved {
  std::string order_id;
  std::int64_t quantity = 0;
};
BOOST_DESCRIBE_STRUCT(reserved, (), (order_id, quantity))

/// "ReservationReleased" v1; `quantity` is what the reservation held.
struct released {
  std::string order_id;
  std::int64_t quantity = 0;
};
BOOST_DESCRIBE_STRUCT(released, (), (order_id, quantity))

/// "ReservationCommitted" v1; `quantity` left on hand and reserved.
struct committed {
  std::string order_id;
  std::int64_t quantity = 0;
};
BOOST_DESCRIBE_STRUCT(committed, (), (order_id, quantity))

/// "StockAdjusted" v1: on hand went from `previous_on_hand` to `on_hand`.
struct adjusted {
  std::int64_t previous_on_hand = 0;
  std::int64_t on_hand = 0;
  std::string reason;
  std::string adjusted_by;  ///< The user id of the command.
};
BOOST_DESCRIBE_STRUCT(adjusted, (), (previous_on_hand, on_hand, reason, adjusted_by))

using event = std::variant<received, reserved, released, committed, adjusted>;

/// The decision state of one SKU (also its snapshot shape, see
/// `inventory_item::state_version`).
struct state {
  std::int64_t on_hand = 0;
  std::int64_t reserved = 0;                         ///< Sum of `reservations`.
  std::map<std::string, std::int64_t> reservations;  ///< Quantity by order id.
};
BOOST_DESCRIBE_STRUCT(state, (), (on_hand, reserved, reservations))

/// The InventoryItem decider (see `strata::is_decider`).
struct inventory_item {
  static constexpr std::string_view type = "InventoryItem";
  using state = inventory::state;
  using command = inventory::command;
  using event = inventory::event;
  static constexpr std::uint32_t state_version = 1;

  static state initial() { return {}; }

  /// Events for `cmd` on `s`, or a rejection with one of the codes above. Never throws.
  /// Reads `ctx.user_id` (for `adjust`).
  static decision<event> decide(const state& s, const command& cmd, const context& ctx);

  /// Applies `e` to `s`. Total: any event applies to any state (sums saturate, an unknown
  /// reservation changes nothing).
  static state evolve(state s, const event& e) noexcept;

  /// Wire names and current versions.
  static const schema<event>& events();
};

static_assert(is_decider_v<inventory_item>);

/// The units not promised to any order.
inline std::int64_t available(const state& s) noexcept {
  return s.on_hand - s.reserved;
}

}  // namespace strata::inventory
