// The host the crash tests kill: a program of the public API that runs the shop (orders,
// payments, inventory, the fulfilment process and three read models) on the journal a
// configuration file names, and takes commands from a driver over its standard streams.
//
//   strata-crash-host serve   CONFIG   commands on stdin, one answer per line on stdout
//   strata-crash-host settle  CONFIG   runs until the journal is quiet and every read model
//                                      and fulfilment has caught up, then stops cleanly
//   strata-crash-host rebuild CONFIG   builds the read models from position 0 into the
//                                      read-model store CONFIG names, then stops
//
// A command line is `<command id> <kind> <aggregate id> [<argument>]`, with kinds
// `place ORDER SKU`, `add ORDER SKU`, `confirm ORDER` and `receive SKU QUANTITY`. Its answer
// is `<command id> <status> <duplicate 0|1> <event count> <event id>,...` (`-` for none).
// `ready` is written once the runtime is up; every line is flushed as it is written.
//
// Exit codes: 0 done, 2 bad usage or configuration, 3 the runtime could not start or settle.

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "strata/domain/fulfilment/processes/fulfilment_process.hpp"
#include "strata/domain/inventory/inventory_item.hpp"
#include "strata/domain/inventory/read_models/inventory_levels.hpp"
#include "strata/domain/orders/order.hpp"
#include "strata/domain/orders/read_models/order_summary.hpp"
#include "strata/domain/payments/read_models/payments_ledger.hpp"
#include "strata/runtime/runtime.hpp"

using namespace strata;

namespace {

std::mutex out_mutex;

void answer(const std::string& command_id, const command_result& r) {
  std::string line = command_id + " " + std::string{to_string(r.status)} + " " +
                     (r.duplicate ? "1" : "0") + " " + std::to_string(r.records.size()) + " ";
  if (r.records.empty()) line += "-";
  for (std::size_t i = 0; i < r.records.size(); ++i) {
    if (i > 0) line += ",";
    line += r.records[i].event_id;
  }
  line += "\n";
  std::lock_guard<std::mutex> lock(out_mutex);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

orders::line one_of(const std::string& sku) {
  return orders::line{sku, 1, money{100, "EUR"}};
}

/// Sends one command line; false for a line that names no known kind.
bool dispatch(runtime& rt, const std::string& text) {
  std::istringstream in{text};
  std::string id, kind, target, arg;
  in >> id >> kind >> target >> arg;
  if (id.empty() || target.empty()) return false;
  command_metadata m;
  m.command_id = id;
  m.user_id = "crash-driver";
  m.correlation_id = target;
  auto done = [id](command_result r) { answer(id, r); };
  if (kind == "place") {
    rt.send<orders::order>(target, orders::place{"c-" + target, "EUR", {one_of(arg)}}, m, done);
  } else if (kind == "add") {
    rt.send<orders::order>(target, orders::add_item{one_of(arg)}, m, done);
  } else if (kind == "confirm") {
    rt.send<orders::order>(target, orders::confirm{}, m, done);
  } else if (kind == "receive") {
    rt.send<inventory::inventory_item>(target, inventory::receive{std::stoi(arg)}, m, done);
  } else {
    return false;
  }
  return true;
}

result<void> add_read_models(runtime& rt, projection_start how) {
  if (auto r = rt.add_projection(std::make_shared<read_models::order_summary_projection>(), how);
      !r)
    return r;
  if (auto r = rt.add_projection(std::make_shared<read_models::inventory_levels_projection>(), how);
      !r)
    return r;
  return rt.add_projection(std::make_shared<read_models::payments_ledger_projection>(), how);
}

const std::vector<std::string_view> read_model_names = {
    read_models::order_summary_projection::projection_name,
    read_models::inventory_levels_projection::projection_name,
    read_models::payments_ledger_projection::projection_name,
};

/// Waits until every read model has applied the journal's last position, read through
/// `projection_lag`. Errors: `timeout` after `limit`.
result<global_position> wait_read_models(runtime& rt, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    global_position head{0};
    bool caught_up = true;
    for (auto name : read_model_names) {
      auto lag = rt.projection_lag(name);
      if (!lag) return std::move(lag).err();
      if (lag->head.value > head.value) head = lag->head;
      if (lag->position.value < lag->head.value) caught_up = false;
    }
    if (caught_up) {
      bool all = true;
      for (auto name : read_model_names)
        if (!rt.wait_for(name, head, std::chrono::milliseconds(100))) all = false;
      if (all) return head;
    }
    if (std::chrono::steady_clock::now() > deadline)
      return error{errc::timeout, "read models did not catch up"};
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll interval
  }
}

int fail(const char* what, const error& e) {
  std::fprintf(stderr, "strata-crash-host: %s: %s\n", what, to_string(e).c_str());
  return 3;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: strata-crash-host serve|settle|rebuild CONFIG\n");
    return 2;
  }
  const std::string mode = argv[1];
  auto config = load_config(argv[2]);
  if (!config) {
    std::fprintf(stderr, "strata-crash-host: %s\n", to_string(config.err()).c_str());
    return 2;
  }
  auto started = runtime::start(*config);
  if (!started) return fail("start", started.err());
  runtime& rt = **started;
  if (auto r = register_fulfilment_aggregates(rt); !r) return fail("register", r.err());

  if (mode == "rebuild") {
    if (auto r = add_read_models(rt, projection_start::rebuild); !r)
      return fail("add read models", r.err());
    auto head = wait_read_models(rt, std::chrono::seconds(120));
    if (!head) return fail("rebuild", head.err());
    std::printf("rebuilt %llu\n", static_cast<unsigned long long>(head->value));
    rt.stop();
    return 0;
  }

  if (auto r = add_read_models(rt, projection_start::resume); !r)
    return fail("add read models", r.err());
  auto pm = start_fulfilment(rt);
  if (!pm) return fail("start fulfilment", pm.err());

  if (mode == "settle") {
    // Quiet means: every read model at the journal's head, no fulfilment left in flight,
    // and the head unchanged across one more round of both.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    global_position last{~std::uint64_t{0}};
    for (;;) {
      auto head = wait_read_models(rt, std::chrono::seconds(60));
      if (!head) return fail("settle", head.err());
      if ((*pm)->active() == 0 && head->value == last.value) {
        std::printf("settled %llu\n", static_cast<unsigned long long>(head->value));
        break;
      }
      last = *head;
      if (std::chrono::steady_clock::now() > deadline)
        return fail("settle", error{errc::timeout, "fulfilments did not finish"});
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // poll interval
    }
    (*pm)->stop();
    rt.stop();
    return 0;
  }

  if (mode != "serve") {
    std::fprintf(stderr, "strata-crash-host: unknown mode '%s'\n", mode.c_str());
    return 2;
  }
  {
    std::lock_guard<std::mutex> lock(out_mutex);
    std::fputs("ready\n", stdout);
    std::fflush(stdout);
  }
  std::string line;
  while (std::getline(std::cin, line)) {
    if (!dispatch(rt, line)) {
      std::fprintf(stderr, "strata-crash-host: malformed command line '%s'\n", line.c_str());
      return 2;
    }
  }
  (*pm)->stop();
  rt.stop();
  return 0;
}
