// The `projection` workload, in two parts:
//   catch-up: the order-summary projection over N Order events (1,000,000 by default) in an
//     SQLite journal filled by batched appends straight into the journal, through
//     a `persistence::projection_runner` into an SQLite read model and, with --pg, into a
//     PostgreSQL one (schema bench_projection_read) from the same journal (no actor system);
//   lag: commands at a steady rate through the runtime (SQLite FULL journal) with the
//     projection registered; for each accepted command, the time from its reply to the moment
//     `runtime::wait_for` sees its position applied in the read model.

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "strata/domain/orders/read_models/order_summary.hpp"
#include "strata/persistence/postgres/postgres_projection_store.hpp"
#include "strata/persistence/projection_runner.hpp"
#include "strata/persistence/read_model.hpp"
#include "strata/persistence/sqlite_journal.hpp"
#include "strata/persistence/sqlite_projection_store.hpp"
#include "strata/runtime/runtime.hpp"
#include "tools/bench/common.hpp"
#include "tools/bench/driver.hpp"
#include "tools/bench/journal_tools.hpp"

namespace strata::bench {
namespace {

/// Checks one order of the read model against what its stream holds.
void check_summary(read_model_reader& store, const std::string& order_id,
                   const std::string& customer, const order_data& data, std::uint64_t items,
                   const std::string& how) {
  auto found = read_models::find_order(store, order_id);
  check(found && found->has_value(), how + ": order " + order_id + " missing in the read model");
  const auto& s = **found;
  const std::int64_t total = added_total(data, 0, items);
  check(s.total_minor == total, how + ": " + order_id + " total " + std::to_string(s.total_minor) +
                                    ", expected " + std::to_string(total));
  check(s.item_count == static_cast<std::int64_t>(items),
        how + ": " + order_id + " has " + std::to_string(s.item_count) + " items, expected " +
            std::to_string(items));
  check(s.status == "open" && s.currency == data.currency() && s.customer_id == customer,
        how + ": " + order_id + " has the wrong status, currency or customer");
}

/// Throughput of one catch-up run.
struct catch_up_stats {
  std::size_t events = 0;  ///< Records applied (or passed over) by the run.
  std::size_t parked = 0;
  global_position position;  ///< The checkpoint at the end.
  std::int64_t duration_ns = 0;
  double events_per_second() const noexcept {
    return duration_ns > 0 ? static_cast<double>(events) * 1e9 / static_cast<double>(duration_ns)
                           : 0.0;
  }
};

/// Catches projection `p` up over journal `j` into `store` from its checkpoint to the head,
/// with no actor system; the time excludes opening the runner (setup, checkpoint load).
/// Dead letters are stamped by the machine's clock, as a runtime would.
result<catch_up_stats> timed_catch_up(persistence::journal& j,
                                      std::shared_ptr<persistence::projection> p,
                                      std::unique_ptr<persistence::projection_store> store,
                                      std::size_t batch) {
  persistence::projection_runner runner{std::move(p), std::move(store),
                                        persistence::poison_policy::park_and_continue,
                                        std::make_shared<system_clock>()};
  if (auto s = runner.start(); !s) return std::move(s).err();
  const auto started = now_ns();  // elapsed time only (a steady clock), never a timestamp
  auto out = runner.catch_up(j, batch);
  if (!out) return std::move(out).err();
  catch_up_stats stats;
  stats.duration_ns = now_ns() - started;
  stats.events = out->applied;
  stats.parked = out->parked;
  stats.position = runner.position().position;
  return stats;
}

std::int64_t count_rows(read_model_reader& store, const std::string& what) {
  auto rows = store.query_one<std::int64_t>("SELECT count(*) FROM order_summary");
  check(rows && rows->has_value(), what + ": cannot count the read model");
  return **rows;
}

/// The order-summary projection bound to the Order schema, as a runtime that registered
/// Order would bind it.
std::shared_ptr<persistence::projection> order_summaries() {
  static event_catalog catalog;
  static const bool filled = (catalog.add<orders::order>(), true);
  (void)filled;
  auto p = bind_projection(std::make_shared<read_models::order_summary_projection>(), catalog);
  check(static_cast<bool>(p), "projection: bind order_summary");
  return std::move(*p);
}

/// A fresh read-model database of one backend for the catch-up case.
struct read_model_target {
  std::string name;  ///< "sqlite-normal" or "postgres".
  std::function<std::unique_ptr<persistence::projection_store>()> open;
  std::function<double()> bytes;  ///< Size of the read model on disk (0: not measured).
  std::function<void()> remove;
};

read_model_target sqlite_target(const std::string& path) {
  remove_db(path);
  persistence::sqlite_projection_store_options po;
  po.path = path;
  return {"sqlite-normal",
          [po] {
            auto store = persistence::sqlite_projection_store::open(po);
            check(static_cast<bool>(store), "projection: open read-model store");
            return std::unique_ptr<persistence::projection_store>{std::move(*store)};
          },
          [path] { return static_cast<double>(file_bytes(path)); }, [path] { remove_db(path); }};
}

read_model_target postgres_target(const std::string& conninfo, const std::string& schema) {
  postgres_drop_schema(conninfo, schema);
  persistence::postgres_projection_store_options po;
  po.conninfo = conninfo;
  po.schema = schema;
  return {"postgres",
          [po] {
            auto store = persistence::postgres_projection_store::open(po);
            check(static_cast<bool>(store), "projection: open PostgreSQL read-model store: " +
                                                (store ? std::string{} : to_string(store.err())));
            return std::unique_ptr<persistence::projection_store>{std::move(*store)};
          },
          [] { return 0.0; }, [conninfo, schema] { postgres_drop_schema(conninfo, schema); }};
}

/// Catches the order-summary read model up over journal `j` (`events` events over `streams`
/// orders, stream heads `heads`) into a fresh `target`, checks it and emits its line.
void catch_up_into(const options& o, persistence::journal& j, read_model_target target,
                   std::uint64_t events, std::size_t streams,
                   const std::vector<std::uint64_t>& heads, double fill_s, double read_s) {
  const order_data data{o.seed};
  std::fprintf(stderr, "[projection] catch-up of order_summary into %s\n", target.name.c_str());
  const double cpu0 = cpu_seconds();
  const auto t0 = now_ns();
  auto stats = timed_catch_up(j, order_summaries(), target.open(), 1000);
  const double seconds = static_cast<double>(now_ns() - t0) / 1e9;
  check(static_cast<bool>(stats),
        "projection: catch_up failed: " + (stats ? std::string{} : to_string(stats.err())));
  check(stats->events == events, "projection: catch_up applied " + std::to_string(stats->events) +
                                     " events, expected " + std::to_string(events));
  check(stats->parked == 0, "projection: catch_up parked " + std::to_string(stats->parked));
  check(stats->position.value == events, "projection: checkpoint at " +
                                             std::to_string(stats->position.value) + ", expected " +
                                             std::to_string(events));

  // Verification on a fresh connection: one row per order, sampled orders exact.
  auto check_store = std::make_unique<read_model_reader>(target.open());
  auto cp = check_store->connection().load_checkpoint(
      read_models::order_summary_projection::projection_name);
  check(cp && cp->position.value == events, "projection: stored checkpoint is wrong");
  const auto rows = count_rows(*check_store, "projection");
  check(rows == static_cast<std::int64_t>(std::min<std::uint64_t>(streams, events)),
        "projection: read model holds " + std::to_string(rows) + " orders");
  for (std::size_t k = 0; k < streams; k += std::max<std::size_t>(1, streams / 20)) {
    if (heads[k] == 0) continue;
    check_summary(*check_store, "pc-" + std::to_string(k), "customer-" + std::to_string(k % 997),
                  data, heads[k] - 1, "projection catch-up");
  }
  check_store.reset();

  result_line line;
  line.workload = "projection";
  line.name = "order_summary catch-up";
  line.param("events", static_cast<double>(events))
      .param("orders", static_cast<double>(streams))
      .param("batch", 1000)
      .param("journal", std::string{"sqlite-normal"})
      .param("read_model", target.name);
  line.figure("seconds", seconds)
      .figure("events_s", static_cast<double>(events) / seconds)
      .figure("catch_up_events_s", stats->events_per_second())
      .figure("journal_fill_events_s", static_cast<double>(events) / fill_s)
      .figure("journal_read_events_s", static_cast<double>(events) / read_s)
      .process(cpu0);
  if (const double bytes = target.bytes(); bytes > 0) line.figure("db_bytes", bytes);
  emit(line);
  if (!o.keep_files) target.remove();
}

void catch_up_case(const options& o, std::uint64_t events,
                   const std::vector<std::string>& read_models) {
  const std::size_t streams = o.quick ? 200 : 10000;
  const order_data data{o.seed};
  const std::string path = o.dir + "/projection-journal.db";
  auto factory = fresh_sqlite_journal(path, false);
  auto j = factory->open();
  check(static_cast<bool>(j), "projection: open journal");
  std::fprintf(stderr, "[projection] filling the journal: %llu events over %zu orders\n",
               static_cast<unsigned long long>(events), streams);
  const auto fill0 = now_ns();
  const auto heads = append_orders(**j, data, events, streams, "pc-");
  const double fill_s = static_cast<double>(now_ns() - fill0) / 1e9;

  // The journal read alone, as catch-up does it (batches of 1000 from the checkpoint): the
  // ceiling of catch-up through this journal.
  const auto read0 = now_ns();
  std::uint64_t read_events = 0;
  for (global_position after{};;) {
    auto batch = (*j)->read_all(after, 1000);
    check(static_cast<bool>(batch), "projection: read_all failed");
    if (batch->empty()) break;
    read_events += batch->size();
    after = batch->back().position;
  }
  const double read_s = static_cast<double>(now_ns() - read0) / 1e9;
  check(read_events == events,
        "projection: the journal read returned " + std::to_string(read_events) + " events");

  for (const auto& rm : read_models) {
    if (rm == "sqlite") {
      catch_up_into(o, **j, sqlite_target(o.dir + "/projection-read.db"), events, streams, heads,
                    fill_s, read_s);
    } else if (rm == "postgres") {
      if (o.pg.empty()) {
        std::fprintf(stderr, "[projection] postgres read model skipped (no --pg conninfo)\n");
        continue;
      }
      catch_up_into(o, **j, postgres_target(o.pg, "bench_projection_read"), events, streams, heads,
                    fill_s, read_s);
    } else {
      fail("projection: unknown read-model backend '" + rm + "' (sqlite, postgres)");
    }
  }
  j->reset();
  if (!o.keep_files) remove_db(path);
}

/// An accepted command waiting for the read model.
struct pending {
  std::uint64_t position = 0;
  std::int64_t accepted_ns = 0;
};

void lag_case(const options& o, double rate, std::size_t commands) {
  const std::size_t streams = o.quick ? 50 : 1000;
  const order_data data{o.seed};
  const std::string path = o.dir + "/projection-lag.db";
  auto cfg = bench_config();
  remove_db(cfg.projections.path);
  auto factory = fresh_sqlite_journal(path, true);
  const std::string name{read_models::order_summary_projection::projection_name};
  const std::string label = "order_summary lag @" + std::to_string(static_cast<long>(rate)) + "/s";
  {
    auto rt = runtime::start(cfg, with_journal(factory));
    check(static_cast<bool>(rt), "projection lag: runtime start");
    runtime& r = **rt;
    check(static_cast<bool>(r.register_aggregate<orders::order>()), "register Order");
    check(static_cast<bool>(
              r.add_projection(std::make_shared<read_models::order_summary_projection>())),
          "projection lag: add_projection");
    auto placed = drive(streams, 256, [&](std::size_t i, command_callback done) {
      r.send<orders::order>(data.order_id(i), data.place(i), {}, std::move(done));
    });
    check(placed.other == 0, "projection lag: place not accepted: " + placed.first_other);
    auto last = factory->open();
    check(static_cast<bool>(last), "projection lag: open journal");
    auto head = (*last)->last_position();
    check(head && head->value == streams, "projection lag: journal head after placing");
    check(static_cast<bool>(r.wait_for(name, *head, std::chrono::seconds(60))),
          "projection lag: read model did not catch up with the placed orders");

    std::mutex m;
    std::condition_variable cv;
    std::deque<pending> queue;
    std::size_t answered = 0;
    std::size_t not_accepted = 0;
    std::string first_other;
    std::vector<std::int64_t> command_ns(commands, 0);
    std::vector<std::int64_t> lag_ns;
    lag_ns.reserve(commands);
    std::size_t wait_failures = 0;
    std::string first_wait_failure;

    // The observer: waits for each accepted command's position in turn. Positions are applied
    // in global order, so once one returns, the earlier ones have been applied too.
    std::thread observer([&] {
      for (std::size_t seen = 0; seen < commands;) {
        pending p;
        {
          std::unique_lock<std::mutex> lock{m};
          cv.wait(lock, [&] { return !queue.empty() || answered == commands; });
          if (queue.empty()) break;  // every command answered, nothing left to observe
          p = queue.front();
          queue.pop_front();
        }
        ++seen;
        auto w = r.wait_for(name, global_position{p.position}, std::chrono::seconds(30));
        const auto t = now_ns();
        if (!w) {
          if (wait_failures++ == 0) first_wait_failure = to_string(w.err());
          continue;
        }
        lag_ns.push_back(t - p.accepted_ns);
      }
    });

    const double cpu0 = cpu_seconds();
    const auto t0 = now_ns();
    const double interval_ns = 1e9 / rate;
    for (std::size_t i = 0; i < commands; ++i) {
      const auto due = t0 + static_cast<std::int64_t>(static_cast<double>(i) * interval_ns);
      while (now_ns() < due) {
        const auto ahead = due - now_ns();
        if (ahead > 200000) std::this_thread::sleep_for(std::chrono::nanoseconds(ahead - 100000));
      }
      const auto sent = now_ns();
      command_metadata meta;
      meta.user_id = "bench";
      r.send<orders::order>(data.order_id(i % streams), data.add(i / streams), std::move(meta),
                            [&, i, sent](command_result res) {
                              const auto t = now_ns();
                              std::lock_guard<std::mutex> lock{m};
                              command_ns[i] = t - sent;
                              if (res.is_accepted()) {
                                queue.push_back({res.position.value, t});
                              } else {
                                if (not_accepted++ == 0) first_other = to_string(res);
                              }
                              ++answered;
                              cv.notify_all();
                            });
    }
    const double send_seconds = static_cast<double>(now_ns() - t0) / 1e9;
    observer.join();
    const double seconds = static_cast<double>(now_ns() - t0) / 1e9;
    check(not_accepted == 0, label + ": a command was not accepted: " + first_other);
    check(wait_failures == 0, label + ": wait_for failed: " + first_wait_failure);
    check(lag_ns.size() == commands, label + ": observed " + std::to_string(lag_ns.size()) +
                                         " of " + std::to_string(commands) + " commands");

    auto reader = r.open_read_models();
    check(static_cast<bool>(reader), "projection lag: open_read_models");
    for (std::size_t s = 0; s < streams; s += std::max<std::size_t>(1, streams / 20)) {
      const std::uint64_t items = commands / streams + (s < commands % streams ? 1 : 0);
      check_summary(*reader, data.order_id(s), "customer-" + std::to_string(s % 997), data, items,
                    label);
    }
    const auto cl = summarize(command_ns);
    result_line line;
    line.workload = "projection";
    line.name = label;
    line.param("commands", static_cast<double>(commands))
        .param("orders", static_cast<double>(streams))
        .param("offered_commands_s", rate)
        .param("journal", std::string{"sqlite-full"})
        .param("read_model", std::string{"sqlite-normal"});
    line.figure("seconds", seconds)
        .figure("achieved_commands_s", static_cast<double>(commands) / send_seconds)
        .figure("command_p50_ms", cl.p50_ms)
        .figure("command_p99_ms", cl.p99_ms);
    const auto ll = summarize(lag_ns);
    line.figure("lag_p50_ms", ll.p50_ms)
        .figure("lag_p95_ms", ll.p95_ms)
        .figure("lag_p99_ms", ll.p99_ms)
        .figure("lag_max_ms", ll.max_ms)
        .process(cpu0);
    emit(line);
    r.stop();
  }
  if (!o.keep_files) {
    remove_db(path);
    remove_db(cfg.projections.path);
  }
}

}  // namespace

void run_projection(const options& o, std::uint64_t events, double rate, std::size_t commands,
                    const std::vector<std::string>& read_models) {
  if (o.quick) {
    events = std::min<std::uint64_t>(events, 20000);
    rate = std::min(rate, 1000.0);
    commands = std::min<std::size_t>(commands, 500);
  }
  catch_up_case(o, events, read_models);
  if (commands > 0) lag_case(o, rate, commands);
}

}  // namespace strata::bench
