// The orders demo: a host program that embeds strata on its default journal (an SQLite file,
// strata.db, in the working directory). It places, fills, confirms and ships a few orders,
// shows a rejected command, then restarts the runtime and prints the state rehydrated from
// the journal, and answers queries from the order-summary read model that a projection keeps
// (strata-read.db), exactly once, from the committed events.
//
//   orders_demo [--config strata.json]
//
// Everything it runs on comes from the configuration file (strata::load_config): with
// examples/orders/postgres.json its journal and its read models are in PostgreSQL.

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <strata/domain/orders/order.hpp>
#include <strata/domain/orders/read_models/order_summary.hpp>
#include <strata/runtime/runtime.hpp>

using namespace strata;

namespace {

void show(const std::string& what, const command_result& r) {
  std::printf("  %-44s -> %s\n", what.c_str(), to_string(r).c_str());
}

std::string describe(const orders::state& s) {
  static const char* names[] = {"none",          "open",    "confirmed",
                                "ready_to_ship", "shipped", "cancelled"};
  std::string out = names[static_cast<int>(s.current)];
  out += ", " + std::to_string(s.lines.size()) + " line(s), total " +
         std::to_string(s.total_minor / 100) + "." + (s.total_minor % 100 < 10 ? "0" : "") +
         std::to_string(s.total_minor % 100) + " " + s.currency;
  return out;
}

// Where the journal and the read models are (a connection string may hold a password: only
// the schema of a PostgreSQL database is shown).
std::string describe_journal(const journal_config& j) {
  if (j.backend == journal_backend::postgres)
    return "journal in PostgreSQL (schema " + j.postgres.schema + ")";
  if (j.backend == journal_backend::memory) return "journal in memory";
  return "journal " + j.sqlite.path + " (sqlite), synchronous=" + config_name(j.sqlite.synchronous);
}

std::string describe_read_models(const projections_config& p) {
  if (p.backend == projections_backend::postgres)
    return "read models in PostgreSQL (schema " + p.postgres.schema + ")";
  return "read models " + p.path + " (sqlite)";
}

orders::line item(std::string sku, std::int64_t qty, std::int64_t cents) {
  return orders::line{std::move(sku), qty, money{cents, "EUR"}};
}

result<std::unique_ptr<runtime>> boot(const runtime_config& config) {
  auto rt = runtime::start(config);
  if (!rt) return rt;
  if (auto r = (*rt)->register_aggregate<orders::order>(); !r) return std::move(r).err();
  if (auto r = (*rt)->add_projection(std::make_shared<read_models::order_summary_projection>()); !r)
    return std::move(r).err();
  return rt;
}

}  // namespace

int main(int argc, char** argv) {
  runtime_config config;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
      auto loaded = load_config(argv[++i]);
      if (!loaded) {
        std::fprintf(stderr, "orders_demo: %s\n", to_string(loaded.err()).c_str());
        return 2;
      }
      config = *loaded;
    } else {
      std::fprintf(stderr, "usage: orders_demo [--config FILE]\n");
      return 2;
    }
  }
  config.metrics.enabled = false;  // the demo does not serve metrics

  // Ids unique to this run, so the demo can be run again on the same file.
  const auto run = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
  const std::vector<std::string> ids = {"order-" + run + "-a", "order-" + run + "-b",
                                        "order-" + run + "-c"};

  std::printf("strata orders demo: %s, %s\n\n", describe_journal(config.journal).c_str(),
              describe_read_models(config.projections).c_str());
  {
    auto rt = boot(config);
    if (!rt) {
      std::fprintf(stderr, "orders_demo: cannot start: %s\n", to_string(rt.err()).c_str());
      return 1;
    }
    auto& r = **rt;
    command_metadata meta;
    meta.user_id = "demo-user";
    meta.correlation_id = "demo-" + run;

    std::printf("commands:\n");
    show("place " + ids[0],
         r.send<orders::order>(ids[0], orders::place{"customer-1", "EUR", {item("book", 2, 1999)}},
                               meta)
             .get());
    show("add 1 x lamp to " + ids[0],
         r.send<orders::order>(ids[0], orders::add_item{item("lamp", 1, 4500)}, meta).get());
    show("confirm " + ids[0], r.send<orders::order>(ids[0], orders::confirm{}, meta).get());
    show("ship " + ids[0],
         r.send<orders::order>(ids[0], orders::ship{std::string{"DHL"}, std::string{"JJD000123"}},
                               meta)
             .get());

    show("place " + ids[1] + " (no lines)",
         r.send<orders::order>(ids[1], orders::place{"customer-2", "EUR", {}}, meta).get());
    show("confirm " + ids[1] + " (empty: rejected)",
         r.send<orders::order>(ids[1], orders::confirm{}, meta).get());
    show("add 3 x pen to " + ids[1],
         r.send<orders::order>(ids[1], orders::add_item{item("pen", 3, 250)}, meta).get());
    show("confirm " + ids[1], r.send<orders::order>(ids[1], orders::confirm{}, meta).get());

    show("place " + ids[2],
         r.send<orders::order>(ids[2], orders::place{"customer-3", "EUR", {item("mug", 4, 800)}},
                               meta)
             .get());
    show("ship " + ids[2] + " (not confirmed: rejected)",
         r.send<orders::order>(ids[2], orders::ship{}, meta).get());
    show("cancel " + ids[2],
         r.send<orders::order>(ids[2], orders::cancel{"customer changed their mind"}, meta).get());
    show("add 1 x cup to " + ids[2] + " (cancelled: rejected)",
         r.send<orders::order>(ids[2], orders::add_item{item("cup", 1, 300)}, meta).get());

    // Read your writes: wait until the projection has applied the last accepted event.
    auto last = r.send<orders::order>(ids[1], orders::add_item{item("pen", 1, 250)}, meta).get();
    show("add 1 x pen to " + ids[1] + " (confirmed: rejected)", last);
    auto head = r.history<orders::order>(ids[2], version{1}, version{100}).get();
    if (head && !head->empty()) {
      const auto caught_up = r.wait_for(read_models::order_summary_projection::projection_name,
                                        head->back().info.position, std::chrono::seconds(10));
      std::printf("\nread model (order_summary), caught up: %s\n",
                  caught_up ? "yes" : to_string(caught_up.err()).c_str());
      if (auto store = r.open_read_models()) {
        for (const char* status : {"shipped", "confirmed", "cancelled"}) {
          auto rows = read_models::orders_by_status(*store, status);
          if (!rows) continue;
          for (const auto& row : *rows)
            if (row.order_id.find(run) != std::string::npos)
              std::printf("  %-10s %s\n", status, read_models::to_string(row).c_str());
        }
      }
    }

    std::printf("\nlive state:\n");
    for (const auto& id : ids) {
      auto v = r.current_state<orders::order>(id).get();
      if (v)
        std::printf("  %-24s v%llu %s\n", id.c_str(), static_cast<unsigned long long>(v->at.value),
                    describe(v->state).c_str());
    }
    r.stop();
  }

  std::printf("\nruntime stopped; starting a new one on the same journal...\n\n");
  auto rt = boot(config);
  if (!rt) {
    std::fprintf(stderr, "orders_demo: cannot restart: %s\n", to_string(rt.err()).c_str());
    return 1;
  }
  std::printf("state rehydrated from the journal:\n");
  int status = 0;
  for (const auto& id : ids) {
    auto v = (*rt)->current_state<orders::order>(id).get();
    if (!v) {
      std::printf("  %-24s error: %s\n", id.c_str(), to_string(v.err()).c_str());
      status = 1;
      continue;
    }
    std::printf("  %-24s v%llu %s\n", id.c_str(), static_cast<unsigned long long>(v->at.value),
                describe(v->state).c_str());
  }
  return status;
}
