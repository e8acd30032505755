#pragma once

// The transport between the nodes of a cluster (docs/CLUSTER.md, "Forwarding"): each node
// publishes one endpoint with CAF's network layer, and sends requests of opaque text to
// other nodes' endpoints, getting text back; requests that are sent together travel in one
// message (actors/detail/node_frames.hpp). CAF stays in actors/node_link.cpp; what is
// carried is up to the caller (actors/cluster_wire.hpp for commands).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "strata/domain/kernel/result.hpp"
#include "strata/persistence/cluster.hpp"

namespace strata::actors {

/// Where a node listens and how long it waits on its peers.
struct node_link_options {
  std::string host = "127.0.0.1";  ///< The address the endpoint binds.
  std::uint16_t port = 0;          ///< 0: any free port (`node_link::port` tells which).
  /// A connection to a peer not made within this time fails the requests waiting for it.
  std::chrono::milliseconds connect_timeout{3000};
  /// A request a peer did not answer within this time fails with `unavailable`: one check
  /// every eighth of it finds such requests, so the failure comes at most 1.125 times it
  /// after the request.
  std::chrono::milliseconds request_timeout{12000};
  /// Called on the link's thread each time a message carrying `requests` requests leaves for
  /// a peer (requests queued together leave together); must be quick, must not block and
  /// must not throw (it runs inside the link's actor).
  std::function<void(std::size_t requests)> on_sent;
};

/// TLS between nodes (docs/CLUSTER.md, "TLS"): the PEM files of CAF's OpenSSL module. With a
/// certificate set, every connection is TLS and both ends must present a certificate that
/// verifies against `ca` (and only against it); without one, connections are plaintext.
struct node_tls_options {
  std::string certificate;  ///< This node's certificate (chain).
  std::string key;          ///< Its private key.
  std::string ca;           ///< The CA certificate(s) a peer's certificate must verify against.
  std::string passphrase;   ///< Decrypts `key`; empty when it is not encrypted.

  bool enabled() const noexcept { return !certificate.empty(); }
};

/// Loads the files exactly as the TLS layer will on every connection, so that a node fails at
/// start rather than on its first connection: the certificate, the key (which must match the
/// certificate) and the CA. Errors: `invalid_argument` whose message starts with the field's
/// name: `key: /etc/node.key does not hold the private key of the certificate`.
result<void> check_node_tls(const node_tls_options& tls);

/// Answers one request of a peer: calls `reply` exactly once, from any thread.
using node_request_handler =
    std::function<void(std::string request, std::function<void(std::string reply)> reply)>;

/// One node's endpoint and its connections to the others. Owned by the engine that started
/// it (`engine::start_network`).
///
/// Thread-safety: every method may be called from any thread.
class node_link {
 public:
  virtual ~node_link() = default;

  /// The port the endpoint is bound to.
  virtual std::uint16_t port() const noexcept = 0;

  /// Sends `payload` to the node at `peer` and calls `done` exactly once, on an internal
  /// thread: with the peer's reply, or `unavailable` when the peer cannot be reached, the
  /// connection is lost (at once: the requests waiting on it fail then), no reply came within
  /// the request timeout, or the link stopped.
  ///
  /// Two nodes share one connection, made by the one whose endpoint "host:port" sorts first:
  /// that node connects on its first request to the other (and again on the next one after a
  /// loss); the other's requests wait up to the connect timeout for it to connect. A host
  /// that sends to its peers regularly (the cluster pings them every heartbeat round) keeps
  /// the wait short.
  virtual void request(const node_address& peer, std::string payload,
                       std::function<void(result<std::string>)> done) = 0;

  /// Peers connected now.
  virtual std::size_t connected_peers() const noexcept = 0;

  /// Stops the endpoint (a peer's request gets an error answer from then on) and the
  /// connector; requests not answered yet get `unavailable`. The port and the connections
  /// close with the actor system. Idempotent.
  virtual void stop() = 0;
};

}  // namespace strata::actors
