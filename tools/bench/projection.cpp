// The `projection` workload, in two parts:
//   catch-up: the order-summary projection over N Order events (1,000,000 by default) in an
//     SQLite journal filled by batched appends straight into the journal, through
//     a `persistence::projection_runner` into an SQLite read model and, with --pg, into a
//     PostgreSQL one (schema bench_projection_read) from the same journal (no actor system);
//   lag: commands at a steady rate through the runtime (SQLite FULL journal) with the
//     projection registered; for each accepted command, the time from its reply to the moment
//     `runtime::wait_for` sees its position applied in the read model.

#include <sqlite3.h>

#include <algorithm>
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

/// The read model's writes alone, through the SQLite C API with the store's pragmas: the
/// ceiling of catch-up into SQLite. The order-summary tables (made by the projection's own
/// setup) are filled, untimed, with `streams` orders of `order_data::skus_per_order` lines
/// each. Then, timed, `events` events laid out as the catch-up's journal holds them (1,000 per
/// transaction: 100 orders, 10 events each): per event one keyed UPDATE of a line's quantity,
/// per order and transaction one keyed UPDATE of its row's totals, each a prepared statement
/// that the fold also runs. That is less than the fold writes (it also inserts each order's
/// first lines and row). With `multi_row`, a transaction's line writes are one multi-row
/// INSERT ... ON CONFLICT DO UPDATE instead. Returns events per second.
double read_model_write_ceiling(const std::string& path, const order_data& data,
                                std::size_t streams, std::uint64_t events, bool multi_row) {
  check(events > 0 && streams > 0, "write ceiling: no events or no orders");
  remove_db(path);
  {  // the tables, as the projection creates them
    persistence::sqlite_projection_store_options po;
    po.path = path;
    auto store = persistence::sqlite_projection_store::open(po);
    check(static_cast<bool>(store), "write ceiling: open read-model store");
    persistence::projection_runner runner{order_summaries(), std::move(*store),
                                          persistence::poison_policy::park_and_continue,
                                          std::make_shared<system_clock>()};
    check(static_cast<bool>(runner.start()), "write ceiling: set the read model up");
  }
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) fail("write ceiling: cannot open " + path);
  sq(db, "PRAGMA journal_mode=WAL");
  sq(db, "PRAGMA synchronous=NORMAL");
  sq(db, "PRAGMA cache_size=-32768");
  constexpr std::size_t per_tx = 1000;
  constexpr std::size_t orders_per_tx = 100;
  constexpr std::size_t lines = order_data::skus_per_order;
  std::vector<std::string> ids(streams);
  for (std::size_t k = 0; k < streams; ++k) ids[k] = "pc-" + std::to_string(k);
  std::vector<std::string> skus;
  for (std::size_t n = 0; n < lines; ++n) skus.push_back(data.add(n).item.sku);
  {
    sq(db, "BEGIN");
    sqlite3_stmt* row =
        prep(db,
             "INSERT INTO order_summary (order_id, customer_id, status, currency, total_minor, "
             "item_count, last_position) VALUES (?1, 'customer', 'open', ?2, 0, 0, 0)");
    sqlite3_stmt* line =
        prep(db,
             "INSERT INTO order_summary_lines (order_id, sku, quantity, unit_price_minor) VALUES "
             "(?1, ?2, 1, 100)");
    for (const auto& id : ids) {
      text(row, 1, id);
      text(row, 2, data.currency());
      step_done(db, row);
      for (const auto& sku : skus) {
        text(line, 1, id);
        text(line, 2, sku);
        step_done(db, line);
      }
    }
    sqlite3_finalize(row);
    sqlite3_finalize(line);
    sq(db, "COMMIT");
  }
  std::string lines_sql =
      "UPDATE order_summary_lines SET quantity = ? WHERE order_id = ? AND sku = ?";
  if (multi_row) {
    lines_sql =
        "INSERT INTO order_summary_lines (order_id, sku, quantity, unit_price_minor) VALUES ";
    for (std::size_t i = 0; i < per_tx; ++i)
      lines_sql += i == 0 ? "(?, ?, ?, ?)" : ", (?, ?, ?, ?)";
    lines_sql += " ON CONFLICT (order_id, sku) DO UPDATE SET quantity = excluded.quantity";
  }
  sqlite3_stmt* line = prep(db, lines_sql.c_str());
  sqlite3_stmt* totals =
      prep(db,
           "UPDATE order_summary SET total_minor = ?, item_count = ?, last_position = ? WHERE "
           "order_id = ?");
  const std::size_t per_order = per_tx / orders_per_tx;
  const auto t0 = now_ns();
  std::uint64_t done = 0;
  for (std::size_t tx = 0; done < events; ++tx) {
    sq(db, "BEGIN");
    int bound = 0;
    for (std::size_t i = 0; i < orders_per_tx && done < events; ++i) {
      const std::size_t n = tx * orders_per_tx + i;
      const std::size_t round = n / streams;  // how many times this order came before
      const std::string& id = ids[n % streams];
      for (std::size_t k = 0; k < per_order && done < events; ++k, ++done) {
        const std::string& sku = skus[(round * per_order + k) % lines];
        const auto quantity = static_cast<sqlite3_int64>(round + 2);
        if (multi_row) {
          text(line, bound + 1, id);
          text(line, bound + 2, sku);
          sqlite3_bind_int64(line, bound + 3, quantity);
          sqlite3_bind_int64(line, bound + 4, 100);
          bound += 4;
        } else {
          sqlite3_bind_int64(line, 1, quantity);
          text(line, 2, id);
          text(line, 3, sku);
          step_done(db, line);
        }
      }
      sqlite3_bind_int64(totals, 1, static_cast<sqlite3_int64>(done));
      sqlite3_bind_int64(totals, 2, static_cast<sqlite3_int64>(round));
      sqlite3_bind_int64(totals, 3, static_cast<sqlite3_int64>(done));
      text(totals, 4, id);
      step_done(db, totals);
    }
    if (multi_row) {
      for (int i = bound; i < static_cast<int>(per_tx) * 4; i += 4) {  // a short last batch
        text(line, i + 1, ids[0]);
        text(line, i + 2, skus[0]);
        sqlite3_bind_int64(line, i + 3, 1);
        sqlite3_bind_int64(line, i + 4, 100);
      }
      step_done(db, line);
    }
    sq(db, "COMMIT");
  }
  const double seconds = static_cast<double>(now_ns() - t0) / 1e9;
  sqlite3_finalize(line);
  sqlite3_finalize(totals);
  sqlite3_close(db);
  remove_db(path);
  return static_cast<double>(events) / seconds;
}

/// Catches the order-summary read model up over journal `j` (`events` events over `streams`
/// orders, stream heads `heads`) into a fresh `target`, checks it and emits its line.
void catch_up_into(const options& o, persistence::journal& j, read_model_target target,
                   std::uint64_t events, std::size_t streams,
                   const std::vector<std::uint64_t>& heads, double fill_s, double read_s,
                   double write_ceiling = 0, double write_ceiling_multi_row = 0) {
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
  // Orders the journal holds events of (fewer than `streams` when there are fewer than ten
  // events per order: the appends give each order they reach ten at a time).
  const auto placed = std::count_if(heads.begin(), heads.end(), [](auto h) { return h > 0; });
  check(rows == static_cast<std::int64_t>(placed), "projection: read model holds " +
                                                       std::to_string(rows) + " orders, expected " +
                                                       std::to_string(placed));
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
      .figure("journal_read_events_s", static_cast<double>(events) / read_s);
  if (write_ceiling > 0)
    line.figure("write_ceiling_events_s", write_ceiling)
        .figure("write_ceiling_multi_row_events_s", write_ceiling_multi_row)
        .figure("of_write_ceiling", stats->events_per_second() / write_ceiling);
  line.process(cpu0);
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
      std::fprintf(stderr, "[projection] the read model's writes alone (C API)\n");
      const std::string ceiling_path = o.dir + "/projection-ceiling.db";
      const double ceiling = read_model_write_ceiling(ceiling_path, data, streams, events, false);
      const double multi_row = read_model_write_ceiling(ceiling_path, data, streams, events, true);
      catch_up_into(o, **j, sqlite_target(o.dir + "/projection-read.db"), events, streams, heads,
                    fill_s, read_s, ceiling, multi_row);
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
