// The `actors` workload: the in-memory journal and 10,000 Order aggregates, so that what is
// measured is the runtime itself (host -> region -> aggregate -> writer -> reply). Two cases:
// add_item commands (one event each) and no-op commands (mark_ready on an order that is
// already ready: decided, no events, still a full round trip) for the bridge cost.

#include <cstdio>

#include "strata/persistence/memory_journal.hpp"
#include "tools/bench/common.hpp"
#include "tools/bench/driver.hpp"
#include "tools/bench/journal_tools.hpp"

namespace strata::bench {

void run_actors(const options& o, std::size_t aggregates, std::size_t commands,
                const std::vector<std::size_t>& levels) {
  if (o.quick) {
    aggregates = std::min<std::size_t>(aggregates, 500);
    commands = std::min<std::size_t>(commands, 5000);
  }
  const order_data data{o.seed};
  auto inner = std::make_shared<persistence::memory_journal_factory>();
  auto counting = std::make_shared<counting_factory>(inner);
  auto rt = runtime::start(bench_config(), with_journal(counting));
  check(static_cast<bool>(rt), "actors: runtime start");
  check(static_cast<bool>((*rt)->register_aggregate<orders::order>()), "register Order");
  runtime& r = **rt;
  auto setup = [&](const std::string& what, auto make) {
    auto out = drive(aggregates, 1024, [&](std::size_t i, command_callback done) {
      r.send<orders::order>(data.order_id(i), make(i), {}, std::move(done));
    });
    check(out.other == 0, "actors: " + what + " not accepted: " + out.first_other);
  };
  setup("place", [&](std::size_t i) { return orders::command{data.place(i)}; });

  std::uint64_t expected_events = aggregates;
  std::size_t round = 0;
  auto measure = [&](const std::string& what, std::size_t level, bool noop) {
    counting->clear();
    const double cpu0 = cpu_seconds();
    const std::size_t n = level == 1 ? std::min<std::size_t>(commands, 20000) : commands;
    const std::size_t base = round;
    auto out = drive(n, level, [&](std::size_t i, command_callback done) {
      orders::command c = noop ? orders::command{orders::mark_ready{}}
                               : orders::command{data.add(base + i / aggregates)};
      r.send<orders::order>(data.order_id(i % aggregates), std::move(c), {}, std::move(done));
    });
    round += (n + aggregates - 1) / aggregates;
    check(out.other == 0, "actors: " + what + " not accepted: " + out.first_other);
    check(out.events == (noop ? 0 : n), "actors: wrong event count in replies");
    if (!noop) expected_events += n;
    const auto b = summarize_batches(counting->batches());
    result_line line;
    line.workload = "actors";
    line.name = what + " c=" + std::to_string(level);
    line.param("journal", std::string{"memory"})
        .param("aggregates", static_cast<double>(aggregates))
        .param("commands", static_cast<double>(n))
        .param("in_flight", static_cast<double>(level));
    line.figure("seconds", out.seconds)
        .figure("commands_s", static_cast<double>(n) / out.seconds)
        .figure("events_s", static_cast<double>(out.events) / out.seconds)
        .figure("us_per_command", out.seconds * 1e6 / static_cast<double>(n))
        .latency(summarize(out.latency_ns))
        .figure("batch_median", static_cast<double>(b.median))
        .process(cpu0);
    emit(line);
  };
  for (std::size_t level : levels) measure("add_item", level, false);
  setup("confirm", [&](std::size_t) { return orders::command{orders::confirm{}}; });
  setup("mark_ready", [&](std::size_t) { return orders::command{orders::mark_ready{}}; });
  expected_events += 2 * aggregates;
  measure("no-op", 1, true);
  for (std::size_t level : levels) measure("no-op", level, true);
  r.stop();
  auto j = inner->open();
  check(static_cast<bool>(j), "actors: reopen");
  const auto census = verify_journal(**j, "actors");
  check(census.events == expected_events, "actors: journal holds " + std::to_string(census.events) +
                                              " events, expected " +
                                              std::to_string(expected_events));
  check(census.streams == aggregates, "actors: wrong stream count");
}

}  // namespace strata::bench
