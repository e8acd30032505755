#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "strata/domain/fulfilment/fulfilment.hpp"
#include "strata/domain/inventory/inventory_item.hpp"
#include "strata/domain/orders/order.hpp"
#include "strata/domain/payments/payment.hpp"

/// What a fulfilment does next, and what an answer means: the pure half of the fulfilment
/// process. A runner reads the Fulfilment's state, sends `next_steps(state)`, turns each
/// answer into a Fulfilment command with `interpret`, records it, and repeats until
/// `is_finished(state)`.
///
/// Every step has a deterministic command id, derived from the order id and the step
/// ("fulfil:<order>:reserve:<sku>"), so that a step sent again after a crash is recognised
/// by its target aggregate as a duplicate and never applied twice; the command that records
/// its outcome has the step's id plus ":recorded".
///
/// Pure: no I/O, no clock, no exceptions. Everything here is safe to use from any thread.
namespace strata::fulfilment {

/// The kinds of step, in the order the happy path takes them, then the compensations.
enum class step_kind : std::uint8_t {
  reserve,       ///< InventoryItem <sku>: reserve{order, quantity}.
  authorize,     ///< Payment pay-<order>: authorize{order, amount, method}.
  capture,       ///< Payment pay-<order>: capture{"capture-<order>", amount}.
  mark_ready,    ///< Order <order>: mark_ready.
  release,       ///< InventoryItem <sku>: release{order}.
  void_payment,  ///< Payment pay-<order>: void_authorization.
  refund,        ///< Payment pay-<order>: refund{"refund-<order>", amount}.
  cancel_order,  ///< Order <order>: cancel{reason of the first refusal}.
};
BOOST_DESCRIBE_ENUM(step_kind, reserve, authorize, capture, mark_ready, release, void_payment,
                    refund, cancel_order)

/// A command to another aggregate, typed by its target.
using step_command = std::variant<inventory::command, payments::command, orders::command>;

/// One command the fulfilment wants sent now.
struct step {
  step_kind kind = step_kind::reserve;
  std::string sku;           ///< For reserve and release; empty otherwise.
  std::string aggregate_id;  ///< The sku, the payment id or the order id.
  std::string command_id;    ///< Deterministic: the same step always has the same id.
  step_command command;

  /// The target's aggregate type ("InventoryItem", "Payment" or "Order").
  std::string_view aggregate_type() const noexcept;
  /// The id of the Fulfilment command that records this step's outcome.
  std::string record_command_id() const { return command_id + ":recorded"; }
};

/// The id of the order's payment: "pay-<order>".
std::string payment_id(std::string_view order_id);

/// The deterministic command id of `kind` for `order_id` ("fulfil:<order>:<kind>[:<sku>]").
std::string step_command_id(std::string_view order_id, step_kind kind, std::string_view sku = {});

/// The id of the command that starts the fulfilment of `order_id`: "fulfil:<order>:start".
std::string start_command_id(std::string_view order_id);

/// The commands due in `s`, each once: every pending reservation while reserving; then the
/// authorization, the capture, `mark_ready`; while compensating every release still due and
/// the void or refund, and once nothing is held any more the order's cancellation. Empty
/// when the fulfilment is finished or not started.
std::vector<step> next_steps(const state& s);

/// How a step's target answered, for `interpret`: accepted (with the wire names of the
/// events it appended, or of the original ones for a duplicate) or rejected with a code.
struct step_outcome {
  bool accepted = false;
  std::vector<std::string> event_types;
  std::string code;  ///< The rejection code, when rejected.
  /// The rejection message, when rejected; for an accepted "PaymentFailed", its reason.
  std::string message;
};

/// The Fulfilment command that records `outcome` of `st`. Rules:
/// - reserve: accepted (new, duplicate or the same reservation again) -> record_reserved;
///   rejected -> record_reservation_refused with the code (e.g. "insufficient_stock").
/// - authorize: accepted with a "PaymentFailed" event (the provider declined: the runner sent
///   `fail` under the authorize id), or rejected -> record_declined, except a rejection
///   "payment_already_authorized" -> record_authorized; otherwise -> record_authorized.
/// - capture: accepted or "capture_duplicate" -> record_captured; else record_capture_failed.
/// - mark_ready: accepted -> record_ready; rejected -> record_ready_refused.
/// - release, void, refund: any answer -> recorded as done (a rejection means there was
///   nothing left to undo: "reservation_unknown", "payment_voided", "refund_duplicate").
/// - cancel_order: accepted or "order_cancelled" -> record_cancelled{""}; another rejection
///   -> record_cancelled{code}.
command interpret(const step& st, const step_outcome& outcome);

/// Renders a step as "reserve InventoryItem-sku-1 (fulfil:o-1:reserve:sku-1)".
std::string to_string(const step& st);

}  // namespace strata::fulfilment
