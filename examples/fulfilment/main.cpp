// The fulfilment demo: a host program that runs the order-fulfilment process. It stocks
// two SKUs, then places and confirms two orders: the first is fulfilled end to end (stock
// reserved, payment authorized and captured, order ready to ship); the second wants more
// than is left, so its reservation is released and the order cancelled. It prints every
// step the process takes, the final states, and the story of each fulfilment told by its
// events (type, aggregate, correlation id, causation id).
//
// Its files (fulfilment-demo.db, fulfilment-demo-read.db) are made fresh in the working
// directory on every run.
//
//   fulfilment_demo

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <strata/domain/fulfilment/fulfilment.hpp>
#include <strata/domain/fulfilment/processes/fulfilment_process.hpp>
#include <strata/domain/inventory/inventory_item.hpp>
#include <strata/domain/orders/order.hpp>
#include <strata/domain/payments/payment.hpp>
#include <strata/runtime/runtime.hpp>

using namespace strata;
using saga = fulfilment::fulfilment;

namespace {

std::mutex print_mutex;

template <class E>
const char* name(E e) {
  return boost::describe::enum_to_string(e, "?");
}

bool accepted(const char* what, const command_result& r) {
  std::printf("  %-34s -> %s\n", what, to_string(r).c_str());
  return r.is_accepted();
}

bool wait_finished(runtime& rt, const std::string& order) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    auto v = rt.current_state<saga>(order).get();
    if (v && fulfilment::is_finished(v->state)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// The events of one fulfilment from every aggregate it touched, in global order.
std::vector<event_info> story(runtime& rt, const std::string& order,
                              const std::vector<std::string>& skus) {
  const version all{1'000'000};
  std::vector<event_info> out;
  auto add = [&](auto&& f) {
    auto r = f.get();
    if (r)
      for (auto& e : *r)
        if (e.info.correlation_id == order) out.push_back(std::move(e.info));
  };
  add(rt.history<orders::order>(order, version{1}, all));
  add(rt.history<saga>(order, version{1}, all));
  add(rt.history<payments::payment>(fulfilment::payment_id(order), version{1}, all));
  for (const auto& sku : skus) add(rt.history<inventory::inventory_item>(sku, version{1}, all));
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.position.value < b.position.value; });
  return out;
}

void print_story(runtime& rt, const std::string& order, const std::vector<std::string>& skus) {
  auto events = story(rt, order, skus);
  std::map<std::string, std::string> label;  // event id -> "#position"
  for (const auto& e : events) label[e.event_id] = "#" + std::to_string(e.position.value);
  std::printf("\nThe story of %s (correlation id %s):\n", order.c_str(), order.c_str());
  std::printf("  %-5s %-32s %-24s %-8s %s\n", "pos", "event", "aggregate", "caused by",
              "command id");
  for (const auto& e : events) {
    const auto cause = label.find(e.causation_id);
    const std::string by =
        e.causation_id.empty() ? "-" : (cause == label.end() ? e.causation_id : cause->second);
    std::printf("  #%-4llu %-32s %-24s %-9s %s\n",
                static_cast<unsigned long long>(e.position.value), e.event_type.c_str(),
                (e.aggregate_type + "-" + e.aggregate_id).c_str(), by.c_str(),
                e.command_id.c_str());
  }
}

}  // namespace

int main() {
  std::remove("fulfilment-demo.db");
  std::remove("fulfilment-demo-read.db");
  runtime_config config;
  config.journal.sqlite.path = "fulfilment-demo.db";
  config.projections.path = "fulfilment-demo-read.db";
  config.metrics.enabled = false;
  auto rt = runtime::start(config);
  if (!rt) {
    std::fprintf(stderr, "cannot start: %s\n", to_string(rt.err()).c_str());
    return 1;
  }
  if (auto r = register_fulfilment_aggregates(**rt); !r) {
    std::fprintf(stderr, "cannot register: %s\n", to_string(r.err()).c_str());
    return 1;
  }

  fulfilment_options options;
  options.on_answer = [](const std::string& command_id, const command_result& r) {
    std::lock_guard<std::mutex> lock(print_mutex);
    std::printf("  process: %-40s -> %s\n", command_id.c_str(), to_string(r).c_str());
    return true;
  };
  auto pm = start_fulfilment(**rt, options);
  if (!pm) {
    std::fprintf(stderr, "cannot start the process: %s\n", to_string(pm.err()).c_str());
    return 1;
  }

  std::printf("Stocking the warehouse:\n");
  bool ok = accepted("receive 10 x mug",
                     (*rt)->send<inventory::inventory_item>("mug", inventory::receive{10}).get());
  ok = accepted("receive 3 x lamp",
                (*rt)->send<inventory::inventory_item>("lamp", inventory::receive{3}).get()) &&
       ok;

  struct demo_order {
    std::string id;
    std::vector<orders::line> lines;
  };
  const std::vector<demo_order> placed = {
      {"order-1", {{"mug", 2, money{1200, "EUR"}}, {"lamp", 1, money{4500, "EUR"}}}},
      {"order-2", {{"mug", 1, money{1200, "EUR"}}, {"lamp", 5, money{4500, "EUR"}}}},
  };
  for (const auto& o : placed) {
    std::printf("\nPlacing and confirming %s:\n", o.id.c_str());
    command_metadata m;
    m.user_id = "customer-7";
    m.correlation_id = o.id;  // the whole story of the order shares it
    {
      std::lock_guard<std::mutex> lock(print_mutex);
      ok = accepted("place",
                    (*rt)
                        ->send<orders::order>(o.id, orders::place{"customer-7", "EUR", o.lines}, m)
                        .get()) &&
           ok;
      ok = accepted("confirm", (*rt)->send<orders::order>(o.id, orders::confirm{}, m).get()) && ok;
    }
    if (!wait_finished(**rt, o.id)) {
      std::fprintf(stderr, "%s did not finish\n", o.id.c_str());
      return 1;
    }
  }

  std::printf("\nFinal states:\n");
  for (const auto& o : placed) {
    auto f = (*rt)->current_state<saga>(o.id).get();
    auto order = (*rt)->current_state<orders::order>(o.id).get();
    auto pay = (*rt)->current_state<payments::payment>(fulfilment::payment_id(o.id)).get();
    if (!f || !order || !pay) return 1;
    std::printf("  %s: fulfilment %s%s%s, order %s, payment %s (captured %lld)\n", o.id.c_str(),
                name(f->state.current), f->state.failure_reason.empty() ? "" : " because ",
                f->state.failure_reason.c_str(), name(order->state.current),
                name(pay->state.current), static_cast<long long>(pay->state.captured_minor));
  }
  for (const char* sku : {"mug", "lamp"}) {
    auto s = (*rt)->current_state<inventory::inventory_item>(sku).get();
    if (!s) return 1;
    std::printf("  %s: on hand %lld, reserved %lld\n", sku,
                static_cast<long long>(s->state.on_hand),
                static_cast<long long>(s->state.reserved));
  }
  print_story(**rt, "order-1", {"mug", "lamp"});
  print_story(**rt, "order-2", {"mug", "lamp"});

  pm->reset();
  (*rt)->stop();
  return ok ? 0 : 1;
}
