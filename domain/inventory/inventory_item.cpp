#include "strata/domain/inventory/inventory_item.hpp"

#include <limits>
#include <optional>
#include <utility>

#include "strata/domain/kernel/arithmetic.hpp"
#include "strata/domain/kernel/visit.hpp"

namespace strata::inventory {
namespace {

using i64 = std::int64_t;

// Available stock without overflow, for states replayed from odd histories.
i64 available_units(const state& s) {
  return saturating_sub(s.on_hand, s.reserved);
}

decision<event> decide_receive(const state& s, const receive& c) {
  if (c.quantity <= 0) return reject(quantity_not_positive, "received quantity must be positive");
  if (!checked_add(s.on_hand, c.quantity))
    return reject(quantity_overflow, "on hand would not fit in 64 bits");
  return received{c.quantity};
}

decision<event> decide_reserve(const state& s, const reserve& c) {
  if (c.order_id.empty()) return reject(order_id_missing, "a reservation needs an order id");
  if (c.quantity <= 0) return reject(quantity_not_positive, "reserved quantity must be positive");
  if (auto it = s.reservations.find(c.order_id); it != s.reservations.end()) {
    if (it->second == c.quantity) return {};  // the same reservation again: nothing changes
    return reject(reservation_conflict, "order " + c.order_id + " already reserved " +
                                            std::to_string(it->second) + " units");
  }
  if (c.quantity > available_units(s))
    return reject(insufficient_stock, "only " + std::to_string(available_units(s)) +
                                          " units available, " + std::to_string(c.quantity) +
                                          " requested");
  return reserved{c.order_id, c.quantity};
}

decision<event> decide_release(const state& s, const release& c) {
  auto it = s.reservations.find(c.order_id);
  if (it == s.reservations.end())
    return reject(reservation_unknown, "no reservation for order '" + c.order_id + "'");
  return released{c.order_id, it->second};
}

decision<event> decide_commit(const state& s, const commit& c) {
  auto it = s.reservations.find(c.order_id);
  if (it == s.reservations.end())
    return reject(reservation_unknown, "no reservation for order '" + c.order_id + "'");
  return committed{c.order_id, it->second};
}

decision<event> decide_adjust(const state& s, const adjust& c, const context& ctx) {
  if (c.reason.empty()) return reject(reason_missing, "an adjustment needs a reason");
  if (ctx.user_id.empty())
    return reject(user_missing, "an adjustment needs a user id in its context");
  if (c.on_hand < 0) return reject(quantity_negative, "on hand cannot be negative");
  if (c.on_hand < s.reserved)
    return reject(adjustment_below_reserved, "on hand " + std::to_string(c.on_hand) +
                                                 " would be below the " +
                                                 std::to_string(s.reserved) + " reserved units");
  return adjusted{s.on_hand, c.on_hand, c.reason, std::string{ctx.user_id}};
}

}  // namespace

decision<event> inventory_item::decide(const state& s, const command& cmd, const context& ctx) {
  return std::visit(overloaded{
                        [&](const receive& c) { return decide_receive(s, c); },
                        [&](const reserve& c) { return decide_reserve(s, c); },
                        [&](const release& c) { return decide_release(s, c); },
                        [&](const commit& c) { return decide_commit(s, c); },
                        [&](const adjust& c) { return decide_adjust(s, c, ctx); },
                    },
                    cmd);
}

state inventory_item::evolve(state s, const event& e) noexcept {
  std::visit(overloaded{
                 [&](const received& r) { s.on_hand = saturating_add(s.on_hand, r.quantity); },
                 [&](const reserved& r) {
                   auto& q = s.reservations[r.order_id];
                   s.reserved = saturating_add(saturating_sub(s.reserved, q), r.quantity);
                   q = r.quantity;
                 },
                 [&](const released& r) {
                   auto it = s.reservations.find(r.order_id);
                   if (it == s.reservations.end()) return;
                   s.reserved = saturating_sub(s.reserved, it->second);
                   s.reservations.erase(it);
                 },
                 [&](const committed& c) {
                   auto it = s.reservations.find(c.order_id);
                   if (it == s.reservations.end()) return;
                   s.reserved = saturating_sub(s.reserved, it->second);
                   s.on_hand = saturating_sub(s.on_hand, it->second);
                   s.reservations.erase(it);
                 },
                 [&](const adjusted& a) { s.on_hand = a.on_hand; },
             },
             e);
  return s;
}

const schema<event>& inventory_item::events() {
  static const schema<event> s = schema<event>::builder()
                                     .event<received>("StockReceived", 1)
                                     .event<reserved>("StockReserved", 1)
                                     .event<released>("ReservationReleased", 1)
                                     .event<committed>("ReservationCommitted", 1)
                                     .event<adjusted>("StockAdjusted", 1)
                                     .build();
  return s;
}

}  // namespace strata::inventory
