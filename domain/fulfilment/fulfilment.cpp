#include "strata/domain/fulfilment/fulfilment.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

#include "strata/domain/kernel/visit.hpp"

namespace strata::fulfilment {
namespace {

bool is_currency_code(const std::string& c) {
  return c.size() == 3 && std::all_of(c.begin(), c.end(), [](char ch) {
           return std::isupper(static_cast<unsigned char>(ch)) != 0;
         });
}

bool all_lines_decided(const state& s) {
  return std::all_of(s.lines.begin(), s.lines.end(),
                     [](const auto& l) { return l.second.status != reservation::pending; });
}

bool any_line(const state& s, reservation r) {
  return std::any_of(s.lines.begin(), s.lines.end(),
                     [r](const auto& l) { return l.second.status == r; });
}

// Compensation may cancel the order once nothing is held any more.
bool is_undone(const state& s) {
  const bool payment_settled = s.payment != payment_status::authorized &&
                               s.payment != payment_status::captured &&
                               s.payment != payment_status::capture_failed;
  return payment_settled && !any_line(s, reservation::reserved);
}

void fail(state& s, const std::string& code, const std::string& reason) {
  if (s.failure_code.empty()) {
    s.failure_code = code;
    s.failure_reason = reason;
  }
  s.current = phase::compensating;
}

// Checks shared by every record_* command: the fulfilment exists and has not finished.
std::optional<rejection> unless_running(const state& s) {
  if (s.current == phase::none)
    return reject(fulfilment_not_started, "the fulfilment has not been started");
  return std::nullopt;
}

rejection not_due(const state& s, std::string_view what) {
  if (is_finished(s)) return reject(fulfilment_finished, "the fulfilment has finished");
  return reject(step_not_due, std::string{what} + " is not due in phase " +
                                  std::string{boost::describe::enum_to_string(s.current, "?")});
}

decision<event> decide_start(const state& s, const start& c, const context& ctx) {
  if (s.current != phase::none) return {};  // started already: the same start again
  if (c.order_id.empty()) return reject(order_id_missing, "a fulfilment needs an order id");
  if (!ctx.aggregate_id.empty() && c.order_id != ctx.aggregate_id)
    return reject(order_id_mismatch, "fulfilment " + std::string{ctx.aggregate_id} +
                                         " cannot fulfil order " + c.order_id);
  if (c.lines.empty()) return reject(lines_missing, "a fulfilment needs at least one line");
  for (std::size_t i = 0; i < c.lines.size(); ++i) {
    const auto& l = c.lines[i];
    if (l.sku.empty()) return reject(sku_missing, "a line needs a sku");
    if (l.quantity <= 0)
      return reject(quantity_not_positive, "the quantity of " + l.sku + " must be positive");
    for (std::size_t j = 0; j < i; ++j)
      if (c.lines[j].sku == l.sku)
        return reject(sku_duplicate, "sku " + l.sku + " is listed twice");
  }
  if (!is_currency_code(c.amount.currency))
    return reject(currency_invalid, "'" + c.amount.currency + "' is not an ISO 4217 currency code");
  if (c.amount.minor <= 0) return reject(amount_not_positive, "the amount must be positive");
  if (c.payment_method.empty())
    return reject(method_missing, "a fulfilment needs a payment method");
  return started{c.order_id, c.lines, c.amount, c.payment_method};
}

// A reservation outcome for `sku`: unknown skus are rejected, decided ones are no-ops.
template <class Event>
decision<event> decide_reservation(const state& s, const std::string& sku, Event e) {
  if (auto r = unless_running(s)) return std::move(*r);
  auto it = s.lines.find(sku);
  if (it == s.lines.end()) return reject(sku_unknown, "sku " + sku + " is not on the fulfilment");
  if (it->second.status != reservation::pending) return {};
  if (s.current != phase::reserving) return not_due(s, "a reservation");
  return e;
}

// A payment outcome due in `due`, already recorded once the payment left `before`.
template <class Event>
decision<event> decide_payment(const state& s, phase due, payment_status before, Event e,
                               std::string_view what) {
  if (auto r = unless_running(s)) return std::move(*r);
  if (s.current == due && s.payment == before) return e;
  if (static_cast<int>(s.current) > static_cast<int>(due) ||
      (s.current == due && s.payment != before))
    return {};  // recorded already (or the fulfilment moved past it)
  return not_due(s, what);
}

decision<event> decide_release(const state& s, const record_released& c) {
  if (auto r = unless_running(s)) return std::move(*r);
  auto it = s.lines.find(c.sku);
  if (it == s.lines.end()) return reject(sku_unknown, "sku " + c.sku + " is not on the fulfilment");
  if (it->second.status == reservation::released) return {};
  if (s.current != phase::compensating || it->second.status != reservation::reserved)
    return not_due(s, "a release of " + c.sku);
  return reservation_released{c.sku};
}

decision<event> decide_void(const state& s) {
  if (auto r = unless_running(s)) return std::move(*r);
  if (s.payment == payment_status::voided) return {};
  if (s.current != phase::compensating ||
      (s.payment != payment_status::authorized && s.payment != payment_status::capture_failed))
    return not_due(s, "a void");
  return payment_voided{};
}

decision<event> decide_refund(const state& s) {
  if (auto r = unless_running(s)) return std::move(*r);
  if (s.payment == payment_status::refunded) return {};
  if (s.current != phase::compensating || s.payment != payment_status::captured)
    return not_due(s, "a refund");
  return payment_refunded{s.amount};
}

decision<event> decide_cancelled(const state& s, const record_cancelled& c) {
  if (auto r = unless_running(s)) return std::move(*r);
  if (s.current == phase::compensated) return {};
  if (s.current != phase::compensating || !is_undone(s))
    return not_due(s, "the cancellation of the order");
  return compensated{s.failure_reason, c.code};
}

}  // namespace

decision<event> fulfilment::decide(const state& s, const command& cmd, const context& ctx) {
  return std::visit(
      overloaded{
          [&](const start& c) { return decide_start(s, c, ctx); },
          [&](const record_reserved& c) {
            auto it = s.lines.find(c.sku);
            const std::int64_t q = it == s.lines.end() ? 0 : it->second.quantity;
            return decide_reservation(s, c.sku, stock_reserved{c.sku, q});
          },
          [&](const record_reservation_refused& c) -> decision<event> {
            if (c.reason.empty()) return reject(reason_missing, "a refusal needs a reason");
            return decide_reservation(s, c.sku, reservation_refused{c.sku, c.code, c.reason});
          },
          [&](const record_authorized&) {
            return decide_payment(s, phase::authorizing, payment_status::none,
                                  payment_authorized{s.amount}, "an authorization");
          },
          [&](const record_declined& c) -> decision<event> {
            if (c.reason.empty()) return reject(reason_missing, "a decline needs a reason");
            return decide_payment(s, phase::authorizing, payment_status::none,
                                  payment_declined{c.code, c.reason}, "an authorization");
          },
          [&](const record_captured&) {
            return decide_payment(s, phase::capturing, payment_status::authorized,
                                  payment_captured{s.amount}, "a capture");
          },
          [&](const record_capture_failed& c) -> decision<event> {
            if (c.reason.empty()) return reject(reason_missing, "a failed capture needs a reason");
            return decide_payment(s, phase::capturing, payment_status::authorized,
                                  capture_failed{c.code, c.reason}, "a capture");
          },
          [&](const record_ready&) -> decision<event> {
            if (auto r = unless_running(s)) return std::move(*r);
            if (s.current == phase::completed) return {};
            if (s.current != phase::readying) return not_due(s, "marking the order ready");
            return completed{};
          },
          [&](const record_ready_refused& c) -> decision<event> {
            if (c.reason.empty()) return reject(reason_missing, "a refusal needs a reason");
            if (auto r = unless_running(s)) return std::move(*r);
            if (s.current != phase::readying) {
              if (s.current == phase::compensating || is_finished(s)) return {};
              return not_due(s, "marking the order ready");
            }
            return ready_refused{c.code, c.reason};
          },
          [&](const record_released& c) { return decide_release(s, c); },
          [&](const record_voided&) { return decide_void(s); },
          [&](const record_refunded&) { return decide_refund(s); },
          [&](const record_cancelled& c) { return decide_cancelled(s, c); },
      },
      cmd);
}

state fulfilment::evolve(state s, const event& e) noexcept {
  std::visit(overloaded{
                 [&](const started& x) {
                   s.order_id = x.order_id;
                   s.amount = x.amount;
                   s.payment_method = x.payment_method;
                   s.lines.clear();
                   for (const auto& l : x.lines) s.lines[l.sku] = line_state{l.quantity};
                   s.current = s.lines.empty() ? phase::authorizing : phase::reserving;
                 },
                 [&](const stock_reserved& x) {
                   if (auto it = s.lines.find(x.sku); it != s.lines.end())
                     it->second.status = reservation::reserved;
                 },
                 [&](const reservation_refused& x) {
                   if (auto it = s.lines.find(x.sku); it != s.lines.end())
                     it->second.status = reservation::refused;
                   if (s.failure_code.empty()) {
                     s.failure_code = x.code;
                     s.failure_reason = x.sku + ": " + x.reason;
                   }
                 },
                 [&](const payment_authorized&) {
                   s.payment = payment_status::authorized;
                   s.current = phase::capturing;
                 },
                 [&](const payment_declined& x) {
                   s.payment = payment_status::declined;
                   fail(s, x.code, "payment declined: " + x.reason);
                 },
                 [&](const payment_captured&) {
                   s.payment = payment_status::captured;
                   s.current = phase::readying;
                 },
                 [&](const capture_failed& x) {
                   s.payment = payment_status::capture_failed;
                   fail(s, x.code, "capture failed: " + x.reason);
                 },
                 [&](const completed&) { s.current = phase::completed; },
                 [&](const ready_refused& x) { fail(s, x.code, "order not ready: " + x.reason); },
                 [&](const reservation_released& x) {
                   if (auto it = s.lines.find(x.sku); it != s.lines.end())
                     it->second.status = reservation::released;
                 },
                 [&](const payment_voided&) { s.payment = payment_status::voided; },
                 [&](const payment_refunded&) { s.payment = payment_status::refunded; },
                 [&](const compensated&) { s.current = phase::compensated; },
             },
             e);
  // The reservations decide where the fulfilment goes once the last line has an outcome.
  if (s.current == phase::reserving && all_lines_decided(s)) {
    if (any_line(s, reservation::refused))
      s.current = phase::compensating;
    else
      s.current = phase::authorizing;
  }
  return s;
}

const schema<event>& fulfilment::events() {
  static const schema<event> s =
      schema<event>::builder()
          .event<started>("FulfilmentStarted", 1)
          .event<stock_reserved>("FulfilmentStockReserved", 1)
          .event<reservation_refused>("FulfilmentReservationRefused", 1)
          .event<payment_authorized>("FulfilmentPaymentAuthorized", 1)
          .event<payment_declined>("FulfilmentPaymentDeclined", 1)
          .event<payment_captured>("FulfilmentPaymentCaptured", 1)
          .event<capture_failed>("FulfilmentCaptureFailed", 1)
          .event<completed>("FulfilmentCompleted", 1)
          .event<ready_refused>("FulfilmentReadyRefused", 1)
          .event<reservation_released>("FulfilmentReservationReleased", 1)
          .event<payment_voided>("FulfilmentPaymentVoided", 1)
          .event<payment_refunded>("FulfilmentPaymentRefunded", 1)
          .event<compensated>("FulfilmentCompensated", 1)
          .build();
  return s;
}

}  // namespace strata::fulfilment
