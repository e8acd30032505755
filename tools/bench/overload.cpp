// The `overload` workload: the orders workload's shape (1,000 Order streams, add_item
// round-robin, SQLite FULL journal) with `commands.max_in_flight_per_type` lowered to a small
// admission bound. First the capacity: a closed loop with exactly the bound in flight. Then
// commands are offered open-loop at `factor` x that capacity (far more in flight than the
// bound allows) for a fixed time: what is accepted, how fast the `overloaded` answers come
// back, and whether memory stays bounded (RSS sampled while it runs).

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "strata/persistence/sqlite_journal.hpp"
#include "tools/bench/common.hpp"
#include "tools/bench/driver.hpp"
#include "tools/bench/journal_tools.hpp"

namespace strata::bench {

void run_overload(const options& o, std::size_t bound, double factor, double seconds) {
  const std::size_t streams = o.quick ? 50 : 1000;
  const std::size_t capacity_commands = o.quick ? 2000 : 50000;
  if (o.quick) seconds = std::min(seconds, 1.0);
  const order_data data{o.seed};
  const std::string path = o.dir + "/overload.db";
  auto factory = fresh_sqlite_journal(path, true);
  auto cfg = bench_config();
  cfg.commands.max_in_flight_per_type = static_cast<std::uint32_t>(bound);
  std::uint64_t accepted_events = 0;
  {
    auto rt = runtime::start(cfg, with_journal(factory));
    check(static_cast<bool>(rt), "overload: runtime start");
    runtime& r = **rt;
    check(static_cast<bool>(r.register_aggregate<orders::order>()), "register Order");
    auto placed = drive(
        streams, std::min<std::size_t>(bound, 256), [&](std::size_t i, command_callback done) {
          r.send<orders::order>(data.order_id(i), data.place(i), {}, std::move(done));
        });
    check(placed.other == 0, "overload: place not accepted: " + placed.first_other);
    std::size_t next = 0;  // commands issued so far (stream next % streams, item next / streams)
    auto add = [&](std::size_t i) { return data.add(i / streams); };

    // Capacity: exactly the bound in flight, nothing refused.
    std::fprintf(stderr, "[overload] capacity at %zu in flight\n", bound);
    auto cap = drive(capacity_commands, bound, [&](std::size_t i, command_callback done) {
      r.send<orders::order>(data.order_id((next + i) % streams), add(next + i), {},
                            std::move(done));
    });
    check(cap.other == 0, "overload: capacity run not accepted: " + cap.first_other);
    next += capacity_commands;
    accepted_events += cap.events;
    const double capacity = static_cast<double>(capacity_commands) / cap.seconds;
    const auto cap_lat = summarize(cap.latency_ns);
    const auto rss_before = current_rss_bytes();

    // Overload: open loop at factor x capacity.
    const double offered_rate = factor * capacity;
    const auto planned = static_cast<std::size_t>(offered_rate * seconds);
    std::fprintf(stderr, "[overload] offering %.0f commands/s for %.1f s (%zu commands)\n",
                 offered_rate, seconds, planned);
    std::vector<std::int64_t> latency(planned, 0);
    std::vector<std::uint8_t> status(planned, 255);
    std::mutex m;
    std::condition_variable cv;
    std::size_t answered = 0;
    std::atomic<bool> sampling{true};
    std::atomic<std::int64_t> rss_peak{0};
    std::atomic<std::size_t> in_flight_peak{0};
    std::vector<std::int64_t> rss_samples;
    std::thread sampler([&] {
      while (sampling.load()) {
        const auto rss = current_rss_bytes();
        rss_samples.push_back(rss);
        if (rss > rss_peak.load()) rss_peak = rss;
        const auto f = r.in_flight();
        if (f > in_flight_peak.load()) in_flight_peak = f;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
    const double cpu0 = cpu_seconds();
    const auto t0 = now_ns();
    const double interval_ns = 1e9 / offered_rate;
    std::int64_t first_answer_ns = 0;
    for (std::size_t i = 0; i < planned; ++i) {
      const auto due = t0 + static_cast<std::int64_t>(static_cast<double>(i) * interval_ns);
      while (now_ns() < due) {
        const auto ahead = due - now_ns();
        if (ahead > 200000) std::this_thread::sleep_for(std::chrono::nanoseconds(ahead - 100000));
      }
      const auto sent = now_ns();
      r.send<orders::order>(data.order_id((next + i) % streams), add(next + i), {},
                            [&, i, sent](command_result res) {
                              const auto t = now_ns();
                              std::lock_guard<std::mutex> lock{m};
                              latency[i] = t - sent;
                              status[i] = static_cast<std::uint8_t>(res.status);
                              if (res.is_accepted()) accepted_events += res.records.size();
                              if (first_answer_ns == 0) first_answer_ns = t;
                              ++answered;
                              cv.notify_all();
                            });
    }
    const double offer_seconds = static_cast<double>(now_ns() - t0) / 1e9;
    {
      std::unique_lock<std::mutex> lock{m};
      cv.wait(lock, [&] { return answered == planned; });
    }
    const double total_seconds = static_cast<double>(now_ns() - t0) / 1e9;
    sampling = false;
    sampler.join();
    const double cpu_s = cpu_seconds() - cpu0;

    std::vector<std::int64_t> ok_ns, refused_ns;
    std::size_t other = 0;
    std::string first_other;
    for (std::size_t i = 0; i < planned; ++i) {
      const auto s = static_cast<command_status>(status[i]);
      if (s == command_status::accepted) {
        ok_ns.push_back(latency[i]);
      } else if (s == command_status::overloaded) {
        refused_ns.push_back(latency[i]);
      } else {
        if (other++ == 0) first_other = std::string{to_string(s)};
      }
    }
    check(other == 0, "overload: a command ended neither accepted nor overloaded: " + first_other);
    check(ok_ns.size() + refused_ns.size() == planned, "overload: replies missing");
    check(in_flight_peak.load() <= bound, "overload: " + std::to_string(in_flight_peak.load()) +
                                              " commands in flight, above the admission bound " +
                                              std::to_string(bound));
    // The RSS growth in the second half of the overload against the first half: bounded
    // memory means the second half adds (almost) nothing.
    std::int64_t first_half = 0, second_half = 0;
    for (std::size_t k = 0; k < rss_samples.size(); ++k)
      (k < rss_samples.size() / 2 ? first_half : second_half) =
          std::max(k < rss_samples.size() / 2 ? first_half : second_half, rss_samples[k]);
    const auto ok_lat = summarize(ok_ns);
    const auto refused_lat = summarize(refused_ns);
    r.stop();

    result_line line;
    line.workload = "overload";
    line.name = "sqlite-full " + std::to_string(static_cast<int>(factor)) + "x capacity";
    line.param("durability", std::string{"sqlite-full"})
        .param("max_in_flight_per_type", static_cast<double>(bound))
        .param("streams", static_cast<double>(streams))
        .param("factor", factor)
        .param("offered", static_cast<double>(planned));
    line.figure("capacity_commands_s", capacity)
        .figure("capacity_p99_ms", cap_lat.p99_ms)
        .figure("offered_commands_s", static_cast<double>(planned) / offer_seconds)
        .figure("accepted", static_cast<double>(ok_ns.size()))
        .figure("overloaded", static_cast<double>(refused_ns.size()))
        .figure("accepted_commands_s", static_cast<double>(ok_ns.size()) / total_seconds)
        .figure("accepted_over_capacity",
                static_cast<double>(ok_ns.size()) / total_seconds / capacity)
        .figure("accepted_p50_ms", ok_lat.p50_ms)
        .figure("accepted_p99_ms", ok_lat.p99_ms)
        .figure("overloaded_p50_ms", refused_lat.p50_ms)
        .figure("overloaded_p99_ms", refused_lat.p99_ms)
        .figure("overloaded_max_ms", refused_lat.max_ms)
        .figure("in_flight_peak", static_cast<double>(in_flight_peak.load()))
        .figure("rss_before_bytes", static_cast<double>(rss_before))
        .figure("rss_peak_first_half_bytes", static_cast<double>(first_half))
        .figure("rss_peak_second_half_bytes", static_cast<double>(second_half))
        .figure("cpu_s", cpu_s)
        .figure("peak_rss_bytes", static_cast<double>(peak_rss_bytes()));
    emit(line);
  }
  // Nothing refused was written: the journal holds the placed orders and the accepted items.
  auto j = factory->open();
  check(static_cast<bool>(j), "overload: reopen journal");
  const auto census = verify_journal(**j, "overload");
  check(census.events == streams + accepted_events,
        "overload: journal holds " + std::to_string(census.events) + " events, expected " +
            std::to_string(streams + accepted_events));
  j->reset();
  if (!o.keep_files) remove_db(path);
}

}  // namespace strata::bench
