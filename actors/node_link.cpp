#include "strata/actors/node_link.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include "strata/actors/detail/messages.hpp"
#include "strata/actors/detail/node_frames.hpp"
#include "strata/actors/detail/node_link_impl.hpp"

namespace strata::actors::detail {

/// Requests of a peer's connector to this node's endpoint, on the wire: (atom, frames), one
/// request frame each (actors/detail/node_frames.hpp). Atom and text are CAF built-in types,
/// so nothing has to be registered on either node.
using node_batch_atom = caf::atom_constant<caf::atom("strata_bat")>;
/// The endpoint's answers to them, sent back to that connector: (atom, frames), a reply or a
/// failure frame each, with the ids of the requests.
using node_replies_atom = caf::atom_constant<caf::atom("strata_rep")>;
/// An actor sends itself this once it has a batch to send: the ordinary messages already in
/// its mailbox are handled before it, so what arrives together leaves together.
using node_flush_atom = caf::atom_constant<caf::atom("strata_fl")>;
/// The connector's check for requests that reached the request timeout: (atom).
using node_expire_atom = caf::atom_constant<caf::atom("strata_exp")>;
/// An answer coming back from the host's handler to the endpoint actor: (atom, id, text).
using node_answer_atom = caf::atom_constant<caf::atom("strata_ans")>;
/// A node that connected to a peer introduces its own endpoint: (atom, endpoint, "host:port").
/// The peer then sends its requests over the same connection instead of opening a second one
/// (CAF 0.17 closes such a redundant connection, and over TLS that close also loses the
/// route of the first one: requests time out and the peer's handle goes down).
using node_hello_atom = caf::atom_constant<caf::atom("strata_hi")>;
/// A request waiting for a peer to connect has waited the connect timeout: (atom, peer, id).
using node_wait_atom = caf::atom_constant<caf::atom("strata_wt")>;
/// The link tells its connector the endpoint and name it introduces: (atom, endpoint, name).
using node_self_atom = caf::atom_constant<caf::atom("strata_me")>;

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
  std::uint64_t wait_id = 0;  ///< Names it while it waits for the peer to connect.
  /// When it fails with `unavailable` unless answered: set as it is queued for its peer.
  std::chrono::steady_clock::time_point expires;
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

/// A batch is sent at once, without waiting for the flush, when it reaches this size.
constexpr std::size_t batch_limit = 256 * 1024;

/// Answers not sent yet to one peer's connector.
struct reply_batch {
  caf::actor to;
  std::string frames;
};

struct endpoint_state {
  std::shared_ptr<node_request_handler> handler;
  caf::actor connector;  ///< This node's connector, told of peers that introduce themselves.
  std::uint64_t next_id = 0;
  /// A request being answered: whose connector asked, and its id there.
  struct asker {
    caf::actor to;
    std::uint64_t id;
  };
  std::unordered_map<std::uint64_t, asker> pending;
  std::vector<reply_batch> out;
  bool flush_sent = false;
};

void send_replies(caf::stateful_actor<endpoint_state>* self, reply_batch& b) {
  if (b.frames.empty()) return;
  self->send(b.to, node_replies_atom::value, std::move(b.frames));
  b.frames.clear();
}

void queue_reply(caf::stateful_actor<endpoint_state>* self, const caf::actor& to, std::uint64_t id,
                 frame_kind kind, std::string_view body) {
  auto& out = self->state.out;
  // The same proxy object, not an equal handle: after a peer reconnects, the old connection's
  // proxy of its connector compares equal to the new one (same actor and node id), and a
  // message to the old one is dropped.
  const auto* target = caf::actor_cast<caf::abstract_actor*>(to);
  auto it = std::find_if(out.begin(), out.end(), [&](const reply_batch& b) {
    return caf::actor_cast<caf::abstract_actor*>(b.to) == target;
  });
  if (it == out.end()) it = out.insert(out.end(), reply_batch{to, {}});
  if (!append_frame(it->frames, id, kind, body))
    static_cast<void>(append_frame(it->frames, id, frame_kind::failure,
                                   "its answer is larger than a frame can carry (4 GiB)"));
  if (it->frames.size() >= batch_limit) send_replies(self, *it);
  // Always a flush, even when the batch just left: it clears `out` for the next round.
  if (!self->state.flush_sent) {
    self->state.flush_sent = true;
    self->send(self, node_flush_atom::value);
  }
}

caf::behavior endpoint_actor(caf::stateful_actor<endpoint_state>* self,
                             std::shared_ptr<node_request_handler> handler, caf::actor connector) {
  self->state.handler = std::move(handler);
  self->state.connector = std::move(connector);
  self->set_default_handler(caf::drop);
  return {
      [=](node_batch_atom, const std::string& frames) {
        auto asker = caf::actor_cast<caf::actor>(self->current_sender());
        if (!asker) return;  // only a connector sends batches, and it is their sender
        auto requests = parse_frames(frames);
        if (!requests) {
          // Without their ids the requests cannot be answered one by one: a failure frame
          // with id 0 fails every request the asker has in flight to this node.
          std::string all;
          static_cast<void>(
              append_frame(all, 0, frame_kind::failure,
                           "could not read a batch of requests: " + requests.err().message));
          self->send(asker, node_replies_atom::value, std::move(all));
          return;
        }
        // The answers come back as messages to this actor, on whatever thread the handler
        // answers from.
        caf::weak_actor_ptr me{self->ctrl()};
        for (const auto& r : *requests) {
          if (r.id == 0) continue;  // a connector numbers its requests from 1
          if (r.kind != frame_kind::request) {
            queue_reply(self, asker, r.id, frame_kind::failure,
                        "it received a frame that is not a request");
            continue;
          }
          const auto id = ++self->state.next_id;
          self->state.pending.emplace(id, endpoint_state::asker{asker, r.id});
          try {
            (*self->state.handler)(std::string{r.body}, [me, id](std::string reply) {
              if (auto a = caf::actor_cast<caf::actor>(me))
                caf::anon_send(a, node_answer_atom::value, id, std::move(reply));
            });
          } catch (...) {  // host code must never unwind into an actor
            self->state.pending.erase(id);
            queue_reply(self, asker, r.id, frame_kind::failure, "the node's handler threw");
          }
        }
      },
      [=](node_hello_atom, caf::actor& peer, std::string& name) {
        self->send(self->state.connector, node_hello_atom::value, std::move(peer), std::move(name));
      },
      [=](node_answer_atom, std::uint64_t id, const std::string& reply) {
        auto it = self->state.pending.find(id);
        if (it == self->state.pending.end()) return;
        const auto asker = std::move(it->second);
        self->state.pending.erase(it);
        queue_reply(self, asker.to, asker.id, frame_kind::reply, reply);
      },
      [=](node_flush_atom) {
        self->state.flush_sent = false;
        for (auto& b : self->state.out) send_replies(self, b);
        // Forget the peers answered: a connector that went keeps no entry.
        self->state.out.clear();
      },
  };
}

// ---- The connector: sends requests to peers over one connection per pair of nodes.
//
// Of two nodes, the one whose endpoint name ("host:port") sorts first makes the connection
// and introduces itself over it; the other sends over that same connection and never
// connects itself. Were both to connect at once, as pings at start make likely, CAF 0.17
// would close one connection as redundant, and over TLS that loses both. The node that
// waits is not kept waiting long: every node pings its peers each heartbeat round, so the
// one that connects does so within a round of seeing the other.
//
// Requests to a peer leave in batches, and the endpoint answers in batches: each actor
// collects what it has to send and sends it when its flush message, sent to itself with the
// first item, comes up. Under load many commands travel as one message each way, and pay
// the network layer's hand-offs (actor, network thread, socket, and back) once; a lone
// request waits only for the messages already queued before it.

struct peer_entry {
  caf::actor handle;
  bool connecting = false;
  std::vector<outbound_ptr> waiting;
  /// Sent on `handle`, or in `batch` to be sent, and not answered yet: failed at once when
  /// the connection is lost (CAF 0.17 tells nothing of a message to a lost remote actor).
  std::unordered_map<std::uint64_t, outbound_ptr> sent;
  std::string batch;               ///< Request frames for the next flush.
  std::size_t batch_requests = 0;  ///< How many.
};

struct connector_state {
  node_link_options options;
  std::uint64_t next_id = 0;
  caf::actor own_endpoint;  ///< Introduced to every peer this node connects to.
  std::string own_name;     ///< "host:port" of `own_endpoint`.
  /// The middleman's actor that connects: CAF's OpenSSL one when the links are TLS.
  caf::io::middleman_actor connect_via;
  std::map<std::string, peer_entry> peers;
  std::shared_ptr<std::atomic<std::size_t>> connected;
  bool flush_sent = false;
  bool expiry_armed = false;  ///< A check for expired requests is on its way.

  /// Whether this node makes the connection to the peer named `name`.
  bool connects_to(const std::string& name) const { return own_name < name; }
};

void fail(const outbound_ptr& o, std::string why) {
  o->done(error{errc::unavailable, std::move(why)});
}

/// How often the connector looks for requests past the request timeout while any are
/// unanswered: an eighth of the timeout (at least a millisecond), so a request fails between
/// the timeout and 1.125 times it. One timer per connector, not one per batch: each timer set
/// wakes CAF 0.17's clock thread, a thread switch per batch on a busy link.
std::chrono::milliseconds expiry_period(const node_link_options& o) {
  return std::max(std::chrono::milliseconds{1}, o.request_timeout / 8);
}

void arm_expiry(caf::stateful_actor<connector_state>* self) {
  if (self->state.expiry_armed) return;
  self->state.expiry_armed = true;
  self->delayed_send(self, expiry_period(self->state.options), node_expire_atom::value);
}

void send_batch(caf::stateful_actor<connector_state>* self, peer_entry& p) {
  if (p.batch.empty()) return;
  self->send(p.handle, node_batch_atom::value, std::move(p.batch));
  arm_expiry(self);
  if (self->state.options.on_sent) self->state.options.on_sent(p.batch_requests);
  p.batch.clear();
  p.batch_requests = 0;
}

/// Queues `o` for the peer connected on `p.handle`; it leaves with the next flush.
void send_to(caf::stateful_actor<connector_state>* self, peer_entry& p, const outbound_ptr& o) {
  if (o->payload.size() > max_frame_body)
    return fail(o, "a request of " + std::to_string(o->payload.size()) +
                       " bytes is larger than a frame can carry (4 GiB)");
  const auto id = ++self->state.next_id;
  o->expires = std::chrono::steady_clock::now() + self->state.options.request_timeout;
  p.sent.emplace(id, o);
  static_cast<void>(append_frame(p.batch, id, frame_kind::request, o->payload));
  ++p.batch_requests;
  o->payload = std::string{};  // the frame holds it now
  if (p.batch.size() >= batch_limit) return send_batch(self, p);
  if (!self->state.flush_sent) {
    self->state.flush_sent = true;
    self->send(self, node_flush_atom::value);
  }
}

caf::behavior connector_actor(caf::stateful_actor<connector_state>* self, node_link_options options,
                              caf::io::middleman_actor connect_via,
                              std::shared_ptr<std::atomic<std::size_t>> connected) {
  self->state.options = std::move(options);
  self->state.connect_via = std::move(connect_via);
  self->state.connected = std::move(connected);
  self->set_default_handler(caf::drop);
  self->set_down_handler([=](caf::down_msg& dm) {
    // The peer's process ended or its connection broke: the next request connects again.
    for (auto& [name, p] : self->state.peers) {
      if (p.handle && p.handle.address() == dm.source) {
        p.handle = nullptr;
        self->state.connected->fetch_sub(1, std::memory_order_relaxed);
        p.batch.clear();
        p.batch_requests = 0;
        auto sent = std::move(p.sent);
        p.sent.clear();
        for (auto& [id, o] : sent)
          fail(o,
               "the connection to node " + name + " was lost: " + self->system().render(dm.reason));
      }
    }
  });
  return {
      [=](node_self_atom, caf::actor& endpoint, std::string& name) {
        self->state.own_endpoint = std::move(endpoint);
        self->state.own_name = std::move(name);
      },
      [=](node_hello_atom, caf::actor& endpoint, std::string& name) {
        if (!endpoint) return;
        // A peer connected to this node: use its connection, unless this node makes its own.
        auto& p = self->state.peers[name];
        if (p.connecting || p.handle == endpoint) return;
        if (p.handle) {
          if (self->state.connects_to(name)) return;
          // The peer connected again before this node saw its old connection go: the requests
          // sent on the old one will not be answered.
          self->demonitor(p.handle);
          p.batch.clear();
          p.batch_requests = 0;
          auto sent = std::move(p.sent);
          p.sent.clear();
          for (auto& [id, o] : sent)
            fail(o, "the connection to node " + name + " was replaced by a new one");
        } else {
          self->state.connected->fetch_add(1, std::memory_order_relaxed);
        }
        p.handle = std::move(endpoint);
        self->monitor(p.handle);
        auto waiting = std::move(p.waiting);
        p.waiting.clear();
        for (auto& w : waiting) send_to(self, p, w);
      },
      [=](node_wait_atom, const std::string& name, std::uint64_t wait_id) {
        auto& waiting = self->state.peers[name].waiting;
        auto it = std::find_if(waiting.begin(), waiting.end(),
                               [&](const outbound_ptr& w) { return w->wait_id == wait_id; });
        if (it == waiting.end()) return;  // sent meanwhile
        auto o = std::move(*it);
        waiting.erase(it);
        fail(o, "node " + name + " did not connect to this node within " +
                    std::to_string(self->state.options.connect_timeout.count()) +
                    " ms (of two nodes, the one whose endpoint sorts first connects)");
      },
      [=](node_flush_atom) {
        self->state.flush_sent = false;
        for (auto& entry : self->state.peers)
          if (entry.second.handle) send_batch(self, entry.second);
      },
      [=](node_replies_atom, const std::string& frames) {
        // Fails every request in flight to the peer that sent this.
        auto fail_all = [&](const std::string& why) {
          const auto from = caf::actor_cast<caf::actor_addr>(self->current_sender());
          for (auto& [name, p] : self->state.peers) {
            if (!p.handle || p.handle.address() != from) continue;
            p.batch.clear();  // failed here: not sent any more
            p.batch_requests = 0;
            auto sent = std::move(p.sent);
            p.sent.clear();
            for (auto& [id, o] : sent) fail(o, "node " + name + " " + why);
          }
        };
        auto replies = parse_frames(frames);
        if (!replies) return fail_all("sent answers that do not parse: " + replies.err().message);
        for (const auto& r : *replies) {
          if (r.id == 0) {  // ids start at 1: this one is about every request
            fail_all(std::string{r.body});
            continue;
          }
          for (auto& [name, p] : self->state.peers) {
            auto it = p.sent.find(r.id);
            if (it == p.sent.end()) continue;
            auto o = std::move(it->second);
            p.sent.erase(it);
            if (r.kind == frame_kind::reply)
              o->done(std::string{r.body});
            else
              fail(o, "node " + name + " could not answer: " + std::string{r.body});
            break;
          }
        }
      },
      [=](node_expire_atom) {
        self->state.expiry_armed = false;
        const auto now = std::chrono::steady_clock::now();
        bool unanswered = false;
        for (auto& [name, p] : self->state.peers) {
          std::vector<outbound_ptr> expired;
          for (auto it = p.sent.begin(); it != p.sent.end();) {
            if (it->second->expires > now) {
              ++it;
              continue;
            }
            expired.push_back(std::move(it->second));
            it = p.sent.erase(it);
          }
          unanswered = unanswered || !p.sent.empty();
          for (auto& o : expired)
            fail(o, "node " + name + " did not answer within " +
                        std::to_string(self->state.options.request_timeout.count()) + " ms");
        }
        if (unanswered) arm_expiry(self);
      },
      [=](outbound_ptr& o) {
        const auto name = endpoint_name(o->peer);
        auto& p = self->state.peers[name];
        if (p.handle) return send_to(self, p, o);
        if (!self->state.connects_to(name)) {
          // The peer connects to this node: the request waits for it, at most the connect
          // timeout.
          o->wait_id = ++self->state.next_id;
          self->delayed_send(self, self->state.options.connect_timeout, node_wait_atom::value, name,
                             o->wait_id);
          p.waiting.push_back(std::move(o));
          return;
        }
        p.waiting.push_back(std::move(o));
        if (p.connecting) return;
        p.connecting = true;
        const auto& peer = p.waiting.back()->peer;
        self->request(self->state.connect_via, self->state.options.connect_timeout,
                      caf::connect_atom::value, peer.host, peer.port)
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
                  self->send(q.handle, node_hello_atom::value, self->state.own_endpoint,
                             self->state.own_name);
                  self->state.connected->fetch_add(1, std::memory_order_relaxed);
                  for (auto& w : waiting) send_to(self, q, w);
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
  caf_node_link(caf::actor endpoint, caf::actor connector, std::uint16_t port,
                std::shared_ptr<std::atomic<std::size_t>> connected)
      : endpoint_(std::move(endpoint)),
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
    // The port stays open until the actor system goes, which closes it (the engine destroys
    // the system right after stopping the link); peers connecting meanwhile reach a stopped
    // endpoint and are answered with an error. No `unpublish`: CAF 0.17 answers `publish`
    // before its broker has registered the port with the multiplexer, and an `unpublish`
    // soon after can cancel both registrations in one round of the multiplexer, which then
    // never releases the port's acceptor (a leak that AddressSanitizer reports at exit).
    // Requests still waiting in the connector are dropped with it: each answers `unavailable`.
    caf::anon_send_exit(connector_, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(endpoint_, caf::exit_reason::user_shutdown);
  }

 private:
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
  auto connected = std::make_shared<std::atomic<std::size_t>>(0);
  const bool tls = sys.has_openssl_manager();
  auto connect_via = tls ? sys.openssl_manager().actor_handle() : sys.middleman().actor_handle();
  auto connector = sys.spawn(connector_actor, options, std::move(connect_via), connected);
  auto endpoint = sys.spawn(endpoint_actor,
                            std::make_shared<node_request_handler>(std::move(handler)), connector);
  // The engine loaded CAF's OpenSSL module when its links are TLS: then the endpoint accepts
  // only TLS connections from peers with a certificate of the cluster's CA, and connections
  // to peers are made the same way (docs/CLUSTER.md, "TLS").
  auto bound = tls ? caf::openssl::publish(endpoint, options.port, options.host.c_str(), true)
                   : caf::io::publish(endpoint, options.port, options.host.c_str(), true);
  if (!bound) {
    caf::anon_send_exit(endpoint, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(connector, caf::exit_reason::user_shutdown);
    return error{errc::unavailable, "cannot listen for cluster peers on " + options.host + ":" +
                                        std::to_string(options.port) + ": " +
                                        sys.render(bound.error())};
  }
  // Before any request can reach the connector (they come after this function returns).
  caf::anon_send(connector, node_self_atom::value, endpoint,
                 options.host + ":" + std::to_string(*bound));
  return std::unique_ptr<node_link>{
      new caf_node_link{std::move(endpoint), std::move(connector), *bound, connected}};
}

}  // namespace strata::actors::detail

namespace strata::actors {

namespace {

// OpenSSL's queued errors of this thread, as text, and the queue emptied.
std::string openssl_errors() {
  std::string out;
  while (const auto e = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(e, text, sizeof text);
    out += (out.empty() ? "" : "; ") + std::string{text};
  }
  return out.empty() ? std::string{"no detail"} : out;
}

// Hands the key's passphrase to OpenSSL; none at all for an unencrypted key, so that OpenSSL
// never falls back to asking on a terminal.
int passphrase_of(char* buf, int size, int, void* user) {
  const auto* passphrase = static_cast<const std::string*>(user);
  if (passphrase->empty() || size <= 0 || passphrase->size() >= static_cast<std::size_t>(size))
    return 0;
  std::memcpy(buf, passphrase->data(), passphrase->size());
  return static_cast<int>(passphrase->size());
}

// The certificate verified against the CA's store as a peer will verify it, for `purpose`
// ("ssl_client" or "ssl_server": a node is both); empty when it passes.
std::string verify_as(SSL_CTX* ctx, const char* purpose) {
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> check{X509_STORE_CTX_new(),
                                                                        X509_STORE_CTX_free};
  STACK_OF(X509)* chain = nullptr;
  SSL_CTX_get0_chain_certs(ctx, &chain);
  if (!check ||
      X509_STORE_CTX_init(check.get(), SSL_CTX_get_cert_store(ctx), SSL_CTX_get0_certificate(ctx),
                          chain) != 1 ||
      X509_STORE_CTX_set_default(check.get(), purpose) != 1)
    return openssl_errors();
  if (X509_verify_cert(check.get()) == 1) return {};
  return X509_verify_cert_error_string(X509_STORE_CTX_get_error(check.get()));
}

}  // namespace

result<void> check_node_tls(const node_tls_options& tls) {
  auto invalid = [](std::string message) {
    ERR_clear_error();
    return error{errc::invalid_argument, std::move(message)};
  };
  const std::pair<const char*, const std::string*> files[] = {
      {"certificate", &tls.certificate}, {"key", &tls.key}, {"ca", &tls.ca}};
  for (const auto& [name, path] : files) {
    if (path->empty()) return invalid(std::string{name} + ": no file named");
    std::FILE* f = std::fopen(path->c_str(), "rb");
    if (f == nullptr)
      return invalid(std::string{name} + ": cannot read " + *path + ": " + std::strerror(errno));
    std::fclose(f);
  }
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx{SSL_CTX_new(TLS_method()), SSL_CTX_free};
  if (!ctx) return error{errc::unavailable, "cannot create a TLS context: " + openssl_errors()};
  auto* c = ctx.get();
  if (SSL_CTX_use_certificate_chain_file(c, tls.certificate.c_str()) != 1)
    return invalid("certificate: " + tls.certificate +
                   " holds no usable PEM certificate: " + openssl_errors());
  SSL_CTX_set_default_passwd_cb(c, passphrase_of);
  SSL_CTX_set_default_passwd_cb_userdata(c, const_cast<std::string*>(&tls.passphrase));
  const bool key_loaded = SSL_CTX_use_PrivateKey_file(c, tls.key.c_str(), SSL_FILETYPE_PEM) == 1;
  if ((!key_loaded && ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) ||
      (key_loaded && SSL_CTX_check_private_key(c) != 1))
    return invalid("key: " + tls.key + " is not the private key of the certificate " +
                   tls.certificate);
  if (!key_loaded)
    return invalid(
        "key: " + tls.key +
        (tls.passphrase.empty()
             ? " holds no PEM private key, or an encrypted one and no passphrase is set: "
             : " holds no PEM private key the passphrase decrypts: ") +
        openssl_errors());
  if (SSL_CTX_load_verify_locations(c, tls.ca.c_str(), nullptr) != 1)
    return invalid("ca: " + tls.ca + " holds no PEM certificate: " + openssl_errors());
  for (const char* purpose : {"ssl_server", "ssl_client"})
    if (auto why = verify_as(c, purpose); !why.empty())
      return invalid("certificate: " + tls.certificate + " does not verify against the CA in " +
                     tls.ca + " for TLS " + (purpose[4] == 's' ? "server" : "client") +
                     " use (a node is both): " + why);
  ERR_clear_error();
  return ok();
}

}  // namespace strata::actors
