// The `orders` workload: 1,000 Order streams, then add_item commands round-robin over them,
// at several in-flight levels and durability classes, against the bare-driver ceiling of the
// same rows with the same batch size. With `--preload N` the journal first gets N events over
// 10,000 other streams, appended directly in batches.

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <memory>

#include "strata/persistence/memory_journal.hpp"
#include "strata/persistence/postgres/postgres_journal.hpp"
#include "strata/persistence/sqlite_journal.hpp"
#include "tools/bench/common.hpp"
#include "tools/bench/driver.hpp"
#include "tools/bench/journal_tools.hpp"

namespace strata::bench {
namespace {

constexpr const char* pg_schema = "strata_bench";
constexpr const char* pg_ceiling_schema = "strata_bench_ceiling";

struct durability_class {
  std::string name;  ///< sqlite-full, sqlite-normal, postgres, memory
  std::string path;  ///< SQLite file (empty otherwise)
};

std::shared_ptr<persistence::journal_factory> make_factory(const options& o,
                                                           const durability_class& c) {
  if (c.name == "sqlite-full" || c.name == "sqlite-normal")
    return fresh_sqlite_journal(c.path, c.name == "sqlite-full");
  if (c.name == "postgres") {
    persistence::postgres_journal_options po;
    po.conninfo = o.pg;
    po.schema = pg_schema;
    return std::make_shared<persistence::postgres_journal_factory>(po);
  }
  return std::make_shared<persistence::memory_journal_factory>();
}

/// `prefix` followed by `n` in decimal, formatted in place (the id of a measured command).
std::string numbered_id(std::string_view prefix, std::size_t n) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
  std::string out;
  out.reserve(prefix.size() + static_cast<std::size_t>(end - digits));
  out.append(prefix).append(digits, end);
  return out;
}

struct run_figures {
  double commands_per_s = 0;
  double ceiling_per_s = 0;
};

run_figures run_one(const options& o, const durability_class& c, std::size_t level,
                    std::size_t streams, std::size_t commands, std::uint64_t preload_events) {
  const order_data data{o.seed};
  if (c.name == "postgres") postgres_drop_schema(o.pg, pg_schema);
  auto inner = make_factory(o, c);
  auto counting = std::make_shared<counting_factory>(inner);
  const std::size_t preload_streams = 10000;
  if (preload_events > 0) {
    auto j = inner->open();
    check(static_cast<bool>(j), "cannot open the journal to preload");
    std::fprintf(stderr, "[orders] %s: preloading %llu events over %zu streams\n", c.name.c_str(),
                 static_cast<unsigned long long>(preload_events), preload_streams);
    append_orders(**j, data, preload_events, preload_streams, "pre-");
  }

  std::string label = c.name + " c=" + std::to_string(level) +
                      (preload_events > 0 ? " preload=" + std::to_string(preload_events) : "");
  std::fprintf(stderr, "[orders] %s: %zu streams, %zu commands\n", label.c_str(), streams,
               commands);
  run_figures figures;
  {
    auto rt = runtime::start(bench_config(), with_journal(counting));
    check(static_cast<bool>(rt), "runtime start: " + (rt ? std::string{} : to_string(rt.err())));
    check(static_cast<bool>((*rt)->register_aggregate<orders::order>()), "register Order");
    runtime& r = **rt;

    auto placed = drive(streams, 256, [&](std::size_t i, command_callback done) {
      command_metadata meta;
      if (o.command_ids) meta.command_id = numbered_id("place-", i);
      r.send<orders::order>(data.order_id(i), data.place(i), std::move(meta), std::move(done));
    });
    check(placed.other == 0, label + ": place was not accepted: " + placed.first_other);

    counting->clear();
    const double cpu0 = cpu_seconds();
    auto run = drive(commands, level, [&](std::size_t i, command_callback done) {
      command_metadata meta;
      meta.user_id = "bench";
      if (o.command_ids) meta.command_id = numbered_id("add-", i);
      r.send<orders::order>(data.order_id(i % streams), data.add(i / streams), std::move(meta),
                            std::move(done));
    });
    check(run.other == 0, label + ": a command was not accepted: " + run.first_other);
    check(run.events == commands, label + ": replies carry " + std::to_string(run.events) +
                                      " events, expected " + std::to_string(commands));
    r.stop();
    const auto batches = summarize_batches(counting->batches());
    figures.commands_per_s = static_cast<double>(commands) / run.seconds;
    result_line line;
    line.workload = "orders";
    line.name = label;
    line.param("durability", c.name)
        .param("in_flight", static_cast<double>(level))
        .param("streams", static_cast<double>(streams))
        .param("commands", static_cast<double>(commands))
        .param("preload_events", static_cast<double>(preload_events))
        .param("event_bytes", static_cast<double>(data.event_bytes()))
        .param("seed", static_cast<double>(o.seed))
        .param("command_ids", o.command_ids ? 1.0 : 0.0);
    line.figure("seconds", run.seconds)
        .figure("commands_s", figures.commands_per_s)
        .figure("events_s", static_cast<double>(run.events) / run.seconds)
        .latency(summarize(run.latency_ns))
        .figure("batches", static_cast<double>(batches.count))
        .figure("batch_mean", batches.mean)
        .figure("batch_median", static_cast<double>(batches.median))
        .figure("batch_max", static_cast<double>(batches.max))
        .process(cpu0)
        .figure("db_bytes", static_cast<double>(file_bytes(c.path)));

    // Verification on a fresh connection: every row present, no gaps anywhere.
    auto j = inner->open();
    check(static_cast<bool>(j), label + ": cannot reopen the journal");
    const auto census = verify_journal(**j, label);
    const std::uint64_t expected_events = preload_events + streams + commands;
    check(census.events == expected_events,
          label + ": journal holds " + std::to_string(census.events) + " events, expected " +
              std::to_string(expected_events));
    const std::uint64_t expected_streams =
        streams +
        (preload_events > 0 ? std::min<std::uint64_t>(preload_streams, preload_events) : 0);
    check(census.streams == expected_streams,
          label + ": journal holds " + std::to_string(census.streams) + " streams, expected " +
              std::to_string(expected_streams));
    for (std::size_t s = 0; s < streams; s += std::max<std::size_t>(1, streams / 10)) {
      auto h = (*j)->head(stream_id{"Order", data.order_id(s)});
      const std::uint64_t want = 1 + commands / streams + (s < commands % streams ? 1 : 0);
      check(h && h->value == want,
            label + ": head of " + data.order_id(s) + " is not " + std::to_string(want));
    }

    // The ceiling: the rows of the measured phase, through the bare driver, same batch size.
    if (c.name != "memory") {
      std::vector<persistence::event_record> rows;
      rows.reserve(commands);
      global_position after{preload_events + streams};
      for (;;) {
        auto chunk = (*j)->read_all(after, 10000);
        check(static_cast<bool>(chunk), "read rows for the ceiling");
        if (chunk->empty()) break;
        after = chunk->back().position;
        for (auto& rec : *chunk) rows.push_back(std::move(rec));
      }
      check(rows.size() == commands, "ceiling rows: " + std::to_string(rows.size()));
      const std::size_t batch = std::max<std::size_t>(1, batches.median);
      std::fprintf(stderr, "[orders] %s: ceiling, %zu rows in batches of %zu\n", label.c_str(),
                   rows.size(), batch);
      if (c.name == "postgres") {
        figures.ceiling_per_s = postgres_ceiling(o.pg, pg_ceiling_schema, rows, batch);
      } else {
        const std::string cpath = c.path + ".ceiling";
        std::function<bool(std::vector<persistence::event_record>&)> source;
        global_position copied{0};
        const global_position copy_until{preload_events + streams};
        if (preload_events > 0 || streams > 0) {
          source = [&](std::vector<persistence::event_record>& out) {
            if (copied.value >= copy_until.value) return false;
            auto chunk = (*j)->read_all(
                copied, std::min<std::uint64_t>(1000, copy_until.value - copied.value));
            check(static_cast<bool>(chunk) && !chunk->empty(), "copy rows into the ceiling file");
            copied = chunk->back().position;
            out = std::move(*chunk);
            return true;
          };
        }
        figures.ceiling_per_s = sqlite_ceiling(cpath, c.name == "sqlite-full", rows, batch, source);
        if (!o.keep_files) remove_db(cpath);
      }
      line.figure("ceiling_events_s", figures.ceiling_per_s)
          .figure("ceiling_batch", static_cast<double>(batch))
          .figure("ratio", figures.commands_per_s / figures.ceiling_per_s);
    }
    emit(line);
  }
  if (!c.path.empty() && !o.keep_files) remove_db(c.path);
  if (c.name == "postgres") postgres_drop_schema(o.pg, pg_schema);
  return figures;
}

}  // namespace

void run_orders(const options& o, std::uint64_t preload_events, std::size_t commands,
                const std::vector<std::size_t>& levels, const std::vector<std::string>& classes) {
  const std::size_t streams = o.quick ? 50 : 1000;
  if (o.quick) commands = std::min<std::size_t>(commands, 2000);
  for (const auto& name : classes) {
    if (name == "postgres" && o.pg.empty()) {
      std::fprintf(stderr, "[orders] postgres skipped (no --pg conninfo)\n");
      continue;
    }
    durability_class c{name, (name == "sqlite-full" || name == "sqlite-normal")
                                 ? o.dir + "/orders-" + name + ".db"
                                 : std::string{}};
    if (preload_events == 0) {
      for (std::size_t level : levels) run_one(o, c, level, streams, commands, 0);
      continue;
    }
    // Scale: the same workload on an empty journal and after the preload, in one run.
    for (std::size_t level : levels) {
      const auto empty = run_one(o, c, level, streams, commands, 0);
      const auto loaded = run_one(o, c, level, streams, commands, preload_events);
      result_line line;
      line.workload = "orders";
      line.name = name + " c=" + std::to_string(level) + " preloaded/empty";
      line.param("durability", name)
          .param("in_flight", static_cast<double>(level))
          .param("preload_events", static_cast<double>(preload_events));
      line.figure("empty_commands_s", empty.commands_per_s)
          .figure("preloaded_commands_s", loaded.commands_per_s)
          .figure("preloaded_over_empty", loaded.commands_per_s / empty.commands_per_s);
      if (empty.ceiling_per_s > 0 && loaded.ceiling_per_s > 0) {
        line.figure("empty_ratio", empty.commands_per_s / empty.ceiling_per_s)
            .figure("preloaded_ratio", loaded.commands_per_s / loaded.ceiling_per_s);
      }
      emit(line);
    }
  }
}

}  // namespace strata::bench
