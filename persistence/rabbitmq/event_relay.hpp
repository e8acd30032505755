#pragma once

// The relay of committed events to a RabbitMQ topic exchange (docs/RELAY.md). No librabbitmq,
// no CAF in this header.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "strata/domain/kernel/ids.hpp"
#include "strata/domain/kernel/log.hpp"
#include "strata/domain/kernel/result.hpp"
#include "strata/persistence/event_record.hpp"
#include "strata/persistence/journal.hpp"
#include "strata/persistence/projection_store.hpp"
#include "strata/persistence/rabbitmq/amqp_client.hpp"

namespace strata::metrics {
class registry;
}

namespace strata::persistence {

/// The name of the relay's checkpoint row in the read-model store's checkpoint table.
inline constexpr const char* relay_checkpoint_name = "relay:rabbitmq";

/// The message published for `r` on `exchange`: routing key `<aggregate type>.<event type>`,
/// the body `to_json_text(r)` (content type application/json), persistent, message_id the
/// event id, type the event type, and the headers `global_position`, `aggregate_type`,
/// `aggregate_id`, `version`, `event_type`, `schema_version`, `correlation_id`,
/// `causation_id`, `command_id`, `user_id`, `timestamp`. Errors: `corrupted` when the record's
/// data is not JSON.
result<amqp_message> relay_message(const event_record& r, const std::string& exchange);

struct event_relay_options {
  amqp_options broker;                           ///< Where to publish.
  std::string exchange = "strata.events";        ///< A durable topic exchange, declared on connect.
  std::size_t batch_events = 500;                ///< Published, then confirmed, at most at a time.
  std::chrono::milliseconds backoff_min{100};    ///< First wait after a failure.
  std::chrono::milliseconds backoff_max{10000};  ///< Doubling stops here.
  std::chrono::milliseconds confirm_timeout{10000};  ///< For the broker's confirms of a batch.
  std::chrono::milliseconds poll_interval{50};       ///< Wait before reading again when caught up.
  std::string checkpoint_name = relay_checkpoint_name;
};

/// Follows the global log from its checkpoint and publishes every committed event, in global
/// order on one channel, with publisher confirms: the checkpoint (a row of the read-model
/// store's checkpoint table) moves only once the broker confirmed every message up to it. At
/// least once: after a crash the unconfirmed batch is published again. Runs on a thread of its
/// own with its own journal and store connections; while the broker is down it retries with
/// exponential backoff.
///
/// Thread-safety: `stop`, `confirmed` and `lag` may be called from any thread.
class event_relay {
 public:
  /// Opens a journal (`journals->open()`) and a store, loads the checkpoint and checks that it
  /// counts this journal's positions (recording the journal's id when it has none), then starts
  /// the thread. The broker need not be up. Errors: `conflict` when the checkpoint belongs to
  /// another journal or is past its end; the journal's or the store's.
  /// REQUIRES: every pointer non-null.
  static result<std::unique_ptr<event_relay>> start(event_relay_options options,
                                                    std::shared_ptr<journal_factory> journals,
                                                    std::shared_ptr<projection_store_factory> store,
                                                    std::shared_ptr<metrics::registry> metrics,
                                                    std::shared_ptr<log_sink> log);

  ~event_relay();
  event_relay(const event_relay&) = delete;
  event_relay& operator=(const event_relay&) = delete;

  /// Waits up to `timeout` until the relay has published (and had confirmed) everything
  /// committed before the call; returns at once when it holds no broker connection. For a
  /// clean shutdown: call it after the last command, then `stop`. True when caught up.
  bool drain(std::chrono::milliseconds timeout);

  /// Stops the thread (a batch in flight is abandoned unconfirmed: it is published again on
  /// the next start). Idempotent.
  void stop() noexcept;

  /// The last global position the broker confirmed (the checkpoint).
  global_position confirmed() const noexcept;

  /// Committed events not confirmed yet, as of the relay's last look at the journal head.
  std::uint64_t lag() const noexcept;

  /// True while the relay holds a broker connection.
  bool connected() const noexcept;

 private:
  struct impl;
  explicit event_relay(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace strata::persistence
