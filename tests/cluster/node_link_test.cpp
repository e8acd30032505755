// The node link's answers to a peer that breaks the protocol (actors/node_link.cpp), over a
// real connection between two processes: a batch the endpoint cannot read, a frame that is not
// a request, and an answer that fails every request in flight. Only a broken or hostile peer
// sends these, so the other cluster cases, whose peers are strata nodes, never do. The peer
// here is a bare CAF actor system in a child process (forked before the parent starts one: two
// systems in one process would share a node id).

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "strata/actors/detail/node_frames.hpp"
#include "strata/actors/detail/node_link_impl.hpp"
#include "tests/support/wait_until.hpp"

namespace strata::cluster_testing {
namespace {

using actors::detail::append_frame;
using actors::detail::frame_kind;
using actors::detail::parse_frames;

// The link's messages by their names on the wire (actors/node_link.cpp).
using batch_atom = caf::atom_constant<caf::atom("strata_bat")>;
using replies_atom = caf::atom_constant<caf::atom("strata_rep")>;
using hello_atom = caf::atom_constant<caf::atom("strata_hi")>;

constexpr auto bounded = std::chrono::seconds{30};

// An actor system with CAF's network layer, as each side of a case runs one.
struct network_system {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  network_system() : sys{configured(cfg)} {}

 private:
  static caf::actor_system_config& configured(caf::actor_system_config& cfg) {
    cfg.set("scheduler.max-threads", 2);
    cfg.load<caf::io::middleman>();
    return cfg;
  }
};

// A pipe carrying one number each way between the test and its child.
struct channel {
  int fd[2] = {-1, -1};
  channel() { REQUIRE(::pipe(fd) == 0); }
  ~channel() {
    for (int f : fd)
      if (f >= 0) ::close(f);
  }
  void close_end(int i) {
    ::close(fd[i]);
    fd[i] = -1;
  }
  void put(std::uint32_t v) const { static_cast<void>(::write(fd[1], &v, sizeof v)); }
  // The number, or 0 when the other end closed first.
  std::uint32_t take() const {
    std::uint32_t v = 0;
    return ::read(fd[0], &v, sizeof v) == static_cast<ssize_t>(sizeof v) ? v : 0;
  }
};

// A child process running `child(up, down)`, which never returns: `up` carries numbers to the
// test, `down` to the child. Each side closes the ends it does not use.
template <class Child>
pid_t fork_child(channel& up, channel& down, Child child) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    up.close_end(0);
    down.close_end(1);
    child(up, down);
  }
  up.close_end(1);
  down.close_end(0);
  return pid;
}

// Waits, at most the bound, for the child to exit and returns its exit status; -1 when it did
// not exit normally, or was still running (it is killed then).
int reap(pid_t pid) {
  int status = 0;
  pid_t done = 0;
  const bool exited = testing::wait_until(
      [&] {
        done = ::waitpid(pid, &status, WNOHANG);
        return done != 0;
      },
      bounded);
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return -1;
  }
  return done == pid && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// ---- The child of the first case: a node's link, answering every request with "echo:" and it.

[[noreturn]] void serve_a_link(channel& port_out, channel& done_in) {
  int code = 1;
  try {
    network_system net;
    auto& sys = net.sys;
    actors::node_link_options o;
    auto link = actors::detail::start_node_link(
        sys, o, [](std::string request, std::function<void(std::string)> reply) {
          reply("echo:" + request);
        });
    if (link) {
      port_out.put((*link)->port());
      static_cast<void>(done_in.take());  // until the test closes its end
      (*link)->stop();
      code = 0;
    }
  } catch (...) {
    code = 2;  // never unwind into the forked test runner
  }
  ::_exit(code);
}

// Every frame of the answers `self` receives until `ids` are all answered (or the bound).
std::vector<std::pair<std::uint64_t, std::pair<frame_kind, std::string>>> answers_for(
    caf::scoped_actor& self, std::vector<std::uint64_t> ids) {
  std::vector<std::pair<std::uint64_t, std::pair<frame_kind, std::string>>> got;
  bool timed_out = false;
  while (!ids.empty() && !timed_out) {
    self->receive(
        [&](replies_atom, const std::string& text) {
          auto frames = parse_frames(text);
          REQUIRE_MESSAGE(frames, to_string(frames.err()));
          for (const auto& f : *frames) {
            got.push_back({f.id, {f.kind, std::string{f.body}}});
            ids.erase(std::remove(ids.begin(), ids.end(), f.id), ids.end());
          }
        },
        caf::after(bounded) >> [&] { timed_out = true; });
  }
  CHECK_MESSAGE(ids.empty(), "no answer within 30 s for " << ids.size() << " request(s)");
  return got;
}

TEST_CASE(
    "a node answers a batch it cannot read with one failure for all of it, and a frame "
    "that is not a request with a failure of its own") {
  channel port, done;
  const pid_t pid = fork_child(port, done, serve_a_link);
  const std::uint32_t node_port = port.take();
  REQUIRE(node_port != 0);
  {
    network_system net;
    auto& sys = net.sys;
    auto endpoint = caf::io::remote_actor(sys, "127.0.0.1", static_cast<std::uint16_t>(node_port));
    REQUIRE_MESSAGE(endpoint, sys.render(endpoint.error()));
    caf::scoped_actor self{sys};

    // Four bytes of a frame header: the batch ends inside its first frame.
    self->send(*endpoint, batch_atom::value, std::string{"\x01\x00\x00\x00", 4});
    auto unread = answers_for(self, {0});
    REQUIRE(unread.size() == 1);
    CHECK(unread[0].first == 0);
    CHECK(unread[0].second.first == frame_kind::failure);
    CHECK(unread[0].second.second.rfind("could not read a batch of requests: ", 0) == 0);

    // A reply where a request belongs, beside a request: each gets its own answer.
    std::string mixed;
    REQUIRE(append_frame(mixed, 5, frame_kind::reply, "not a question"));
    REQUIRE(append_frame(mixed, 6, frame_kind::request, "hello"));
    self->send(*endpoint, batch_atom::value, mixed);
    auto answered = answers_for(self, {5, 6});
    REQUIRE(answered.size() == 2);
    for (const auto& answer : answered) {
      // Named references, not a structured binding: INFO captures them in a lambda.
      const std::uint64_t id = answer.first;
      const auto& a = answer.second;
      INFO("frame " << id);
      if (id == 5) {
        CHECK(a.first == frame_kind::failure);
        CHECK(a.second == "it received a frame that is not a request");
      } else {
        CHECK(id == 6);
        CHECK(a.first == frame_kind::reply);
        CHECK(a.second == "echo:hello");
      }
    }
  }
  done.close_end(1);
  CHECK(reap(pid) == 0);
}

// ---- The child of the second case: a peer that says it cannot read any batch.

struct refusing_state {
  std::size_t batches = 0;
};

// Answers every batch with one failure frame of id 0 carrying `reason`. (An argument also keeps
// CAF 0.17 from spawning a function actor without any, which UBSan reports in CAF's own code.)
caf::behavior refusing_endpoint(caf::stateful_actor<refusing_state>* self, std::string reason) {
  return {
      [=](batch_atom, const std::string&) {
        ++self->state.batches;
        std::string all;
        static_cast<void>(append_frame(all, 0, frame_kind::failure, reason));
        auto to = caf::actor_cast<caf::actor>(self->current_sender());
        if (to) self->send(to, replies_atom::value, std::move(all));
      },
      [=](hello_atom, const caf::actor&, const std::string&) {},
  };
}

// ---- The child of the third case: a peer that never answers.

struct silent_state {
  std::size_t batches = 0;
};

caf::behavior silent_endpoint(caf::stateful_actor<silent_state>* self, std::string) {
  return {
      [=](batch_atom, const std::string&) { ++self->state.batches; },
      [=](hello_atom, const caf::actor&, const std::string&) {},
  };
}

// Publishes a refusing (or, with `silent`, a silent) endpoint and tells its port; told the
// test's port, it behaves as a strata node would: of the two, the node whose "host:port" sorts
// first connects and introduces itself, the other waits to be connected to. (Were both to
// connect, CAF would close one connection as redundant, failing what was sent on it.)
[[noreturn]] void serve_a_peer(channel& port_out, channel& test_port_in, bool silent) {
  int code = 1;
  try {
    network_system net;
    auto& sys = net.sys;
    const std::string reason = "could not read a batch of requests: test";
    auto endpoint =
        silent ? sys.spawn(silent_endpoint, reason) : sys.spawn(refusing_endpoint, reason);
    auto bound = caf::io::publish(endpoint, 0, "127.0.0.1", true);
    if (bound) {
      port_out.put(*bound);
      const std::uint32_t test_port = test_port_in.take();
      const std::string own = "127.0.0.1:" + std::to_string(*bound);
      const std::string test = "127.0.0.1:" + std::to_string(test_port);
      bool introduced = true;
      if (test_port != 0 && own < test) {
        auto link = caf::io::remote_actor(sys, "127.0.0.1", static_cast<std::uint16_t>(test_port));
        if (link) caf::anon_send(*link, hello_atom::value, endpoint, own);
        introduced = static_cast<bool>(link);
      }
      static_cast<void>(test_port_in.take());  // until the test closes its end
      code = test_port != 0 && introduced ? 0 : 1;
    }
    caf::anon_send_exit(endpoint, caf::exit_reason::user_shutdown);
  } catch (...) {
    code = 2;  // never unwind into the forked test runner
  }
  ::_exit(code);
}

// What a request to the child's peer came back with, and when it was sent and answered.
struct asked {
  std::optional<result<std::string>> answer;
  std::chrono::steady_clock::time_point sent, answered;
};

// What `ask_a_peer` saw.
struct peer_answers {
  std::uint32_t port = 0;           // the peer's
  std::vector<asked> requests;      // in the order they were sent
  std::size_t connected_after = 0;  // the link's connected peers after the last answer
  std::size_t messages = 0;         // messages of requests the link sent (its `on_sent`)
  std::size_t requests_sent = 0;    // requests in them
};

// Forks a refusing (or, with `silent`, a silent) peer and sends it `count` requests through a
// link whose request timeout is `request_timeout`. Each request is waited for at most the
// bound.
peer_answers ask_a_peer(bool silent, std::chrono::milliseconds request_timeout, int count) {
  channel peer_port, test_port;
  const pid_t pid = fork_child(
      peer_port, test_port, [silent](channel& out, channel& in) { serve_a_peer(out, in, silent); });
  peer_answers seen;
  seen.port = peer_port.take();
  REQUIRE(seen.port != 0);
  seen.requests.resize(static_cast<std::size_t>(count));
  // Before the actor system: the link answers what it still holds when the system goes.
  std::vector<std::promise<void>> answered(seen.requests.size());
  std::vector<std::future<void>> waiting;  // taken before any answer can be set
  for (auto& a : answered) waiting.push_back(a.get_future());
  {
    network_system net;
    actors::node_link_options o;
    o.connect_timeout = std::chrono::seconds{60};
    o.request_timeout = request_timeout;
    auto messages = std::make_shared<std::atomic<std::size_t>>(0);
    auto requests_sent = std::make_shared<std::atomic<std::size_t>>(0);
    o.on_sent = [messages, requests_sent](std::size_t requests) {
      messages->fetch_add(1);
      requests_sent->fetch_add(requests);
    };
    auto link = actors::detail::start_node_link(
        net.sys, o, [](std::string, std::function<void(std::string)> reply) { reply("unused"); });
    REQUIRE_MESSAGE(link, to_string(link.err()));
    test_port.put((*link)->port());

    // Whichever of the two connects (the one whose "host:port" sorts first), the requests
    // reach the peer over one connection.
    const node_address peer{"127.0.0.1", static_cast<std::uint16_t>(seen.port)};
    for (std::size_t i = 0; i < seen.requests.size(); ++i) {
      auto& a = seen.requests[i];
      a.sent = std::chrono::steady_clock::now();
      (*link)->request(peer, "request " + std::to_string(i),
                       [&a, &done = answered[i]](result<std::string> r) {
                         a.answered = std::chrono::steady_clock::now();
                         a.answer = std::move(r);
                         done.set_value();
                       });
    }
    for (std::size_t i = 0; i < seen.requests.size(); ++i) {
      INFO("request " << i);
      REQUIRE(waiting[i].wait_for(bounded) == std::future_status::ready);
    }
    seen.connected_after = (*link)->connected_peers();
    (*link)->stop();
    seen.messages = messages->load();
    seen.requests_sent = requests_sent->load();
  }
  test_port.close_end(1);
  CHECK(reap(pid) == 0);
  return seen;
}

TEST_CASE(
    "a peer's answer that fails every request fails each request in flight to it at once, "
    "with the peer's reason, not at the request timeout") {
  // A request timeout of ten minutes: the answers come well before it.
  const auto seen = ask_a_peer(false, std::chrono::minutes{10}, 3);
  for (const auto& a : seen.requests) {
    REQUIRE(a.answer);
    REQUIRE_FALSE(*a.answer);
    CHECK(a.answer->err().code == errc::unavailable);
    CHECK(a.answer->err().message == "node 127.0.0.1:" + std::to_string(seen.port) +
                                         " could not read a batch of requests: test");
  }
}

TEST_CASE(
    "a request a peer does not answer fails with unavailable after the request timeout, not "
    "before it, and keeps the connection") {
  constexpr auto timeout = std::chrono::milliseconds{400};
  const auto seen = ask_a_peer(true, timeout, 3);
  for (const auto& a : seen.requests) {
    REQUIRE(a.answer);
    REQUIRE_FALSE(*a.answer);
    CHECK(a.answer->err().code == errc::unavailable);
    CHECK(a.answer->err().message ==
          "node 127.0.0.1:" + std::to_string(seen.port) + " did not answer within 400 ms");
    // The link keeps the timeout from the moment it queued the request, which is after
    // `sent`: an earlier failure would be a request given up too soon.
    CHECK(a.answered - a.sent >= timeout);
  }
  // A peer that is slow to answer is not a lost connection.
  CHECK(seen.connected_after == 1);
  // The three requests left in one message or more, each counted once.
  CHECK(seen.requests_sent == 3);
  CHECK(seen.messages >= 1);
  CHECK(seen.messages <= 3);
}

}  // namespace
}  // namespace strata::cluster_testing
