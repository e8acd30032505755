// The `memory` workload: RSS per live idle Order aggregate (one `place` each, in-memory
// journal) against a bare idle CAF actor, each measured in a fresh child process of this
// program so that one measurement's heap cannot hide another's. The journal's own share (the
// stored OrderPlaced records) is measured in a third child and subtracted.
//
// Each child reads its RSS twice: as it stands, and after handing the allocator's free pages
// back to the system (glibc's malloc_trim, or tcmalloc's ReleaseFreeMemory when that allocator
// serves the process). The first also counts memory that was freed (the actors of hibernated
// aggregates) and that the allocator keeps for reuse; the second is what stays in use.

#include <dlfcn.h>
#include <malloc.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "strata/metrics/metrics.hpp"
#include "strata/persistence/memory_journal.hpp"
#include "tools/bench/common.hpp"
#include "tools/bench/driver.hpp"

namespace strata::bench {
namespace {

struct child_figures {
  std::int64_t delta = -1;             ///< After the free pages went back to the system.
  std::int64_t delta_unreleased = -1;  ///< Before.
  double seconds = 0;                  ///< Time to create the `count` objects.
};

child_figures child_delta(const std::string& what, std::size_t count) {
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  check(n > 0, "memory: cannot find /proc/self/exe");
  self[n] = '\0';
  const std::string cmd =
      std::string{self} + " memory-child --what " + what + " --count " + std::to_string(count);
  FILE* p = ::popen(cmd.c_str(), "r");
  check(p != nullptr, "memory: cannot run " + cmd);
  long long delta = -1;
  long long unreleased = -1;
  double seconds = 0;
  char line[256];
  while (std::fgets(line, sizeof line, p) != nullptr) {
    long long v = 0;
    double sec = 0;
    if (std::sscanf(line, "rss_delta_bytes=%lld", &v) == 1) delta = v;
    if (std::sscanf(line, "rss_delta_unreleased_bytes=%lld", &v) == 1) unreleased = v;
    if (std::sscanf(line, "seconds=%lf", &sec) == 1) seconds = sec;
  }
  const int status = ::pclose(p);
  check(status == 0 && delta >= 0 && unreleased >= 0,
        "memory: child '" + what + "' failed (status " + std::to_string(status) + ")");
  return {delta, unreleased, seconds};
}

/// Hands the allocator's free pages back to the system (nothing for an allocator other than
/// glibc's and tcmalloc: its figures after release are then those before).
void release_free_memory() {
  using release_fn = void (*)();
  const std::string allocator = allocator_in_use();
  if (allocator == "tcmalloc") {
    if (auto* tc = reinterpret_cast<release_fn>(
            ::dlsym(RTLD_DEFAULT, "MallocExtension_ReleaseFreeMemory")))
      tc();
  } else if (allocator == "system") {
    ::malloc_trim(0);
  }
}

/// The RSS to measure from: read after the free pages of the start-up went back, so that the
/// release at the end cannot subtract them from what the measured objects take.
std::int64_t baseline_rss_bytes() {
  release_free_memory();
  return current_rss_bytes();
}

/// Prints the RSS growth since `before` as it stands and after the free pages were released.
[[noreturn]] void report_and_exit(std::int64_t before, std::int64_t since_ns,
                                  std::int64_t until_ns = 0) {
  if (until_ns == 0) until_ns = now_ns();
  const std::int64_t unreleased = current_rss_bytes() - before;
  release_free_memory();
  const std::int64_t delta = current_rss_bytes() - before;
  std::printf("seconds=%.6f\n", static_cast<double>(until_ns - since_ns) / 1e9);
  std::printf("rss_delta_unreleased_bytes=%lld\n", static_cast<long long>(unreleased));
  std::printf("rss_delta_bytes=%lld\n", static_cast<long long>(delta));
  std::fflush(stdout);
  std::_Exit(0);  // skip tearing down a million actors
}

}  // namespace

int memory_child(const std::string& what, std::size_t count) {
  if (what == "caf") {
    caf::actor_system_config cfg;
    cfg.set("scheduler.max-threads", 2);
    caf::actor_system sys{cfg};
    std::vector<caf::actor> handles;
    handles.reserve(count);
    const auto before = baseline_rss_bytes();
    const auto t0 = now_ns();
    for (std::size_t i = 0; i < count; ++i) {
      handles.push_back(sys.spawn<caf::lazy_init>(
          [](caf::event_based_actor*) -> caf::behavior { return {[](int) {}}; }));
    }
    report_and_exit(before, t0);
  }
  const order_data data{42};
  if (what == "journal") {
    persistence::memory_journal_factory f;
    auto j = f.open();
    check(static_cast<bool>(j), "memory: open");
    const auto enc = orders::order::events().encode(
        orders::event{orders::placed{"customer-1", "EUR", {}, money{0, "EUR"}}});
    const auto before = baseline_rss_bytes();
    const auto t0 = now_ns();
    std::size_t i = 0;
    while (i < count) {
      std::vector<persistence::stream_append> batch;
      for (std::size_t k = 0; k < 1000 && i < count; ++k, ++i) {
        persistence::new_event e;
        // Ids of the same lengths as the runtime's (UUID text).
        e.event_id = std::string(36, 'e');
        e.command_id = std::string(36, 'c');
        e.event_type = enc.type;
        e.schema_version = enc.schema_version;
        e.data = enc.data;
        batch.push_back({stream_id{"Order", data.order_id(i)}, version{0}, {std::move(e)}});
      }
      auto r = (*j)->append(batch);
      check(static_cast<bool>(r), "memory: append");
    }
    report_and_exit(before, t0);
  }
  if (what == "runtime") {
    auto inner = std::make_shared<persistence::memory_journal_factory>();
    auto rt = runtime::start(bench_config(), with_journal(inner));
    check(static_cast<bool>(rt), "memory: runtime start");
    check(static_cast<bool>((*rt)->register_aggregate<orders::order>()), "register Order");
    const auto before = baseline_rss_bytes();
    const auto t0 = now_ns();
    auto out = drive(count, 4096, [&](std::size_t i, command_callback done) {
      (*rt)->send<orders::order>(data.order_id(i), data.place(i), {}, std::move(done));
    });
    check(out.other == 0, "memory: place not accepted: " + out.first_other);
    const auto placed = now_ns();
    // An aggregate is idle once it has hibernated (`aggregates.hibernate_after_ms`, kept at
    // its default here): wait, bounded, until every one has.
    const std::string family = "strata_aggregate_hibernations_total{aggregate_type=\"Order\"} ";
    const auto hibernated = [&] {
      const std::string text = (*rt)->metrics().scrape_text();
      const auto at = text.find(family);
      return at == std::string::npos ? 0.0 : std::atof(text.c_str() + at + family.size());
    };
    const auto give_up = now_ns() + 120'000'000'000LL;
    while (hibernated() < static_cast<double>(count) && now_ns() < give_up)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    check(hibernated() >= static_cast<double>(count), "memory: aggregates did not hibernate");
    report_and_exit(before, t0, placed);
  }
  std::fprintf(stderr, "memory-child: unknown --what %s\n", what.c_str());
  return 2;
}

void run_memory(const options& o, std::size_t aggregates) {
  if (o.quick) aggregates = std::min<std::size_t>(aggregates, 20000);
  std::fprintf(stderr, "[memory] %zu aggregates, %zu bare CAF actors (child processes)\n",
               aggregates, aggregates);
  const double cpu0 = cpu_seconds();
  const auto caf = child_delta("caf", aggregates);
  const auto journal = child_delta("journal", aggregates);
  const auto rt = child_delta("runtime", aggregates);
  const auto caf_delta = caf.delta;
  const auto journal_delta = journal.delta;
  const auto runtime_delta = rt.delta;
  const double n = static_cast<double>(aggregates);
  const double per_caf = static_cast<double>(caf_delta) / n;
  const double per_total = static_cast<double>(runtime_delta) / n;
  const double per_journal = static_cast<double>(journal_delta) / n;
  const double per_aggregate = per_total - per_journal;
  check(per_caf > 0 && per_total > 0, "memory: RSS did not grow");
  result_line line;
  line.workload = "memory";
  line.name = "idle Order aggregates";
  line.param("aggregates", n).param("journal", std::string{"memory"});
  line.figure("bare_caf_actor_bytes", per_caf)
      .figure("runtime_bytes_per_aggregate_incl_journal", per_total)
      .figure("journal_bytes_per_event", per_journal)
      .figure("bytes_per_aggregate", per_aggregate)
      .figure("ratio_to_caf", per_aggregate / per_caf)
      .figure("ratio_to_caf_incl_journal", per_total / per_caf)
      .figure("bytes_per_aggregate_unreleased",
              static_cast<double>(rt.delta_unreleased - journal.delta_unreleased) / n)
      .figure("bare_caf_actor_bytes_unreleased", static_cast<double>(caf.delta_unreleased) / n)
      .figure("caf_spawn_s", n / caf.seconds)
      .figure("aggregate_spawn_s", n / rt.seconds)
      .process(cpu0);
  emit(line);
}

}  // namespace strata::bench
