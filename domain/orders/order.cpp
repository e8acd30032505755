#include "strata/domain/orders/order.hpp"

#include <limits>
#include <stdexcept>
#include <utility>

#include "strata/domain/kernel/arithmetic.hpp"
#include "strata/domain/kernel/visit.hpp"

namespace strata::orders {
namespace {

using i64 = std::int64_t;

// The rejection for changing lines of an order that is not open, if any.
std::optional<rejection> unless_open(const state& s) {
  switch (s.current) {
    case status::none:
      return reject(order_not_placed, "the order has not been placed");
    case status::open:
      return std::nullopt;
    case status::confirmed:
    case status::ready_to_ship:
      return reject(order_already_confirmed, "the order is confirmed; its lines are final");
    case status::shipped:
      return reject(order_shipped, "the order has shipped");
    case status::cancelled:
      return reject(order_cancelled, "the order is cancelled");
  }
  return reject(order_not_placed, "unknown order status");
}

// The rejection for fulfilment steps (mark_ready, ship) on an order not yet confirmed or
// already finished, if any.
std::optional<rejection> unless_confirmed(const state& s) {
  switch (s.current) {
    case status::none:
      return reject(order_not_placed, "the order has not been placed");
    case status::open:
      return reject(order_not_confirmed, "the order is not confirmed yet");
    case status::confirmed:
    case status::ready_to_ship:
      return std::nullopt;
    case status::shipped:
      return reject(order_shipped, "the order has shipped");
    case status::cancelled:
      return reject(order_cancelled, "the order is cancelled");
  }
  return reject(order_not_placed, "unknown order status");
}

std::optional<rejection> check_line(const line& l, std::string_view currency) {
  if (l.sku.empty()) return reject(sku_missing, "a line needs a sku");
  if (l.quantity <= 0)
    return reject(quantity_not_positive,
                  "quantity of " + l.sku + " must be positive, is " + std::to_string(l.quantity));
  if (l.unit_price.minor < 0)
    return reject(price_negative, "unit price of " + l.sku + " is negative");
  if (l.unit_price.currency != currency)
    return reject(currency_mismatch, "unit price of " + l.sku + " is in '" + l.unit_price.currency +
                                         "', the order is in " + std::string{currency});
  return std::nullopt;
}

decision<event> decide_place(const state& s, const place& c) {
  if (s.current != status::none) return reject(order_already_placed, "the order is already placed");
  if (c.customer_id.empty()) return reject(customer_missing, "an order needs a customer id");
  if (!is_currency_code(c.currency))
    return reject(currency_invalid, "'" + c.currency + "' is not an ISO 4217 currency code");
  std::optional<i64> total = 0;
  for (std::size_t i = 0; i < c.lines.size(); ++i) {
    const line& l = c.lines[i];
    if (auto r = check_line(l, c.currency)) return std::move(*r);
    for (std::size_t j = 0; j < i; ++j)
      if (c.lines[j].sku == l.sku)
        return reject(sku_duplicate, "sku " + l.sku + " is listed twice");
    auto sub = checked_mul(l.quantity, l.unit_price.minor);
    total = sub ? checked_add(*total, *sub) : std::nullopt;
    if (!total) return reject(total_overflow, "the order total does not fit in 64 bits");
  }
  return placed{c.customer_id, c.currency, c.lines, money{*total, c.currency}};
}

decision<event> decide_add(const state& s, const add_item& c) {
  if (auto r = unless_open(s)) return std::move(*r);
  if (auto r = check_line(c.item, s.currency)) return std::move(*r);
  if (auto it = s.lines.find(c.item.sku); it != s.lines.end()) {
    if (it->second.unit_price_minor != c.item.unit_price.minor)
      return reject(sku_price_mismatch, "sku " + c.item.sku + " is on the order at another price");
    if (!checked_add(it->second.quantity, c.item.quantity))
      return reject(total_overflow, "the quantity of " + c.item.sku + " does not fit in 64 bits");
  }
  auto sub = checked_mul(c.item.quantity, c.item.unit_price.minor);
  if (!sub || !checked_add(s.total_minor, *sub))
    return reject(total_overflow, "the order total does not fit in 64 bits");
  return item_added{c.item};
}

decision<event> decide_remove(const state& s, const remove_item& c) {
  if (auto r = unless_open(s)) return std::move(*r);
  if (s.lines.find(c.sku) == s.lines.end())
    return reject(sku_unknown, "sku " + c.sku + " is not on the order");
  return item_removed{c.sku};
}

decision<event> decide_confirm(const state& s) {
  if (auto r = unless_open(s)) return std::move(*r);
  if (s.lines.empty()) return reject(order_empty, "an order without lines cannot be confirmed");
  return confirmed{};
}

decision<event> decide_mark_ready(const state& s) {
  if (auto r = unless_confirmed(s)) return std::move(*r);
  if (s.current == status::ready_to_ship) return {};  // already ready: nothing changes
  return marked_ready{};
}

decision<event> decide_cancel(const state& s, const cancel& c) {
  switch (s.current) {
    case status::none:
      return reject(order_not_placed, "the order has not been placed");
    case status::shipped:
      return reject(order_shipped, "a shipped order cannot be cancelled");
    case status::cancelled:
      return reject(order_cancelled, "the order is already cancelled");
    case status::open:
    case status::confirmed:
    case status::ready_to_ship:
      break;
  }
  if (c.reason.empty()) return reject(reason_missing, "a cancellation needs a reason");
  return cancelled{c.reason};
}

decision<event> decide_ship(const state& s, const ship& c) {
  if (auto r = unless_confirmed(s)) return std::move(*r);
  return shipped{c.carrier, c.tracking_number};
}

// The upcasters build their objects in the memory of the body they were given (the
// schema's parse buffer while an aggregate loads): no allocation of their own.
boost::json::object usd(const boost::json::value& minor, const boost::json::storage_ptr& sp) {
  boost::json::object o(sp);
  o.reserve(2);
  o.emplace("minor", boost::json::value_to<i64>(minor));
  o.emplace("currency", "USD");
  return o;
}

std::vector<raw_event> upcast_placed_v1(boost::json::object o) {
  i64 total = 0;
  for (auto& l : o.at("lines").as_array()) {
    auto& lo = l.as_object();
    i64 price = boost::json::value_to<i64>(lo.at("unit_price"));
    lo["unit_price"] = usd(price, o.storage());
    if (!o.contains("total")) {
      auto sub = checked_mul(boost::json::value_to<i64>(lo.at("quantity")), price);
      auto sum = sub ? checked_add(total, *sub) : std::nullopt;
      if (!sum) throw std::overflow_error("OrderPlaced v1 total does not fit in 64 bits");
      total = *sum;
    }
  }
  o["total"] = o.contains("total") ? usd(o.at("total"), o.storage()) : usd(total, o.storage());
  o["currency"] = "USD";
  std::vector<raw_event> out;
  out.push_back(raw_event{"OrderPlaced", 2, std::move(o)});
  return out;
}

std::vector<raw_event> upcast_item_added_v1(boost::json::object o) {
  const auto& sp = o.storage();
  boost::json::object item(sp);
  item.reserve(3);
  item.emplace("sku", o.at("sku"));
  item.emplace("quantity", o.at("quantity"));
  item.emplace("unit_price", usd(o.at("unit_price"), sp));
  boost::json::object body(sp);
  body.emplace("item", std::move(item));
  // Moved, not listed in braces: an initializer list copies, and an assignment into an
  // object of other memory copies too.
  std::vector<raw_event> out;
  out.push_back(raw_event{"ItemAdded", 2, std::move(body)});
  return out;
}

}  // namespace

decision<event> order::decide(const state& s, const command& cmd, const context&) {
  return std::visit(overloaded{
                        [&](const place& c) { return decide_place(s, c); },
                        [&](const add_item& c) { return decide_add(s, c); },
                        [&](const remove_item& c) { return decide_remove(s, c); },
                        [&](const confirm&) { return decide_confirm(s); },
                        [&](const mark_ready&) { return decide_mark_ready(s); },
                        [&](const cancel& c) { return decide_cancel(s, c); },
                        [&](const ship& c) { return decide_ship(s, c); },
                    },
                    cmd);
}

state order::evolve(state s, const event& e) noexcept {
  std::visit(overloaded{
                 [&](const placed& p) {
                   s.current = status::open;
                   s.currency = p.currency;
                   s.total_minor = p.total.minor;
                   s.lines.clear();
                   for (const auto& l : p.lines) {
                     auto& ls = s.lines[l.sku];
                     ls.quantity = saturating_add(ls.quantity, l.quantity);
                     ls.unit_price_minor = l.unit_price.minor;
                   }
                 },
                 [&](const item_added& a) {
                   auto& ls = s.lines[a.item.sku];
                   ls.quantity = saturating_add(ls.quantity, a.item.quantity);
                   ls.unit_price_minor = a.item.unit_price.minor;
                   s.total_minor = saturating_add(
                       s.total_minor, saturating_mul(a.item.quantity, a.item.unit_price.minor));
                 },
                 [&](const item_removed& r) {
                   auto it = s.lines.find(r.sku);
                   if (it == s.lines.end()) return;
                   i64 sub = saturating_mul(it->second.quantity, it->second.unit_price_minor);
                   s.total_minor = saturating_sub(s.total_minor, sub);
                   s.lines.erase(it);
                 },
                 [&](const confirmed&) { s.current = status::confirmed; },
                 [&](const marked_ready&) { s.current = status::ready_to_ship; },
                 [&](const cancelled&) { s.current = status::cancelled; },
                 [&](const shipped&) { s.current = status::shipped; },
             },
             e);
  return s;
}

const schema<event>& order::events() {
  static const schema<event> s = schema<event>::builder()
                                     .event<placed>("OrderPlaced", 2)
                                     .event<item_added>("ItemAdded", 2)
                                     .event<item_removed>("ItemRemoved", 1)
                                     .event<confirmed>("OrderConfirmed", 1)
                                     .event<marked_ready>("OrderMarkedReady", 1)
                                     .event<cancelled>("OrderCancelled", 1)
                                     .event<shipped>("OrderShipped", 1)
                                     .upcast("OrderPlaced", 1, upcast_placed_v1)
                                     .upcast("ItemAdded", 1, upcast_item_added_v1)
                                     .build();
  return s;
}

}  // namespace strata::orders
