#include "strata/actors/node_link.hpp"

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "strata/actors/detail/messages.hpp"
#include "strata/actors/detail/node_link_impl.hpp"

namespace strata::actors::detail {

/// A request of a peer, on the wire: (node_request_atom, text) answered with text. Both are
/// CAF built-in types, so nothing has to be registered on either node.
using node_request_atom = caf::atom_constant<caf::atom("strata_req")>;
/// An answer coming back from the host's handler to the endpoint actor: (atom, id, text).
using node_answer_atom = caf::atom_constant<caf::atom("strata_ans")>;

struct dropped_request {
  result<std::string> operator()() const {
    return error{errc::unavailable,
                 "request to a node was dropped: the node link stopped before an answer came"};
  }
};

/// A request on its way to a peer, with its one-shot reply.
struct outbound {
  node_address peer;
  std::string payload;
  once<result<std::string>, dropped_request> done;
};
using outbound_ptr = std::shared_ptr<outbound>;

}  // namespace strata::actors::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(strata::actors::detail::outbound_ptr)

namespace strata::actors::detail {

namespace {

std::string endpoint_name(const node_address& a) {
  return a.host + ":" + std::to_string(a.port);
}

// ---- The endpoint: answers peers' requests through the host's handler.

struct endpoint_state {
  std::shared_ptr<node_request_handler> handler;
  std::uint64_t next_id = 0;
  std::unordered_map<std::uint64_t, caf::response_promise> pending;
};

caf::behavior endpoint_actor(caf::stateful_actor<endpoint_state>* self,
                             std::shared_ptr<node_request_handler> handler) {
  self->state.handler = std::move(handler);
  self->set_default_handler(caf::drop);
  return {
      [=](node_request_atom, std::string& request) -> caf::response_promise {
        auto rp = self->make_response_promise();
        const auto id = ++self->state.next_id;
        self->state.pending.emplace(id, rp);
        // The answer comes back as a message to this actor, on whatever thread the handler
        // answers from: a response promise is delivered only from its own actor.
        caf::weak_actor_ptr me{self->ctrl()};
        try {
          (*self->state.handler)(std::move(request), [me, id](std::string reply) {
            if (auto a = caf::actor_cast<caf::actor>(me))
              caf::anon_send(a, node_answer_atom::value, id, std::move(reply));
          });
        } catch (...) {  // host code must never unwind into an actor
          self->state.pending.erase(id);
          rp.deliver(caf::make_error(caf::sec::runtime_error, "the node's handler threw"));
        }
        return rp;
      },
      [=](node_answer_atom, std::uint64_t id, std::string& reply) {
        auto it = self->state.pending.find(id);
        if (it == self->state.pending.end()) return;
        it->second.deliver(std::move(reply));
        self->state.pending.erase(it);
      },
  };
}

// ---- The connector: sends requests to peers, connecting on first use.

struct peer_entry {
  caf::actor handle;
  bool connecting = false;
  std::vector<outbound_ptr> waiting;
  /// Sent on `handle` and not answered yet: failed at once when the connection is lost (CAF
  /// 0.17 fails a request to a lost remote actor only at its timeout).
  std::unordered_map<std::uint64_t, outbound_ptr> sent;
};

struct connector_state {
  node_link_options options;
  std::uint64_t next_id = 0;
  std::map<std::string, peer_entry> peers;
  std::shared_ptr<std::atomic<std::size_t>> connected;
};

void fail(const outbound_ptr& o, std::string why) {
  o->done(error{errc::unavailable, std::move(why)});
}

void send_to(caf::stateful_actor<connector_state>* self, const caf::actor& peer,
             const outbound_ptr& o) {
  const auto name = endpoint_name(o->peer);
  const auto id = ++self->state.next_id;
  self->state.peers[name].sent.emplace(id, o);
  self->request(peer, self->state.options.request_timeout, node_request_atom::value,
                std::move(o->payload))
      .then(
          [self, o, name, id](std::string& reply) {
            self->state.peers[name].sent.erase(id);
            o->done(std::move(reply));
          },
          [self, o, name, id](caf::error& e) {
            self->state.peers[name].sent.erase(id);
            fail(o, "node " + name + " did not answer: " + self->system().render(e));
          });
}

caf::behavior connector_actor(caf::stateful_actor<connector_state>* self, node_link_options options,
                              std::shared_ptr<std::atomic<std::size_t>> connected) {
  self->state.options = std::move(options);
  self->state.connected = std::move(connected);
  self->set_default_handler(caf::drop);
  self->set_down_handler([=](caf::down_msg& dm) {
    // The peer's process ended or its connection broke: the next request connects again.
    for (auto& [name, p] : self->state.peers) {
      if (p.handle && p.handle.address() == dm.source) {
        p.handle = nullptr;
        self->state.connected->fetch_sub(1, std::memory_order_relaxed);
        auto sent = std::move(p.sent);
        p.sent.clear();
        for (auto& [id, o] : sent)
          fail(o,
               "the connection to node " + name + " was lost: " + self->system().render(dm.reason));
      }
    }
  });
  return {
      [=](outbound_ptr& o) {
        const auto name = endpoint_name(o->peer);
        auto& p = self->state.peers[name];
        if (p.handle) return send_to(self, p.handle, o);
        p.waiting.push_back(std::move(o));
        if (p.connecting) return;
        p.connecting = true;
        auto mm = self->home_system().middleman().actor_handle();
        const auto& peer = p.waiting.back()->peer;
        self->request(mm, self->state.options.connect_timeout, caf::connect_atom::value, peer.host,
                      peer.port)
            .then(
                [=](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
                  auto& q = self->state.peers[name];
                  q.connecting = false;
                  auto waiting = std::move(q.waiting);
                  q.waiting.clear();
                  if (!ptr) {
                    for (auto& w : waiting) fail(w, "node " + name + " publishes no endpoint");
                    return;
                  }
                  q.handle = caf::actor_cast<caf::actor>(ptr);
                  self->monitor(q.handle);
                  self->state.connected->fetch_add(1, std::memory_order_relaxed);
                  for (auto& w : waiting) send_to(self, q.handle, w);
                },
                [=](caf::error& e) {
                  auto& q = self->state.peers[name];
                  q.connecting = false;
                  auto waiting = std::move(q.waiting);
                  q.waiting.clear();
                  for (auto& w : waiting)
                    fail(w, "cannot reach node " + name + ": " + self->system().render(e));
                });
      },
  };
}

class caf_node_link final : public node_link {
 public:
  caf_node_link(caf::actor_system& sys, caf::actor endpoint, caf::actor connector,
                std::uint16_t port, std::shared_ptr<std::atomic<std::size_t>> connected)
      : sys_(sys),
        endpoint_(std::move(endpoint)),
        connector_(std::move(connector)),
        port_(port),
        connected_(std::move(connected)) {}
  ~caf_node_link() override { stop(); }

  std::uint16_t port() const noexcept override { return port_; }

  void request(const node_address& peer, std::string payload,
               std::function<void(result<std::string>)> done) override {
    auto o = std::make_shared<outbound>();
    o->peer = peer;
    o->payload = std::move(payload);
    o->done = once<result<std::string>, dropped_request>{std::move(done)};
    if (stopped_.load(std::memory_order_acquire)) return;  // `o` answers `unavailable`
    caf::anon_send(connector_, std::move(o));
  }

  std::size_t connected_peers() const noexcept override {
    return connected_->load(std::memory_order_relaxed);
  }

  void stop() override {
    if (stopped_.exchange(true)) return;
    static_cast<void>(sys_.middleman().unpublish(endpoint_, port_));
    // Requests still waiting in the connector are dropped with it: each answers `unavailable`.
    caf::anon_send_exit(connector_, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(endpoint_, caf::exit_reason::user_shutdown);
  }

 private:
  caf::actor_system& sys_;
  caf::actor endpoint_;
  caf::actor connector_;
  std::uint16_t port_;
  std::shared_ptr<std::atomic<std::size_t>> connected_;
  std::atomic<bool> stopped_{false};
};

}  // namespace

result<std::unique_ptr<node_link>> start_node_link(caf::actor_system& sys,
                                                   node_link_options options,
                                                   node_request_handler handler) {
  auto endpoint =
      sys.spawn(endpoint_actor, std::make_shared<node_request_handler>(std::move(handler)));
  auto bound = caf::io::publish(endpoint, options.port, options.host.c_str(), true);
  if (!bound) {
    caf::anon_send_exit(endpoint, caf::exit_reason::user_shutdown);
    return error{errc::unavailable, "cannot listen for cluster peers on " + options.host + ":" +
                                        std::to_string(options.port) + ": " +
                                        sys.render(bound.error())};
  }
  auto connected = std::make_shared<std::atomic<std::size_t>>(0);
  auto connector = sys.spawn(connector_actor, options, connected);
  return std::unique_ptr<node_link>{
      new caf_node_link{sys, std::move(endpoint), std::move(connector), *bound, connected}};
}

}  // namespace strata::actors::detail
