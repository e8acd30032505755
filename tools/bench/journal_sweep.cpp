// The `journal` workload: the journal alone (no actors), appends of `batch` events per call
// (1, 10, 100, 1000; one event in each of `batch` streams, round-robin over 1,000 Order
// streams, ~200-byte bodies), events/s and commit latency per append call, against the bare
// driver inserting the same rows (read back from the journal) with the same batching.

#include <cstdio>

#include "strata/persistence/postgres/postgres_journal.hpp"
#include "strata/persistence/sqlite_journal.hpp"
#include "tools/bench/common.hpp"
#include "tools/bench/journal_tools.hpp"

namespace strata::bench {
namespace {

constexpr const char* pg_schema = "strata_bench_sweep";
constexpr const char* pg_ceiling_schema = "strata_bench_sweep_ceiling";

std::size_t events_for(const options& o, std::size_t batch) {
  if (o.quick) return std::min<std::size_t>(2000, batch * 20);
  return std::min<std::size_t>(100000, batch * 2000);
}

void sweep_one(const options& o, const std::string& cls, std::size_t batch) {
  const std::size_t streams = 1000;
  const std::size_t events = events_for(o, batch);
  const order_data data{o.seed};
  const std::string path = o.dir + "/journal-" + cls + ".db";
  std::shared_ptr<persistence::journal_factory> factory;
  if (cls == "postgres") {
    postgres_drop_schema(o.pg, pg_schema);
    persistence::postgres_journal_options po;
    po.conninfo = o.pg;
    po.schema = pg_schema;
    factory = std::make_unique<persistence::postgres_journal_factory>(po);
  } else {
    factory = fresh_sqlite_journal(path, cls == "sqlite-full");
  }
  auto j = factory->open();
  check(static_cast<bool>(j), "journal " + cls + ": open");
  const std::string label = cls + " batch=" + std::to_string(batch);
  std::fprintf(stderr, "[journal] %s: %zu events\n", label.c_str(), events);

  // The bodies are prepared before the clock starts: only the append is timed.
  std::vector<std::vector<persistence::stream_append>> batches;
  std::vector<std::uint64_t> heads(streams, 0);
  const timestamp t = from_unix_micros(1700000000000000);
  for (std::size_t i = 0; i < events;) {
    std::vector<persistence::stream_append> b;
    for (std::size_t k = 0; k < batch && i < events; ++k, ++i) {
      const std::size_t s = i % streams;
      persistence::new_event ne;
      ne.event_id = "sw-" + std::to_string(i);
      ne.time = t;
      ne.user_id = "bench";
      ne.command_id = "cmd-" + std::to_string(i);
      const auto enc =
          orders::order::events().encode(orders::event{orders::item_added{data.add(i).item}});
      ne.event_type = enc.type;
      ne.schema_version = enc.schema_version;
      ne.data = enc.data;
      persistence::stream_append part;
      part.stream = stream_id{"Order", "sw-" + std::to_string(s)};
      part.expected = version{heads[s]++};
      part.events.push_back(std::move(ne));
      b.push_back(std::move(part));
    }
    batches.push_back(std::move(b));
  }
  std::vector<std::int64_t> latency;
  latency.reserve(batches.size());
  const double cpu0 = cpu_seconds();
  const auto t0 = now_ns();
  for (const auto& b : batches) {
    const auto a = now_ns();
    auto r = (*j)->append(b);
    latency.push_back(now_ns() - a);
    check(static_cast<bool>(r),
          label + ": append failed: " + (r ? std::string{} : to_string(r.err())));
    for (const auto& outcome : *r) check(static_cast<bool>(outcome), label + ": conflict");
  }
  const double seconds = static_cast<double>(now_ns() - t0) / 1e9;
  const double cpu_s = cpu_seconds() - cpu0;
  const auto census = verify_journal(**j, label);
  check(census.events == events, label + ": journal holds " + std::to_string(census.events));
  const auto rows = read_everything(**j);
  std::vector<std::int64_t> ceiling_latency;
  double ceiling = 0;
  if (cls == "postgres") {
    ceiling = postgres_ceiling(o.pg, pg_ceiling_schema, rows, batch, &ceiling_latency);
  } else {
    ceiling =
        sqlite_ceiling(path + ".ceiling", cls == "sqlite-full", rows, batch, {}, &ceiling_latency);
    if (!o.keep_files) remove_db(path + ".ceiling");
  }
  const auto jl = summarize(latency);
  const auto cl = summarize(ceiling_latency);
  const double rate = static_cast<double>(events) / seconds;
  result_line line;
  line.workload = "journal";
  line.name = label;
  line.param("durability", cls)
      .param("batch", static_cast<double>(batch))
      .param("events", static_cast<double>(events))
      .param("streams", static_cast<double>(streams));
  line.figure("events_s", rate)
      .figure("commit_p50_ms", jl.p50_ms)
      .figure("commit_p99_ms", jl.p99_ms)
      .figure("ceiling_events_s", ceiling)
      .figure("ceiling_commit_p50_ms", cl.p50_ms)
      .figure("ceiling_commit_p99_ms", cl.p99_ms)
      .figure("ratio", rate / ceiling)
      .figure("cpu_s", cpu_s);
  emit(line);
  j->reset();
  if (cls == "postgres") {
    postgres_drop_schema(o.pg, pg_schema);
  } else if (!o.keep_files) {
    remove_db(path);
  }
}

}  // namespace

void run_journal(const options& o, const std::vector<std::size_t>& batches,
                 const std::vector<std::string>& classes) {
  for (const auto& cls : classes) {
    if (cls == "postgres" && o.pg.empty()) {
      std::fprintf(stderr, "[journal] postgres skipped (no --pg conninfo)\n");
      continue;
    }
    check(cls == "sqlite-full" || cls == "sqlite-normal" || cls == "postgres",
          "journal: unknown class " + cls);
    for (std::size_t b : batches) sweep_one(o, cls, b);
  }
}

}  // namespace strata::bench
