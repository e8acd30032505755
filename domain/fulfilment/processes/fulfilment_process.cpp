#include "strata/domain/fulfilment/processes/fulfilment_process.hpp"

#include <future>
#include <utility>
#include <variant>
#include <vector>

#include "strata/domain/inventory/inventory_item.hpp"
#include "strata/domain/orders/order.hpp"

namespace strata {
namespace {

template <class... Fs>
struct overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
overloaded(Fs...) -> overloaded<Fs...>;

using saga = fulfilment::fulfilment;

// Outcomes that say nothing about the business: nothing was applied, or the caller cannot
// tell. The same command (same id) is sent again later.
bool is_transient(const command_result& r) {
  return r.status != command_status::accepted && r.status != command_status::rejected;
}

template <class T>
std::optional<T> await(std::future<T>& f, std::chrono::milliseconds timeout) {
  if (f.wait_for(timeout) != std::future_status::ready) return std::nullopt;
  return f.get();
}

command_metadata meta(const fulfilment_options& o, const std::string& order_id,
                      std::string command_id, std::string causation) {
  command_metadata m;
  m.command_id = std::move(command_id);
  m.user_id = o.user_id;
  m.correlation_id = order_id;
  m.causation_id = std::move(causation);
  return m;
}

std::future<command_result> send_step(runtime& rt, const fulfilment::step& st, command_metadata m) {
  return std::visit(overloaded{
                        [&](const inventory::command& c) {
                          return rt.send<inventory::inventory_item>(st.aggregate_id, c,
                                                                    std::move(m));
                        },
                        [&](const payments::command& c) {
                          return rt.send<payments::payment>(st.aggregate_id, c, std::move(m));
                        },
                        [&](const orders::command& c) {
                          return rt.send<orders::order>(st.aggregate_id, c, std::move(m));
                        },
                    },
                    st.command);
}

fulfilment::step_outcome outcome_of(const command_result& r) {
  fulfilment::step_outcome o;
  o.accepted = r.is_accepted();
  for (const auto& e : r.records) {
    o.event_types.push_back(e.event_type);
    if (e.event_type != "PaymentFailed") continue;
    auto decoded = payments::payment::events().decode(e.event_type, e.schema_version, e.data);
    if (decoded && decoded->size() == 1)
      if (const auto* f = std::get_if<payments::failed>(&decoded->front())) o.message = f->reason;
  }
  if (r.why) {
    o.code = r.why->code;
    o.message = r.why->message;
  }
  return o;
}

}  // namespace

fulfilment_process::fulfilment_process(fulfilment_options options) : options_(std::move(options)) {
  if (!options_.payment_method)
    options_.payment_method = [](const std::string&) { return std::string{"card"}; };
}

std::vector<std::string> fulfilment_process::handles() const {
  return {"OrderConfirmed", "FulfilmentCompleted", "FulfilmentCompensated"};
}

std::optional<std::string> fulfilment_process::started_by(
    const persistence::event_record& r) const {
  if (r.aggregate_type == orders::order::type && r.event_type == "OrderConfirmed")
    return r.aggregate_id;
  return std::nullopt;
}

std::optional<std::string> fulfilment_process::finished_by(
    const persistence::event_record& r) const {
  if (r.aggregate_type == saga::type &&
      (r.event_type == "FulfilmentCompleted" || r.event_type == "FulfilmentCompensated"))
    return r.aggregate_id;
  return std::nullopt;
}

process_progress fulfilment_process::advance(runtime& rt, const std::string& id,
                                             const std::string& cause) {
  const auto timeout = options_.answer_timeout;
  auto state_f = rt.current_state<saga>(id);
  auto view = await(state_f, timeout);
  if (!view || !*view) return process_progress::waiting;
  const fulfilment::state& s = (*view)->state;
  if (fulfilment::is_finished(s)) return process_progress::finished;

  if (s.current == fulfilment::phase::none) {
    // Start from the confirmed order: its lines are final once it is confirmed.
    auto order_f = rt.current_state<orders::order>(id);
    auto order = await(order_f, timeout);
    if (!order || !*order) return process_progress::waiting;
    const orders::state& o = (*order)->state;
    if (o.current == orders::status::none || o.current == orders::status::open)
      return process_progress::waiting;  // the confirmation is not visible yet
    fulfilment::start st;
    st.order_id = id;
    for (const auto& [sku, l] : o.lines) st.lines.push_back(fulfilment::line{sku, l.quantity});
    st.amount = money{o.total_minor, o.currency};
    st.payment_method = options_.payment_method(id);
    const std::string cmd_id = fulfilment::start_command_id(id);
    auto f = rt.send<saga>(id, st, meta(options_, id, cmd_id, cause));
    auto r = await(f, timeout);
    if (!r || is_transient(*r)) return process_progress::waiting;
    if (options_.on_answer && !options_.on_answer(cmd_id, *r)) return process_progress::halted;
    // A start the Fulfilment refuses (e.g. a free order: nothing to pay) can never run.
    return r->is_accepted() ? process_progress::progressed : process_progress::finished;
  }

  // The steps due now were caused by the Fulfilment's latest event.
  std::string due_cause = cause;
  {
    auto h = rt.history<saga>(id, (*view)->at, (*view)->at);
    auto records = await(h, timeout);
    if (!records || !*records) return process_progress::waiting;
    if (!(*records)->empty()) due_cause = (*records)->back().info.event_id;
  }

  auto steps = fulfilment::next_steps(s);
  std::vector<std::future<command_result>> answers;
  answers.reserve(steps.size());
  for (auto& st : steps) {
    if (st.kind == fulfilment::step_kind::authorize && options_.provider) {
      const auto& auth = std::get<payments::authorize>(std::get<payments::command>(st.command));
      if (auto declined = options_.provider(auth))
        st.command = payments::command{payments::fail{*declined}};
    }
    answers.push_back(send_step(rt, st, meta(options_, id, st.command_id, due_cause)));
  }

  bool retry = false;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const auto& st = steps[i];
    auto r = await(answers[i], timeout);
    if (!r || is_transient(*r)) {
      retry = true;
      continue;
    }
    if (options_.on_answer && !options_.on_answer(st.command_id, *r))
      return process_progress::halted;
    const std::string step_event = r->records.empty() ? due_cause : r->records.back().event_id;
    auto rec_f = rt.send<saga>(id, fulfilment::interpret(st, outcome_of(*r)),
                               meta(options_, id, st.record_command_id(), step_event));
    auto rec = await(rec_f, timeout);
    if (!rec || is_transient(*rec) || !rec->is_accepted()) {
      // A rejected record means the plan and the aggregate disagree: read again and retry.
      retry = true;
      continue;
    }
    if (options_.on_answer && !options_.on_answer(st.record_command_id(), *rec))
      return process_progress::halted;
  }
  return retry ? process_progress::waiting : process_progress::progressed;
}

result<void> register_fulfilment_aggregates(runtime& rt) {
  if (auto r = rt.register_aggregate<orders::order>(); !r) return r;
  if (auto r = rt.register_aggregate<payments::payment>(); !r) return r;
  if (auto r = rt.register_aggregate<inventory::inventory_item>(); !r) return r;
  return rt.register_aggregate<saga>();
}

result<std::unique_ptr<process_manager>> start_fulfilment(runtime& rt, fulfilment_options options,
                                                          process_options process) {
  return process_manager::start(rt, std::make_shared<fulfilment_process>(std::move(options)),
                                process);
}

}  // namespace strata
