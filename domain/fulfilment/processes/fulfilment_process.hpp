#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "strata/domain/fulfilment/fulfilment.hpp"
#include "strata/domain/fulfilment/plan.hpp"
#include "strata/domain/payments/payment.hpp"
#include "strata/runtime/process_manager.hpp"
#include "strata/runtime/runtime.hpp"

namespace strata {

/// How the fulfilment process runs (see docs/FULFILMENT.md).
struct fulfilment_options {
  /// The payment method of an order; null: "card" for every order.
  std::function<std::string(const std::string& order_id)> payment_method;

  /// The payment provider's answer to an authorization: a decline reason, or nullopt to
  /// approve (null: approve everything). A declined authorization is recorded as a Payment
  /// `fail` sent under the authorization's command id, so that whichever of the two reached
  /// the Payment first is the only one ever applied. Called on a worker thread, possibly
  /// again for the same order after a crash: it must answer the same for the same order.
  std::function<std::optional<std::string>(const payments::authorize&)> provider;

  /// Called on a worker thread after every answered command the process sent (a step, the
  /// record of its outcome, or the start), with its command id and result; returning false
  /// halts the manager right there, as if the process had died (a seam for crash tests).
  std::function<bool(const std::string& command_id, const command_result& r)> on_answer;

  /// Recorded as the user of every command the process sends.
  std::string user_id = "fulfilment";

  /// How long a round waits for one answer before it tries again later.
  std::chrono::milliseconds answer_timeout{30000};
};

/// The order-fulfilment process: started by "OrderConfirmed", it drives one Fulfilment
/// aggregate per order (id = order id) through `fulfilment::next_steps`, sending each step
/// to its InventoryItem, Payment or Order and recording each outcome in the Fulfilment; it
/// finishes with "FulfilmentCompleted" or "FulfilmentCompensated".
///
/// Every command carries correlation id = the order id and causation id = the event id
/// that made it due (the OrderConfirmed for the start, the Fulfilment's latest event for a
/// step, the step's own event for the record of its outcome).
///
/// Thread-safety: as `process_definition`.
class fulfilment_process final : public process_definition {
 public:
  explicit fulfilment_process(fulfilment_options options = {});

  std::string_view name() const override { return "fulfilment"; }
  std::vector<std::string> handles() const override;
  std::optional<std::string> started_by(const persistence::event_record& r) const override;
  std::optional<std::string> finished_by(const persistence::event_record& r) const override;
  process_progress advance(runtime& rt, const std::string& id, const std::string& cause) override;

 private:
  fulfilment_options options_;
};

/// Registers the aggregates the fulfilment process needs: Order, Payment, InventoryItem and
/// Fulfilment. Errors: as `runtime::register_aggregate` (e.g. one registered already).
result<void> register_fulfilment_aggregates(runtime& rt);

/// Starts the fulfilment process on `rt` (see `process_manager::start`).
/// REQUIRES: the aggregates above are registered; `rt` outlives the manager.
result<std::unique_ptr<process_manager>> start_fulfilment(runtime& rt,
                                                          fulfilment_options options = {},
                                                          process_options process = {});

}  // namespace strata
