#pragma once

// A small AMQP 0-9-1 client over rabbitmq-c: one connection, one channel, publishing with
// publisher confirms, and consuming for tests and tools. librabbitmq stays behind this header.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "strata/domain/kernel/result.hpp"
#include "strata/persistence/amqp_url.hpp"

namespace strata::persistence {

/// A header value: a string or a signed integer.
using amqp_header_value = std::variant<std::string, std::int64_t>;

/// One message to publish or one that was received.
struct amqp_message {
  std::string exchange;
  std::string routing_key;
  std::string body;
  std::string content_type;
  std::string message_id;
  std::string type;
  bool persistent = true;  ///< delivery_mode 2
  std::vector<std::pair<std::string, amqp_header_value>> headers;
  std::uint64_t delivery_tag = 0;  ///< Received messages: what `ack` takes.
  bool redelivered = false;        ///< Received messages.

  /// The header `name`, if any.
  const amqp_header_value* header(std::string_view name) const noexcept;
};

struct amqp_options {
  amqp_address address;
  std::chrono::milliseconds connect_timeout{5000};
  std::uint16_t heartbeat_seconds = 0;  ///< 0: no heartbeats.
};

/// One AMQP connection with one open channel (number 1).
///
/// Thread-safety: one thread at a time. Every call returns an error value (never throws); after
/// `unavailable` the connection is unusable and should be dropped.
class amqp_connection {
 public:
  /// Connects, logs in and opens channel 1. Errors: `unavailable` when the broker cannot be
  /// reached or refuses the login (the message says which).
  static result<std::unique_ptr<amqp_connection>> open(const amqp_options& options);

  ~amqp_connection();
  amqp_connection(const amqp_connection&) = delete;
  amqp_connection& operator=(const amqp_connection&) = delete;

  /// Declares a durable topic exchange (idempotent). Errors: `unavailable`, or
  /// `invalid_argument` when it exists with another type (the channel is then closed).
  result<void> declare_topic_exchange(const std::string& name);

  /// Puts the channel in confirm mode (confirm.select); every later `publish` is then
  /// numbered from 1 and `wait_for_confirms` waits for the broker's acks.
  result<void> enable_confirms();

  /// Publishes `m` (not mandatory). Errors: `unavailable` when the socket failed.
  result<void> publish(const amqp_message& m);

  /// Waits up to `timeout` until the broker has confirmed every message published so far.
  /// Errors: `timeout` when some are still unconfirmed; `unavailable` when the broker nacked
  /// one (it could not take responsibility for it), closed the channel or the connection broke.
  result<void> wait_for_confirms(std::chrono::milliseconds timeout);

  /// Handles what the broker sent meanwhile without waiting (confirms, or a close, which makes
  /// it `unavailable`): how an idle publisher learns that the broker went away.
  result<void> poll();

  /// Declares a durable queue `queue` (idempotent) and binds it to `exchange` with `pattern`.
  result<void> declare_bound_queue(const std::string& queue, const std::string& exchange,
                                   const std::string& pattern);

  /// Deletes queue `queue` (if it exists).
  result<void> delete_queue(const std::string& queue);

  /// Starts consuming `queue` with manual acks and a prefetch of `prefetch` messages.
  result<void> consume(const std::string& queue, std::uint16_t prefetch = 100);

  /// The next delivered message, or nothing after `timeout`. Errors: `unavailable`.
  result<std::optional<amqp_message>> next(std::chrono::milliseconds timeout);

  /// Acknowledges the delivery `delivery_tag`.
  result<void> ack(std::uint64_t delivery_tag);

  /// Closes the channel and the connection politely (the destructor does it too).
  void close() noexcept;

 private:
  struct impl;
  explicit amqp_connection(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace strata::persistence
