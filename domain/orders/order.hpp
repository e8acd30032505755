#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/describe.hpp>

#include "strata/domain/kernel/aggregate.hpp"
#include "strata/domain/kernel/decider.hpp"
#include "strata/domain/kernel/money.hpp"
#include "strata/domain/kernel/schema.hpp"

/// The Order aggregate: a customer's order from placement to shipment or cancellation.
///
/// Lifecycle: (none) --place--> open --confirm--> confirmed --mark_ready--> ready_to_ship
/// --ship--> shipped; `cancel` ends any placed order that has not shipped. Lines can be added
/// and removed only while the order is open. All amounts share the order's currency.
///
/// Pure: no I/O, no clock, no exceptions. Everything here is safe to use from any thread.
namespace strata::orders {

/// Rejection codes of `order::decide`: stable, compare against these.
inline constexpr std::string_view order_already_placed = "order_already_placed";
inline constexpr std::string_view order_not_placed = "order_not_placed";
inline constexpr std::string_view order_already_confirmed = "order_already_confirmed";
inline constexpr std::string_view order_not_confirmed = "order_not_confirmed";
inline constexpr std::string_view order_cancelled = "order_cancelled";
inline constexpr std::string_view order_shipped = "order_shipped";
inline constexpr std::string_view order_empty = "order_empty";
inline constexpr std::string_view customer_missing = "customer_missing";
inline constexpr std::string_view currency_invalid = "currency_invalid";
inline constexpr std::string_view currency_mismatch = "currency_mismatch";
inline constexpr std::string_view sku_missing = "sku_missing";
inline constexpr std::string_view sku_duplicate = "sku_duplicate";
inline constexpr std::string_view sku_unknown = "sku_unknown";
inline constexpr std::string_view sku_price_mismatch = "sku_price_mismatch";
inline constexpr std::string_view quantity_not_positive = "quantity_not_positive";
inline constexpr std::string_view price_negative = "price_negative";
inline constexpr std::string_view total_overflow = "total_overflow";
inline constexpr std::string_view reason_missing = "reason_missing";

/// One order line: `quantity` units of `sku` at `unit_price` each.
struct line {
  std::string sku;
  std::int64_t quantity = 0;
  money unit_price;
};
BOOST_DESCRIBE_STRUCT(line, (), (sku, quantity, unit_price))

/// Opens the order. `currency` is the ISO 4217 code (three upper-case letters) every line
/// must use; `lines` may be empty (items can be added before confirmation), no sku twice.
struct place {
  std::string customer_id;
  std::string currency;
  std::vector<line> lines;
};
BOOST_DESCRIBE_STRUCT(place, (), (customer_id, currency, lines))

/// Adds a line, or more units of a sku already on the order (at the same unit price).
struct add_item {
  line item;
};
BOOST_DESCRIBE_STRUCT(add_item, (), (item))

/// Removes the whole line of `sku`.
struct remove_item {
  std::string sku;
};
BOOST_DESCRIBE_STRUCT(remove_item, (), (sku))

/// Freezes the lines; the order can then only be made ready, shipped or cancelled.
struct confirm {};
BOOST_DESCRIBE_STRUCT(confirm, (), ())

/// Fulfilment says the goods are picked and packed. Allowed only on a confirmed order;
/// repeating it on an order already ready is an accepted no-op.
struct mark_ready {};
BOOST_DESCRIBE_STRUCT(mark_ready, (), ())

/// Cancels a placed, unshipped order. `reason` must be non-empty.
struct cancel {
  std::string reason;
};
BOOST_DESCRIBE_STRUCT(cancel, (), (reason))

/// Hands a confirmed order to a carrier; carrier and tracking number are optional.
struct ship {
  std::optional<std::string> carrier;
  std::optional<std::string> tracking_number;
};
BOOST_DESCRIBE_STRUCT(ship, (), (carrier, tracking_number))

using command = std::variant<place, add_item, remove_item, confirm, mark_ready, cancel, ship>;

// Events are the storage contract. Version history (wire name vN: JSON body):
//   OrderPlaced v1: {customer_id, lines: [{sku, quantity, unit_price: int}], total: int}
//                   amounts were bare minor units, implicitly USD.
//   OrderPlaced v2: {customer_id, currency, lines: [{sku, quantity, unit_price: money}],
//                   total: money}. Upcast from v1 with currency "USD". (current)
//   ItemAdded   v1: {sku, quantity, unit_price: int}, implicitly USD.
//   ItemAdded   v2: {item: {sku, quantity, unit_price: money}}. Upcast from v1 with "USD".
//                   (current)
//   ItemRemoved v1, OrderConfirmed v1, OrderMarkedReady v1, OrderCancelled v1,
//   OrderShipped v1: unchanged since their introduction. (current)

/// "OrderPlaced" v2. `total` is the sum of the lines, in `currency`.
struct placed {
  std::string customer_id;
  std::string currency;
  std::vector<line> lines;
  money total;
};
BOOST_DESCRIBE_STRUCT(placed, (), (customer_id, currency, lines, total))

/// "ItemAdded" v2.
struct item_added {
  line item;
};
BOOST_DESCRIBE_STRUCT(item_added, (), (item))

/// "ItemRemoved" v1.
struct item_removed {
  std::string sku;
};
BOOST_DESCRIBE_STRUCT(item_removed, (), (sku))

/// "OrderConfirmed" v1.
struct confirmed {};
BOOST_DESCRIBE_STRUCT(confirmed, (), ())

/// "OrderMarkedReady" v1.
struct marked_ready {};
BOOST_DESCRIBE_STRUCT(marked_ready, (), ())

/// "OrderCancelled" v1.
struct cancelled {
  std::string reason;
};
BOOST_DESCRIBE_STRUCT(cancelled, (), (reason))

/// "OrderShipped" v1.
struct shipped {
  std::optional<std::string> carrier;
  std::optional<std::string> tracking_number;
};
BOOST_DESCRIBE_STRUCT(shipped, (), (carrier, tracking_number))

using event =
    std::variant<placed, item_added, item_removed, confirmed, marked_ready, cancelled, shipped>;

enum class status : std::uint8_t { none, open, confirmed, ready_to_ship, shipped, cancelled };
BOOST_DESCRIBE_ENUM(status, none, open, confirmed, ready_to_ship, shipped, cancelled)

/// What `decide` needs of one line: how many and at what price (in the order's currency).
struct line_state {
  std::int64_t quantity = 0;
  std::int64_t unit_price_minor = 0;
};
BOOST_DESCRIBE_STRUCT(line_state, (), (quantity, unit_price_minor))

/// The decision state of one order (also its snapshot shape, see `order::state_version`).
struct state {
  orders::status current = status::none;
  std::string currency;
  std::int64_t total_minor = 0;
  std::map<std::string, line_state> lines;  ///< By sku.
};
BOOST_DESCRIBE_STRUCT(state, (), (current, currency, total_minor, lines))

/// The Order decider (see `strata::is_decider`).
struct order {
  static constexpr std::string_view type = "Order";
  using state = orders::state;
  using command = orders::command;
  using event = orders::event;
  static constexpr std::uint32_t state_version = 1;

  static state initial() { return {}; }

  /// Events for `cmd` on `s`, or a rejection with one of the codes above. Never throws.
  static decision<event> decide(const state& s, const command& cmd, const context& ctx);

  /// Applies `e` to `s`. Total: any event applies to any state (amounts saturate instead of
  /// overflowing, removing an unknown sku changes nothing).
  static state evolve(state s, const event& e) noexcept;

  /// Wire names, current versions and the v1 -> v2 upcasters described above.
  static const schema<event>& events();
};

static_assert(is_decider_v<order>);

}  // namespace strata::orders
