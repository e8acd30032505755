#pragma once

// What the relay tests share: the test broker's URL, a consumer on a queue of its own that
// reconnects when the broker goes away, and bounded waits.

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "strata/persistence/rabbitmq/amqp_client.hpp"

namespace strata::testing {

/// The test broker's AMQP URL (scripts/rabbitmq-test-server.sh), if one runs.
inline std::optional<std::string> test_amqp_url() {
  const char* url = std::getenv("STRATA_TEST_AMQP_URL");
  if (url == nullptr || *url == '\0') return std::nullopt;
  return std::string{url};
}

/// A name no other test uses: "<prefix>-<random>".
inline std::string unique_name(const std::string& prefix) {
  std::random_device rd;
  return prefix + "-" + std::to_string(rd()) + std::to_string(rd());
}

/// Consumes a durable queue of its own, bound to an exchange, acking every message after
/// keeping it. Survives a broker restart: `receive_until` reconnects.
class test_consumer {
 public:
  test_consumer(std::string url, std::string exchange, std::string pattern = "#")
      : url_(std::move(url)),
        exchange_(std::move(exchange)),
        pattern_(std::move(pattern)),
        queue_(unique_name("strata-test-queue")) {}

  ~test_consumer() {
    if (!connection_) (void)connect();
    if (connection_) (void)connection_->delete_queue(queue_);
  }

  /// Declares the exchange (as the relay does), the queue and its binding, and starts consuming.
  result<void> connect() {
    connection_.reset();
    auto address = persistence::parse_amqp_url(url_);
    if (!address) return std::move(address).err();
    persistence::amqp_options o;
    o.address = *address;
    auto c = persistence::amqp_connection::open(o);
    if (!c) return std::move(c).err();
    if (auto d = (*c)->declare_topic_exchange(exchange_); !d) return d;
    if (auto q = (*c)->declare_bound_queue(queue_, exchange_, pattern_); !q) return q;
    if (auto s = (*c)->consume(queue_); !s) return s;
    connection_ = std::move(*c);
    return ok();
  }

  /// Receives (and acks) until `done(received())` holds or `timeout` passed; reconnects when
  /// the connection breaks. True when `done` held. `done` is asked when the queue is idle and
  /// every 256 messages (it may look at all of them).
  template <class Done>
  bool receive_until(Done done, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool ask = true;
    while (!ask || !done(received_)) {
      ask = false;
      if (std::chrono::steady_clock::now() > deadline) return done(received_);
      if (!connection_ && !connect()) {
        ask = true;
        continue;  // the broker is not back yet
      }
      auto m = connection_->next(std::chrono::milliseconds(100));
      if (!m) {
        connection_.reset();
        ask = true;
        continue;
      }
      if (!*m) {
        ask = true;  // idle
        continue;
      }
      if (!connection_->ack((*m)->delivery_tag)) {
        connection_.reset();  // not acked: it comes again
        ask = true;
        continue;
      }
      received_.push_back(std::move(**m));
      ask = received_.size() % 256 == 0;
    }
    return true;
  }

  const std::vector<persistence::amqp_message>& received() const { return received_; }

 private:
  std::string url_;
  std::string exchange_;
  std::string pattern_;
  std::string queue_;
  std::unique_ptr<persistence::amqp_connection> connection_;
  std::vector<persistence::amqp_message> received_;
};

/// The integer header `name` of `m`, or -1.
inline std::int64_t int_header(const persistence::amqp_message& m, std::string_view name) {
  const auto* v = m.header(name);
  if (v == nullptr) return -1;
  const auto* i = std::get_if<std::int64_t>(v);
  return i == nullptr ? -1 : *i;
}

/// The string header `name` of `m`, or "(missing)".
inline std::string string_header(const persistence::amqp_message& m, std::string_view name) {
  const auto* v = m.header(name);
  if (v == nullptr) return "(missing)";
  const auto* s = std::get_if<std::string>(v);
  return s == nullptr ? "(not a string)" : *s;
}

/// How often each global position arrived.
inline std::map<std::int64_t, int> position_counts(
    const std::vector<persistence::amqp_message>& received) {
  std::map<std::int64_t, int> counts;
  for (const auto& m : received) ++counts[int_header(m, "global_position")];
  return counts;
}

/// True when positions 1..last all arrived.
inline bool has_all(const std::vector<persistence::amqp_message>& received, std::int64_t last) {
  const auto counts = position_counts(received);
  for (std::int64_t p = 1; p <= last; ++p)
    if (counts.find(p) == counts.end()) return false;
  return true;
}

}  // namespace strata::testing
