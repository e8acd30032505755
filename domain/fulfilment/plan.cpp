#include "strata/domain/fulfilment/plan.hpp"

#include <algorithm>
#include <utility>

namespace strata::fulfilment {
namespace {

std::string kind_name(step_kind k) {
  return boost::describe::enum_to_string(k, "step");
}

step make_step(const state& s, step_kind kind, std::string aggregate_id, step_command cmd,
               std::string sku = {}) {
  step st;
  st.kind = kind;
  st.sku = std::move(sku);
  st.aggregate_id = std::move(aggregate_id);
  st.command_id = step_command_id(s.order_id, kind, st.sku);
  st.command = std::move(cmd);
  return st;
}

bool has_event(const step_outcome& o, std::string_view type) {
  return std::find(o.event_types.begin(), o.event_types.end(), type) != o.event_types.end();
}

std::string why(const step_outcome& o) {
  return o.message.empty() ? o.code : o.message;
}

}  // namespace

std::string_view step::aggregate_type() const noexcept {
  switch (command.index()) {
    case 0:
      return inventory::inventory_item::type;
    case 1:
      return payments::payment::type;
    default:
      return orders::order::type;
  }
}

std::string payment_id(std::string_view order_id) {
  return "pay-" + std::string{order_id};
}

std::string step_command_id(std::string_view order_id, step_kind kind, std::string_view sku) {
  std::string id = "fulfil:" + std::string{order_id} + ":" + kind_name(kind);
  if (!sku.empty()) id += ":" + std::string{sku};
  return id;
}

std::string start_command_id(std::string_view order_id) {
  return "fulfil:" + std::string{order_id} + ":start";
}

std::vector<step> next_steps(const state& s) {
  std::vector<step> out;
  const std::string pay = payment_id(s.order_id);
  switch (s.current) {
    case phase::none:
    case phase::completed:
    case phase::compensated:
      break;
    case phase::reserving:
      for (const auto& [sku, l] : s.lines)
        if (l.status == reservation::pending)
          out.push_back(make_step(s, step_kind::reserve, sku,
                                  inventory::command{inventory::reserve{s.order_id, l.quantity}},
                                  sku));
      break;
    case phase::authorizing:
      out.push_back(make_step(
          s, step_kind::authorize, pay,
          payments::command{payments::authorize{s.order_id, s.amount, s.payment_method}}));
      break;
    case phase::capturing:
      out.push_back(
          make_step(s, step_kind::capture, pay,
                    payments::command{payments::capture{"capture-" + s.order_id, s.amount}}));
      break;
    case phase::readying:
      out.push_back(
          make_step(s, step_kind::mark_ready, s.order_id, orders::command{orders::mark_ready{}}));
      break;
    case phase::compensating: {
      for (const auto& [sku, l] : s.lines)
        if (l.status == reservation::reserved)
          out.push_back(make_step(s, step_kind::release, sku,
                                  inventory::command{inventory::release{s.order_id}}, sku));
      if (s.payment == payment_status::authorized || s.payment == payment_status::capture_failed)
        out.push_back(make_step(s, step_kind::void_payment, pay,
                                payments::command{payments::void_authorization{}}));
      if (s.payment == payment_status::captured)
        out.push_back(
            make_step(s, step_kind::refund, pay,
                      payments::command{payments::refund{"refund-" + s.order_id, s.amount}}));
      // The order is cancelled last, once nothing is held for it any more.
      if (out.empty()) {
        const std::string reason =
            s.failure_reason.empty() ? std::string{"fulfilment failed"} : s.failure_reason;
        out.push_back(make_step(s, step_kind::cancel_order, s.order_id,
                                orders::command{orders::cancel{reason}}));
      }
      break;
    }
  }
  return out;
}

command interpret(const step& st, const step_outcome& o) {
  switch (st.kind) {
    case step_kind::reserve:
      if (o.accepted) return record_reserved{st.sku};
      return record_reservation_refused{st.sku, o.code, why(o)};
    case step_kind::authorize:
      if (o.accepted) {
        if (has_event(o, "PaymentFailed"))
          return record_declined{std::string{payments::payment_failed},
                                 o.message.empty() ? std::string{"the payment failed"} : o.message};
        return record_authorized{};
      }
      if (o.code == payments::payment_already_authorized) return record_authorized{};
      return record_declined{o.code, why(o)};
    case step_kind::capture:
      if (o.accepted || o.code == payments::capture_duplicate) return record_captured{};
      return record_capture_failed{o.code, why(o)};
    case step_kind::mark_ready:
      if (o.accepted) return record_ready{};
      return record_ready_refused{o.code, why(o)};
    case step_kind::release:
      return record_released{st.sku};
    case step_kind::void_payment:
      return record_voided{};
    case step_kind::refund:
      return record_refunded{};
    case step_kind::cancel_order:
      if (o.accepted || o.code == orders::order_cancelled) return record_cancelled{};
      return record_cancelled{o.code};
  }
  return record_cancelled{"internal"};
}

std::string to_string(const step& st) {
  return kind_name(st.kind) + " " + std::string{st.aggregate_type()} + "-" + st.aggregate_id +
         " (" + st.command_id + ")";
}

}  // namespace strata::fulfilment
