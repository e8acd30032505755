#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/describe.hpp>

#include "strata/domain/kernel/aggregate.hpp"
#include "strata/domain/kernel/decider.hpp"
#include "strata/domain/kernel/money.hpp"
#include "strata/domain/kernel/schema.hpp"

/// The Fulfilment aggregate: the event-sourced memory of one order's fulfilment process (a
/// saga). The aggregate id is the order id. It records which steps were taken and how each
/// ended; what to do next is computed from its state by `fulfilment::next_steps` (plan.hpp).
///
/// Steps, in order: reserve stock for every line (one InventoryItem per sku), authorize the
/// payment, capture it, mark the order ready to ship. A refused step (out of stock, a declined
/// payment, a failed capture, an order that can no longer be made ready) switches the
/// fulfilment to compensation: release every reservation made, void the authorization or
/// refund the capture, then cancel the order with the reason of the first refusal.
///
/// Lifecycle: (none) --start--> reserving --all reserved--> authorizing --authorized-->
/// capturing --captured--> readying --ready--> completed; any refusal --> compensating
/// --everything undone, order cancelled--> compensated.
///
/// Every `record_*` command is idempotent: recording an outcome that is already recorded is
/// an accepted no-op, so a process that resends after a crash never records a step twice.
///
/// Pure: no I/O, no clock, no exceptions. Everything here is safe to use from any thread.
namespace strata::fulfilment {

/// Rejection codes of `fulfilment::decide`: stable, compare against these.
inline constexpr std::string_view fulfilment_not_started = "fulfilment_not_started";
inline constexpr std::string_view fulfilment_finished = "fulfilment_finished";
inline constexpr std::string_view step_not_due = "step_not_due";
inline constexpr std::string_view order_id_missing = "order_id_missing";
inline constexpr std::string_view order_id_mismatch = "order_id_mismatch";
inline constexpr std::string_view lines_missing = "lines_missing";
inline constexpr std::string_view sku_missing = "sku_missing";
inline constexpr std::string_view sku_duplicate = "sku_duplicate";
inline constexpr std::string_view sku_unknown = "sku_unknown";
inline constexpr std::string_view quantity_not_positive = "quantity_not_positive";
inline constexpr std::string_view amount_not_positive = "amount_not_positive";
inline constexpr std::string_view currency_invalid = "currency_invalid";
inline constexpr std::string_view method_missing = "method_missing";
inline constexpr std::string_view reason_missing = "reason_missing";

/// What one order line needs from the warehouse.
struct line {
  std::string sku;
  std::int64_t quantity = 0;
};
BOOST_DESCRIBE_STRUCT(line, (), (sku, quantity))

/// Starts fulfilling a confirmed order. `order_id` must be the aggregate id; `lines` non-empty
/// with distinct skus and positive quantities; `amount` positive in an ISO 4217 currency;
/// `payment_method` non-empty. Starting a started fulfilment again is an accepted no-op.
struct start {
  std::string order_id;
  std::vector<line> lines;
  money amount;
  std::string payment_method;
};
BOOST_DESCRIBE_STRUCT(start, (), (order_id, lines, amount, payment_method))

/// The stock of `sku` was reserved for the order.
struct record_reserved {
  std::string sku;
};
BOOST_DESCRIBE_STRUCT(record_reserved, (), (sku))

/// The InventoryItem `sku` refused the reservation (`code` is its rejection code).
struct record_reservation_refused {
  std::string sku;
  std::string code;
  std::string reason;
};
BOOST_DESCRIBE_STRUCT(record_reservation_refused, (), (sku, code, reason))

/// The payment was authorized.
struct record_authorized {};
BOOST_DESCRIBE_STRUCT(record_authorized, (), ())

/// The payment was declined (a failed payment or a refused authorization).
struct record_declined {
  std::string code;
  std::string reason;
};
BOOST_DESCRIBE_STRUCT(record_declined, (), (code, reason))

/// The authorized amount was captured.
struct record_captured {};
BOOST_DESCRIBE_STRUCT(record_captured, (), ())

/// The capture was refused.
struct record_capture_failed {
  std::string code;
  std::string reason;
};
BOOST_DESCRIBE_STRUCT(record_capture_failed, (), (code, reason))

/// The order was marked ready to ship: the fulfilment is complete.
struct record_ready {};
BOOST_DESCRIBE_STRUCT(record_ready, (), ())

/// The order refused `mark_ready` (e.g. it was cancelled meanwhile).
struct record_ready_refused {
  std::string code;
  std::string reason;
};
BOOST_DESCRIBE_STRUCT(record_ready_refused, (), (code, reason))

/// Compensation: the reservation of `sku` was released.
struct record_released {
  std::string sku;
};
BOOST_DESCRIBE_STRUCT(record_released, (), (sku))

/// Compensation: the authorization was voided.
struct record_voided {};
BOOST_DESCRIBE_STRUCT(record_voided, (), ())

/// Compensation: the captured amount was refunded.
struct record_refunded {};
BOOST_DESCRIBE_STRUCT(record_refunded, (), ())

/// Compensation: the order was cancelled (`code` empty), or refused the cancellation with
/// `code` (the order is left as it is). Either ends the fulfilment.
struct record_cancelled {
  std::string code;
};
BOOST_DESCRIBE_STRUCT(record_cancelled, (), (code))

using command = std::variant<start, record_reserved, record_reservation_refused, record_authorized,
                             record_declined, record_captured, record_capture_failed, record_ready,
                             record_ready_refused, record_released, record_voided, record_refunded,
                             record_cancelled>;

// Events are the storage contract. Version history: every event is still at v1, the shape
// it was introduced with. Wire names carry the "Fulfilment" prefix so that projections that
// select by wire name never mistake them for the InventoryItem's or Payment's own events.

/// "FulfilmentStarted" v1.
struct started {
  std::string order_id;
  std::vector<line> lines;
  money amount;
  std::string payment_method;
};
BOOST_DESCRIBE_STRUCT(started, (), (order_id, lines, amount, payment_method))

/// "FulfilmentStockReserved" v1.
struct stock_reserved {
  std::string sku;
  std::int64_t quantity = 0;
};
BOOST_DESCRIBE_STRUCT(stock_reserved, (), (sku, quantity))

/// "FulfilmentReservationRefused" v1.
struct reservation_refused {
  std::string sku;
  std::string code;
  std::string reason;
};
BOOST_DESCRIBE_STRUCT(reservation_refused, (), (sku, code, reason))

/// "FulfilmentPaymentAuthorized" v1.
struct payment_authorized {
  money amount;
};
BOOST_DESCRIBE_STRUCT(payment_authorized, (), (amount))

/// "FulfilmentPaymentDeclined" v1.
struct payment_declined {
  std::string code;
  std::string reason;
};
BOOST_DESCRIBE_STRUCT(payment_declined, (), (code, reason))

/// "FulfilmentPaymentCaptured" v1.
struct payment_captured {
  money amount;
};
BOOST_DESCRIBE_STRUCT(payment_captured, (), (amount))

/// "FulfilmentCaptureFailed" v1.
struct capture_failed {
  std::string code;
  std::string reason;
};
BOOST_DESCRIBE_STRUCT(capture_failed, (), (code, reason))

/// "FulfilmentCompleted" v1: the order is ready to ship.
struct completed {};
BOOST_DESCRIBE_STRUCT(completed, (), ())

/// "FulfilmentReadyRefused" v1.
struct ready_refused {
  std::string code;
  std::string reason;
};
BOOST_DESCRIBE_STRUCT(ready_refused, (), (code, reason))

/// "FulfilmentReservationReleased" v1.
struct reservation_released {
  std::string sku;
};
BOOST_DESCRIBE_STRUCT(reservation_released, (), (sku))

/// "FulfilmentPaymentVoided" v1.
struct payment_voided {};
BOOST_DESCRIBE_STRUCT(payment_voided, (), ())

/// "FulfilmentPaymentRefunded" v1.
struct payment_refunded {
  money amount;
};
BOOST_DESCRIBE_STRUCT(payment_refunded, (), (amount))

/// "FulfilmentCompensated" v1: everything was undone; `reason` is why the fulfilment failed,
/// `order_code` the order's rejection code when it refused the cancellation (else empty).
struct compensated {
  std::string reason;
  std::string order_code;
};
BOOST_DESCRIBE_STRUCT(compensated, (), (reason, order_code))

using event =
    std::variant<started, stock_reserved, reservation_refused, payment_authorized, payment_declined,
                 payment_captured, capture_failed, completed, ready_refused, reservation_released,
                 payment_voided, payment_refunded, compensated>;

enum class phase : std::uint8_t {
  none,
  reserving,
  authorizing,
  capturing,
  readying,
  compensating,
  completed,
  compensated
};
BOOST_DESCRIBE_ENUM(phase, none, reserving, authorizing, capturing, readying, compensating,
                    completed, compensated)

/// Where the reservation of one line stands.
enum class reservation : std::uint8_t { pending, reserved, refused, released };
BOOST_DESCRIBE_ENUM(reservation, pending, reserved, refused, released)

/// Where the payment stands.
enum class payment_status : std::uint8_t {
  none,
  authorized,
  declined,
  captured,
  capture_failed,
  voided,
  refunded
};
BOOST_DESCRIBE_ENUM(payment_status, none, authorized, declined, captured, capture_failed, voided,
                    refunded)

/// One line of the fulfilment.
struct line_state {
  std::int64_t quantity = 0;
  fulfilment::reservation status = reservation::pending;
};
BOOST_DESCRIBE_STRUCT(line_state, (), (quantity, status))

/// The decision state of one fulfilment (also its snapshot shape, see
/// `fulfilment::state_version`).
struct state {
  fulfilment::phase current = phase::none;
  std::string order_id;
  money amount;
  std::string payment_method;
  std::map<std::string, line_state> lines;  ///< By sku.
  payment_status payment = payment_status::none;
  std::string failure_code;    ///< The first refusal's code (empty unless compensating).
  std::string failure_reason;  ///< Its human-readable reason, used to cancel the order.
};
BOOST_DESCRIBE_STRUCT(state, (),
                      (current, order_id, amount, payment_method, lines, payment, failure_code,
                       failure_reason))

/// The Fulfilment decider (see `strata::is_decider`).
struct fulfilment {
  static constexpr std::string_view type = "Fulfilment";
  using state = ::strata::fulfilment::state;
  using command = ::strata::fulfilment::command;
  using event = ::strata::fulfilment::event;
  static constexpr std::uint32_t state_version = 1;

  static state initial() { return {}; }

  /// Events for `cmd` on `s`, or a rejection with one of the codes above. Never throws.
  /// Reads `ctx.aggregate_id` (for `start`).
  static decision<event> decide(const state& s, const command& cmd, const context& ctx);

  /// Applies `e` to `s`. Total: any event applies to any state (an unknown sku changes
  /// nothing; the phase follows from what is recorded).
  static state evolve(state s, const event& e) noexcept;

  /// Wire names and current versions.
  static const schema<event>& events();
};

static_assert(is_decider_v<fulfilment>);

/// True once the fulfilment completed or was compensated: nothing more will be sent.
inline bool is_finished(const state& s) noexcept {
  return s.current == phase::completed || s.current == phase::compensated;
}

}  // namespace strata::fulfilment
