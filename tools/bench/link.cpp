// The `link` workload (docs/BENCHMARKS.md, "Link"): what the transport between cluster nodes
// costs on its own, without a journal, a runtime or the other nodes on the same cores. Three
// processes: strata-bench coordinates; one child (`strata-bench link-peer --role answer`)
// answers at once; for each case a fresh child (`--role ask`) keeps a window of requests in
// flight to it and reports what it saw. Cases, for each window:
//
//   node_link  requests through an engine's node link (actors/node_link.hpp), as a cluster node
//              forwards commands: frames batched per peer, an actor each side, the answering
//              side's handler called per request
//   caf        the same bytes as one CAF message each way per request, straight to an actor the
//              answering child publishes: what CAF's network layer costs without strata
//
// Figures per case: requests/s, and µs of CPU per request in the asking and in the answering
// process (getrusage, over the timed part only). Their sum against the `caf` case of the same
// window is the ratio printed.

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "strata/actors/engine.hpp"
#include "strata/persistence/memory_journal.hpp"
#include "tools/bench/child_process.hpp"
#include "tools/bench/common.hpp"

namespace strata::bench {

namespace {

using link_ask_atom = caf::atom_constant<caf::atom("lb_ask")>;
using link_answer_atom = caf::atom_constant<caf::atom("lb_answer")>;

// About a forwarded orders command and its result with one event: 300 and 403 bytes in the
// `wire` workload's binary form (the figures in docs/BENCHMARKS.md were measured with these
// sizes, chosen when the result's JSON form took 650).
constexpr std::size_t request_bytes = 300;
constexpr std::size_t answer_bytes = 600;

struct wall_clock final : clock {
  timestamp now() const override {
    return std::chrono::time_point_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now());
  }
};

// An engine on a memory journal with CAF's network layer, configured as a runtime's.
std::unique_ptr<actors::engine> network_engine() {
  actors::engine_options eo;
  eo.network = true;
  auto e = actors::engine::start(eo, std::make_shared<persistence::memory_journal_factory>(),
                                 std::make_shared<wall_clock>());
  check(static_cast<bool>(e), "link: engine: " + (e ? std::string{} : to_string(e.err())));
  return std::move(*e);
}

// A bare CAF system with the scheduler settings the engine uses (actors/engine.cpp).
struct bare_system {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  bare_system() : sys{configured(cfg)} {}

 private:
  static caf::actor_system_config& configured(caf::actor_system_config& cfg) {
    cfg.set("scheduler.max-threads", 2);
    cfg.set("work-stealing.moderate-poll-attempts", std::size_t{0});
    cfg.load<caf::io::middleman>();
    return cfg;
  }
};

caf::behavior answering_actor(caf::event_based_actor* self, std::size_t bytes) {
  return {
      [=](link_ask_atom, const std::string&) {
        auto to = caf::actor_cast<caf::actor>(self->current_sender());
        if (to) self->send(to, link_answer_atom::value, std::string(bytes, 'a'));
      },
  };
}

// What an asking child saw.
struct ask_outcome {
  double seconds = 0;
  double cpu_s = 0;
  std::size_t wrong = 0;  // answers that were errors or not the expected bytes
};

// Keeps `window` requests in flight until `n` were answered; `send(done)` sends one and calls
// `done(ok)` once, from any thread.
ask_outcome keep_in_flight(std::size_t n, std::size_t window,
                           const std::function<void(std::function<void(bool)>)>& send) {
  std::atomic<std::size_t> sent{0}, answered{0}, wrong{0};
  std::mutex m;
  std::condition_variable all_in;
  std::function<void()> one = [&] {
    sent.fetch_add(1);
    send([&](bool ok) {
      if (!ok) wrong.fetch_add(1);
      if (answered.fetch_add(1) + 1 == n) {
        std::lock_guard<std::mutex> lock{m};
        all_in.notify_all();
        return;
      }
      if (sent.load() < n) one();
    });
  };
  ask_outcome out;
  const auto cpu0 = cpu_seconds();
  const auto t0 = clock_type::now();
  for (std::size_t i = 0; i < std::min(window, n); ++i) one();
  {
    std::unique_lock<std::mutex> lock{m};
    all_in.wait(lock, [&] { return answered.load() >= n; });
  }
  out.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  out.cpu_s = cpu_seconds() - cpu0;
  out.wrong = wrong.load();
  return out;
}

int ask_by_link(std::uint16_t peer_port, std::size_t n, std::size_t window) {
  auto e = network_engine();
  // Of two nodes, the one whose "host:port" sorts first connects (actors/node_link.hpp). The
  // answering child's port is from 40000 to 49999; one from 20000 to 29999 sorts before it,
  // so this side connects on its first request.
  const std::string peer_name = "127.0.0.1:" + std::to_string(peer_port);
  actors::node_link* link = nullptr;
  for (std::uint16_t port = 20000 + static_cast<std::uint16_t>(::getpid() % 9000);
       link == nullptr && port < 30000; ++port) {
    actors::node_link_options lo;
    lo.port = port;
    if ("127.0.0.1:" + std::to_string(port) >= peer_name) break;
    auto started = e->start_network(
        lo, [](std::string, std::function<void(std::string)> reply) { reply("unused"); });
    if (started) link = *started;
    if (!started && started.err().code == errc::invalid_argument) break;
  }
  check(link != nullptr, "link: no port below " + peer_name + " to connect from");
  const node_address peer{"127.0.0.1", peer_port};
  const std::string payload(request_bytes, 'q');
  {  // the connection, made before the timing
    std::promise<bool> first;
    link->request(peer, payload, [&](result<std::string> r) { first.set_value(r.has_value()); });
    check(first.get_future().get(), "link: the answering node cannot be reached");
  }
  const auto out = keep_in_flight(n, window, [&](std::function<void(bool)> done) {
    link->request(peer, payload, [done = std::move(done)](result<std::string> r) {
      done(r && r->size() == answer_bytes);
    });
  });
  std::printf("%.9f %.9f %zu\n", out.seconds, out.cpu_s, out.wrong);
  std::fflush(stdout);
  e->stop();
  return 0;
}

int ask_by_caf(std::uint16_t peer_port, std::size_t n, std::size_t window) {
  bare_system b;
  auto peer = caf::io::remote_actor(b.sys, "127.0.0.1", peer_port);
  check(static_cast<bool>(peer), peer ? std::string{} : "link: caf: " + b.sys.render(peer.error()));
  const caf::actor answering = *peer;
  // One asking actor: it sends `window` requests, then one more per answer.
  std::atomic<std::size_t> sent{0}, answered{0}, wrong{0};
  std::promise<void> all_in;
  const auto cpu0 = cpu_seconds();
  const auto t0 = clock_type::now();
  auto actor = b.sys.spawn([&, answering](caf::event_based_actor* self) -> caf::behavior {
    auto one = [=, &sent] {
      sent.fetch_add(1);
      self->send(answering, link_ask_atom::value, std::string(request_bytes, 'q'));
    };
    for (std::size_t i = 0; i < std::min(window, n); ++i) one();
    return {
        [=, &sent, &answered, &wrong, &all_in](link_answer_atom, const std::string& a) {
          if (a.size() != answer_bytes) wrong.fetch_add(1);
          if (answered.fetch_add(1) + 1 == n) {
            all_in.set_value();
            self->quit();
            return;
          }
          if (sent.load() < n) one();
        },
    };
  });
  all_in.get_future().wait();
  const double seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  const double cpu = cpu_seconds() - cpu0;
  std::printf("%.9f %.9f %zu\n", seconds, cpu, wrong.load());
  std::fflush(stdout);
  caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
  return 0;
}

int answer() {
  auto e = network_engine();
  // A port from 40000 to 49999, so that the asking side's (20000 to 29999) sorts first.
  actors::node_link* link = nullptr;
  std::string why = "no free port from 40000 to 49999";
  for (auto port = static_cast<std::uint16_t>(40000 + ::getpid() % 9000);
       link == nullptr && port < 50000; ++port) {
    actors::node_link_options lo;
    lo.port = port;
    auto started = e->start_network(lo, [](std::string, std::function<void(std::string)> reply) {
      reply(std::string(answer_bytes, 'a'));
    });
    if (started)
      link = *started;
    else
      why = to_string(started.err());
  }
  check(link != nullptr, "link: " + why);
  bare_system b;
  auto answering = b.sys.spawn(answering_actor, answer_bytes);
  auto bound = caf::io::publish(answering, 0, "127.0.0.1", true);
  check(static_cast<bool>(bound),
        bound ? std::string{} : "link: publish: " + b.sys.render(bound.error()));
  std::printf("ready %u %u\n", static_cast<unsigned>(link->port()), static_cast<unsigned>(*bound));
  std::fflush(stdout);
  for (std::string line; std::getline(std::cin, line) && line != "quit";) {
    std::printf("%.9f\n", cpu_seconds());
    std::fflush(stdout);
  }
  caf::anon_send_exit(answering, caf::exit_reason::user_shutdown);
  e->stop();
  return 0;
}

struct case_figures {
  double requests_per_s = 0;
  double ask_us = 0;     // µs of CPU per request in the asking process
  double answer_us = 0;  // and in the answering one
  double total_us() const { return ask_us + answer_us; }
};

case_figures run_case(child_process& answering, const std::string& mode, std::uint16_t port,
                      std::size_t n, std::size_t window) {
  const double answer_cpu0 = std::atof(answering.ask("cpu").c_str());
  child_process asking{
      {self_exe(), "link-peer", "--role", "ask", "--mode", mode, "--port", std::to_string(port),
       "--requests", std::to_string(n), "--in-flight", std::to_string(window)},
      "link: asking child"};
  std::istringstream seen{asking.read_line()};
  double seconds = 0, cpu = 0;
  std::size_t wrong = 0;
  seen >> seconds >> cpu >> wrong;
  check(seconds > 0, "link: the asking child (" + mode + ") reported nothing");
  check(wrong == 0, "link: " + std::to_string(wrong) + " of " + std::to_string(n) + " answers (" +
                        mode + ") were errors or of the wrong size");
  const double answer_cpu = std::atof(answering.ask("cpu").c_str()) - answer_cpu0;
  case_figures f;
  f.requests_per_s = static_cast<double>(n) / seconds;
  f.ask_us = cpu * 1e6 / static_cast<double>(n);
  f.answer_us = answer_cpu * 1e6 / static_cast<double>(n);
  return f;
}

}  // namespace

int link_peer_child(const link_peer_options& p) {
  if (p.role == "answer") return answer();
  if (p.mode == "link") return ask_by_link(p.port, p.requests, p.window);
  return ask_by_caf(p.port, p.requests, p.window);
}

void run_link(const options& o, std::size_t requests, const std::vector<std::size_t>& windows) {
  static_cast<void>(o);  // no files, no database
  check(!windows.empty(), "link: --in-flight: no window given");
  for (const auto window : windows)
    check(window >= 1, "link: --in-flight: every window must be 1 or more, found 0");
  child_process answering{{self_exe(), "link-peer", "--role", "answer"}, "link: answering child"};
  std::istringstream ready{answering.read_line()};
  std::string word;
  unsigned link_port = 0, caf_port = 0;
  ready >> word >> link_port >> caf_port;
  check(word == "ready" && link_port != 0 && caf_port != 0,
        "link: the answering child did not start");
  for (const auto window : windows) {
    std::fprintf(stderr, "[link] %zu requests, %zu in flight\n", requests, window);
    const auto by_link =
        run_case(answering, "link", static_cast<std::uint16_t>(link_port), requests, window);
    const auto by_caf =
        run_case(answering, "caf", static_cast<std::uint16_t>(caf_port), requests, window);
    for (const auto& [name, f] : {std::pair<std::string, case_figures>{"node_link", by_link},
                                  std::pair<std::string, case_figures>{"caf", by_caf}}) {
      auto r = result_line{};
      r.workload = "link";
      r.name = name + " w=" + std::to_string(window);
      r.param("in_flight", static_cast<double>(window))
          .param("requests", static_cast<double>(requests))
          .figure("requests_per_s", f.requests_per_s)
          .figure("ask_cpu_us", f.ask_us)
          .figure("answer_cpu_us", f.answer_us)
          .figure("cpu_us_per_request", f.total_us());
      if (name == "node_link") r.figure("cpu_vs_caf", f.total_us() / by_caf.total_us());
      emit(r);
    }
  }
}

}  // namespace strata::bench
