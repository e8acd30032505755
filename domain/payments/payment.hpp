#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/describe.hpp>

#include "strata/domain/kernel/aggregate.hpp"
#include "strata/domain/kernel/decider.hpp"
#include "strata/domain/kernel/money.hpp"
#include "strata/domain/kernel/schema.hpp"

/// The Payment aggregate: one payment for one order, from authorization through captures
/// and refunds.
///
/// Lifecycle: (none) --authorize--> authorized; while authorized, `capture` takes money
/// (in one or several partial captures, never more than authorized in total, each capture id
/// once) and `refund` gives it back (never more than captured in total, each refund id once).
/// `void_authorization` releases an authorization nothing was captured from; `fail` records
/// that the payment provider gave up (before anything was captured). Voided and failed
/// payments accept nothing more. All amounts are in the authorization's currency.
///
/// Pure: no I/O, no clock, no exceptions. Everything here is safe to use from any thread.
namespace strata::payments {

/// Rejection codes of `payment::decide`: stable, compare against these.
inline constexpr std::string_view payment_already_authorized = "payment_already_authorized";
inline constexpr std::string_view payment_not_authorized = "payment_not_authorized";
inline constexpr std::string_view payment_voided = "payment_voided";
inline constexpr std::string_view payment_failed = "payment_failed";
inline constexpr std::string_view payment_captured = "payment_captured";
inline constexpr std::string_view order_id_missing = "order_id_missing";
inline constexpr std::string_view method_missing = "method_missing";
inline constexpr std::string_view capture_id_missing = "capture_id_missing";
inline constexpr std::string_view refund_id_missing = "refund_id_missing";
inline constexpr std::string_view reason_missing = "reason_missing";
inline constexpr std::string_view amount_not_positive = "amount_not_positive";
inline constexpr std::string_view currency_invalid = "currency_invalid";
inline constexpr std::string_view currency_mismatch = "currency_mismatch";
inline constexpr std::string_view capture_exceeds_authorized = "capture_exceeds_authorized";
inline constexpr std::string_view refund_exceeds_captured = "refund_exceeds_captured";
inline constexpr std::string_view capture_duplicate = "capture_duplicate";
inline constexpr std::string_view refund_duplicate = "refund_duplicate";

/// Reserves `amount` on the customer's `method` (e.g. "card", "paypal") for `order_id`.
/// The currency must be an ISO 4217 code (three upper-case letters), the amount positive.
struct authorize {
  std::string order_id;
  money amount;
  std::string method;
};
BOOST_DESCRIBE_STRUCT(authorize, (), (order_id, amount, method))

/// Takes `amount` of the authorized money; `capture_id` names this capture (once only).
struct capture {
  std::string capture_id;
  money amount;
};
BOOST_DESCRIBE_STRUCT(capture, (), (capture_id, amount))

/// Returns `amount` of the captured money; `refund_id` names this refund (once only).
struct refund {
  std::string refund_id;
  money amount;
};
BOOST_DESCRIBE_STRUCT(refund, (), (refund_id, amount))

/// Releases an authorization from which nothing was captured.
struct void_authorization {};
BOOST_DESCRIBE_STRUCT(void_authorization, (), ())

/// Records that the payment failed (declined, expired); `reason` must be non-empty.
struct fail {
  std::string reason;
};
BOOST_DESCRIBE_STRUCT(fail, (), (reason))

using command = std::variant<authorize, capture, refund, void_authorization, fail>;

// Events are the storage contract. Version history: every event is still at v1, the shape
// it was introduced with.

/// "PaymentAuthorized" v1.
struct authorized {
  std::string order_id;
  money amount;
  std::string method;
};
BOOST_DESCRIBE_STRUCT(authorized, (), (order_id, amount, method))

/// "PaymentCaptured" v1.
struct captured {
  std::string capture_id;
  money amount;
};
BOOST_DESCRIBE_STRUCT(captured, (), (capture_id, amount))

/// "PaymentRefunded" v1.
struct refunded {
  std::string refund_id;
  money amount;
};
BOOST_DESCRIBE_STRUCT(refunded, (), (refund_id, amount))

/// "PaymentVoided" v1.
struct voided {};
BOOST_DESCRIBE_STRUCT(voided, (), ())

/// "PaymentFailed" v1.
struct failed {
  std::string reason;
};
BOOST_DESCRIBE_STRUCT(failed, (), (reason))

using event = std::variant<authorized, captured, refunded, voided, failed>;

enum class status : std::uint8_t { none, authorized, voided, failed };
BOOST_DESCRIBE_ENUM(status, none, authorized, voided, failed)

/// The decision state of one payment (also its snapshot shape, see
/// `payment::state_version`). Amounts are minor units of `currency`.
struct state {
  payments::status current = status::none;
  std::string currency;
  std::int64_t authorized_minor = 0;
  std::int64_t captured_minor = 0;
  std::int64_t refunded_minor = 0;
  std::vector<std::string> capture_ids;  ///< Captures taken, in order.
  std::vector<std::string> refund_ids;   ///< Refunds given, in order.
};
BOOST_DESCRIBE_STRUCT(state, (),
                      (current, currency, authorized_minor, captured_minor, refunded_minor,
                       capture_ids, refund_ids))

/// The Payment decider (see `strata::is_decider`).
struct payment {
  static constexpr std::string_view type = "Payment";
  using state = payments::state;
  using command = payments::command;
  using event = payments::event;
  static constexpr std::uint32_t state_version = 1;

  static state initial() { return {}; }

  /// Events for `cmd` on `s`, or a rejection with one of the codes above. Never throws.
  static decision<event> decide(const state& s, const command& cmd, const context& ctx);

  /// Applies `e` to `s`. Total: any event applies to any state (sums saturate instead of
  /// overflowing).
  static state evolve(state s, const event& e) noexcept;

  /// Wire names and current versions.
  static const schema<event>& events();
};

static_assert(is_decider_v<payment>);

}  // namespace strata::payments
