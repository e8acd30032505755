#include "strata/domain/payments/payment.hpp"

#include <algorithm>
#include <limits>
#include <optional>
#include <utility>

#include "strata/domain/kernel/arithmetic.hpp"
#include "strata/domain/kernel/visit.hpp"

namespace strata::payments {
namespace {

using i64 = std::int64_t;

bool contains(const std::vector<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// The rejection for moving money on a payment that is not (or no longer) authorized.
std::optional<rejection> unless_authorized(const state& s) {
  switch (s.current) {
    case status::none:
      return reject(payment_not_authorized, "the payment has not been authorized");
    case status::authorized:
      return std::nullopt;
    case status::voided:
      return reject(payment_voided, "the payment was voided");
    case status::failed:
      return reject(payment_failed, "the payment failed");
  }
  return reject(payment_not_authorized, "unknown payment status");
}

std::optional<rejection> check_amount(const state& s, const money& amount) {
  if (amount.currency != s.currency)
    return reject(currency_mismatch,
                  "amount is in '" + amount.currency + "', the payment is in " + s.currency);
  if (amount.minor <= 0) return reject(amount_not_positive, "the amount must be positive");
  return std::nullopt;
}

decision<event> decide_authorize(const state& s, const authorize& c) {
  if (s.current == status::voided) return reject(payment_voided, "the payment was voided");
  if (s.current == status::failed) return reject(payment_failed, "the payment failed");
  if (s.current == status::authorized)
    return reject(payment_already_authorized, "the payment is already authorized");
  if (c.order_id.empty()) return reject(order_id_missing, "an authorization needs an order id");
  if (c.method.empty()) return reject(method_missing, "an authorization needs a payment method");
  if (!is_currency_code(c.amount.currency))
    return reject(currency_invalid, "'" + c.amount.currency + "' is not an ISO 4217 currency code");
  if (c.amount.minor <= 0) return reject(amount_not_positive, "the amount must be positive");
  return authorized{c.order_id, c.amount, c.method};
}

decision<event> decide_capture(const state& s, const capture& c) {
  if (auto r = unless_authorized(s)) return std::move(*r);
  if (c.capture_id.empty()) return reject(capture_id_missing, "a capture needs a capture id");
  if (contains(s.capture_ids, c.capture_id))
    return reject(capture_duplicate, "capture " + c.capture_id + " was already taken");
  if (auto r = check_amount(s, c.amount)) return std::move(*r);
  // captured <= authorized always holds, so the difference cannot overflow.
  if (c.amount.minor > s.authorized_minor - s.captured_minor)
    return reject(capture_exceeds_authorized,
                  "capturing " + std::to_string(c.amount.minor) + " would exceed the authorized " +
                      std::to_string(s.authorized_minor) + " (already captured " +
                      std::to_string(s.captured_minor) + ")");
  return captured{c.capture_id, c.amount};
}

decision<event> decide_refund(const state& s, const refund& c) {
  if (auto r = unless_authorized(s)) return std::move(*r);
  if (c.refund_id.empty()) return reject(refund_id_missing, "a refund needs a refund id");
  if (contains(s.refund_ids, c.refund_id))
    return reject(refund_duplicate, "refund " + c.refund_id + " was already given");
  if (auto r = check_amount(s, c.amount)) return std::move(*r);
  if (c.amount.minor > s.captured_minor - s.refunded_minor)
    return reject(refund_exceeds_captured,
                  "refunding " + std::to_string(c.amount.minor) + " would exceed the captured " +
                      std::to_string(s.captured_minor) + " (already refunded " +
                      std::to_string(s.refunded_minor) + ")");
  return refunded{c.refund_id, c.amount};
}

decision<event> decide_void(const state& s) {
  if (auto r = unless_authorized(s)) return std::move(*r);
  if (s.captured_minor > 0)
    return reject(payment_captured, "money was captured; refund it instead of voiding");
  return voided{};
}

decision<event> decide_fail(const state& s, const fail& c) {
  if (s.current == status::voided) return reject(payment_voided, "the payment was voided");
  if (s.current == status::failed) return reject(payment_failed, "the payment already failed");
  if (s.captured_minor > 0)
    return reject(payment_captured, "money was captured; the payment can no longer fail");
  if (c.reason.empty()) return reject(reason_missing, "a failure needs a reason");
  return failed{c.reason};
}

}  // namespace

decision<event> payment::decide(const state& s, const command& cmd, const context&) {
  return std::visit(overloaded{
                        [&](const authorize& c) { return decide_authorize(s, c); },
                        [&](const capture& c) { return decide_capture(s, c); },
                        [&](const refund& c) { return decide_refund(s, c); },
                        [&](const void_authorization&) { return decide_void(s); },
                        [&](const fail& c) { return decide_fail(s, c); },
                    },
                    cmd);
}

state payment::evolve(state s, const event& e) noexcept {
  std::visit(overloaded{
                 [&](const authorized& a) {
                   s.current = status::authorized;
                   s.currency = a.amount.currency;
                   s.authorized_minor = a.amount.minor;
                 },
                 [&](const captured& c) {
                   s.captured_minor = saturating_add(s.captured_minor, c.amount.minor);
                   s.capture_ids.push_back(c.capture_id);
                 },
                 [&](const refunded& r) {
                   s.refunded_minor = saturating_add(s.refunded_minor, r.amount.minor);
                   s.refund_ids.push_back(r.refund_id);
                 },
                 [&](const voided&) { s.current = status::voided; },
                 [&](const failed&) { s.current = status::failed; },
             },
             e);
  return s;
}

const schema<event>& payment::events() {
  static const schema<event> s = schema<event>::builder()
                                     .event<authorized>("PaymentAuthorized", 1)
                                     .event<captured>("PaymentCaptured", 1)
                                     .event<refunded>("PaymentRefunded", 1)
                                     .event<voided>("PaymentVoided", 1)
                                     .event<failed>("PaymentFailed", 1)
                                     .build();
  return s;
}

}  // namespace strata::payments
