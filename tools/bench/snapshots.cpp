// The `snapshots` workload: the orders load (1,000 Order streams, add_item round-robin, 256 in
// flight, SQLite FULL) with snapshots on, every `snapshot_every` events. Right after the last
// reply, before the runtime stops and drains its snapshot queue, it reads each stream's newest
// saved snapshot: how far each stream is past it is what a `kill -9` at that moment would
// leave to replay. The target (DESIGN.md §12) is at most 2 x snapshot_every.

#include <algorithm>
#include <cstdio>
#include <memory>

#include "strata/persistence/sqlite_snapshot_store.hpp"
#include "tools/bench/common.hpp"
#include "tools/bench/driver.hpp"

namespace strata::bench {

void run_snapshots(const options& o, std::size_t commands, std::uint32_t every) {
  const order_data data{o.seed};
  const std::size_t streams = o.quick ? 100 : 1000;
  if (o.quick) commands = std::min<std::size_t>(commands, 5000);
  const std::size_t level = 256;
  const std::string path = o.dir + "/snapshots.db";
  auto journal = fresh_sqlite_journal(path, true);
  persistence::sqlite_snapshot_store_options so;
  so.path = path;  // as the runtime does: the journal's own file
  so.synchronous_full = false;
  auto overrides = with_journal(journal);
  overrides.snapshots = std::make_shared<persistence::sqlite_snapshot_store_factory>(so);
  runtime_config config = bench_config();
  config.aggregates.snapshot_every = every;

  std::fprintf(stderr, "[snapshots] every %u: %zu streams, %zu commands\n", every, streams,
               commands);
  auto rt = runtime::start(config, overrides);
  check(static_cast<bool>(rt), "runtime start: " + (rt ? std::string{} : to_string(rt.err())));
  check(static_cast<bool>((*rt)->register_aggregate<orders::order>()), "register Order");
  runtime& r = **rt;
  auto placed = drive(streams, level, [&](std::size_t i, command_callback done) {
    r.send<orders::order>(data.order_id(i), data.place(i), {}, std::move(done));
  });
  check(placed.other == 0, "snapshots: place was not accepted: " + placed.first_other);
  const double cpu0 = cpu_seconds();
  auto run = drive(commands, level, [&](std::size_t i, command_callback done) {
    r.send<orders::order>(data.order_id(i % streams), data.add(i / streams), {}, std::move(done));
  });
  check(run.other == 0, "snapshots: a command was not accepted: " + run.first_other);

  // Every stream's distance past its newest saved snapshot, as a crash now would find it.
  auto store = overrides.snapshots->open();
  check(static_cast<bool>(store), "snapshots: cannot open the snapshot store");
  std::vector<double> distances;
  distances.reserve(streams);
  for (std::size_t s = 0; s < streams; ++s) {
    const std::uint64_t head = 1 + commands / streams + (s < commands % streams ? 1 : 0);
    auto latest = (*store)->load_latest(stream_id{"Order", data.order_id(s)}, version{head});
    check(static_cast<bool>(latest), "snapshots: load_latest failed");
    const std::uint64_t at = *latest ? (*latest)->at.value : 0;
    distances.push_back(static_cast<double>(head - at));
  }
  r.stop();
  std::sort(distances.begin(), distances.end());
  const double worst = distances.back();
  const double p99 = distances[distances.size() * 99 / 100];

  result_line line;
  line.workload = "snapshots";
  line.name = "sqlite-full c=256 every=" + std::to_string(every);
  line.param("in_flight", static_cast<double>(level))
      .param("streams", static_cast<double>(streams))
      .param("commands", static_cast<double>(commands))
      .param("snapshot_every", static_cast<double>(every))
      .param("seed", static_cast<double>(o.seed));
  line.figure("seconds", run.seconds)
      .figure("commands_s", static_cast<double>(commands) / run.seconds)
      .latency(summarize(run.latency_ns))
      .figure("distance_median", median(distances))
      .figure("distance_p99", p99)
      .figure("distance_max", worst)
      .figure("distance_target", 2.0 * every)
      .process(cpu0);
  emit(line);
  if (!o.keep_files) remove_db(path);
}

}  // namespace strata::bench
