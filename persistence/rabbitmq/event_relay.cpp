#include "strata/persistence/rabbitmq/event_relay.hpp"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "strata/domain/kernel/time.hpp"
#include "strata/metrics/metrics.hpp"
#include "strata/persistence/record_json.hpp"

namespace strata::persistence {

result<amqp_message> relay_message(const event_record& r, const std::string& exchange) {
  auto body = to_json_text(r);
  if (!body) return std::move(body).err();
  amqp_message m;
  m.exchange = exchange;
  m.routing_key = r.aggregate_type + "." + r.event_type;
  m.body = std::move(*body);
  m.content_type = "application/json";
  m.message_id = r.event_id;
  m.type = r.event_type;
  m.persistent = true;
  m.headers = {
      {"global_position", static_cast<std::int64_t>(r.position.value)},
      {"aggregate_type", r.aggregate_type},
      {"aggregate_id", r.aggregate_id},
      {"version", static_cast<std::int64_t>(r.stream_version.value)},
      {"event_type", r.event_type},
      {"schema_version", static_cast<std::int64_t>(r.schema_version)},
      {"correlation_id", r.correlation_id},
      {"causation_id", r.causation_id},
      {"command_id", r.command_id},
      {"user_id", r.user_id},
      {"timestamp", to_iso8601(r.time)},
  };
  return m;
}

struct event_relay::impl {
  event_relay_options options;
  std::unique_ptr<journal> log_reader;
  std::unique_ptr<projection_store> store;
  std::shared_ptr<metrics::registry> registry;
  std::shared_ptr<log_sink> log;
  checkpoint position;  ///< Confirmed and stored.

  std::atomic<std::uint64_t> confirmed{0};
  std::atomic<std::uint64_t> lag{0};
  std::atomic<bool> is_connected{false};

  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  std::uint64_t idle_rounds = 0;  ///< Reads that found nothing new; `drain` waits on it.
  std::thread thread;

  std::unique_ptr<amqp_connection> broker;
  bool had_connection = false;
  bool reported_outage = false;
  std::chrono::milliseconds backoff{0};
  std::optional<checkpoint> unsaved;  ///< Confirmed by the broker, not stored yet.

  /// Waits `d` or until stopped; true when stopping.
  bool pause(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock{mutex};
    return wake.wait_for(lock, d, [&] { return stopping; });
  }

  bool stop_requested() {
    std::lock_guard<std::mutex> lock{mutex};
    return stopping;
  }

  /// After a failure: counts it, reports it (once per outage at warning level) and waits the
  /// current backoff, which then doubles up to the maximum.
  bool back_off(const error& e) {
    registry->relay().failed();
    if (!reported_outage) {
      log->write(log_level::warning, "relay",
                 to_string(e) + "; retrying with backoff up to " +
                     std::to_string(options.backoff_max.count()) + " ms");
      reported_outage = true;
    } else {
      log->write(log_level::debug, "relay", to_string(e));
    }
    if (backoff < options.backoff_min) backoff = options.backoff_min;
    const auto wait = backoff;
    backoff = std::min(options.backoff_max, backoff * 2);
    return pause(wait);
  }

  void drop_broker() {
    if (broker) broker->close();
    broker.reset();
    is_connected = false;
    registry->relay().set_connected(false);
    wake.notify_all();  // a `drain` waits no longer
  }

  result<void> connect() {
    auto c = amqp_connection::open(options.broker);
    if (!c) return std::move(c).err();
    if (auto d = (*c)->declare_topic_exchange(options.exchange); !d) return d;
    if (auto s = (*c)->enable_confirms(); !s) return s;
    broker = std::move(*c);
    is_connected = true;
    registry->relay().set_connected(true);
    if (had_connection) registry->relay().reconnected();
    had_connection = true;
    log->write(reported_outage ? log_level::warning : log_level::info, "relay",
               "publishing to exchange '" + options.exchange + "' at " +
                   options.broker.address.host + ":" + std::to_string(options.broker.address.port) +
                   " from position " + std::to_string(position.position.value));
    return ok();
  }

  result<void> save(const checkpoint& c) {
    auto tx = store->begin();
    if (!tx) return std::move(tx).err();
    if (auto s = (*tx)->save_checkpoint(options.checkpoint_name, c); !s) return s;
    return (*tx)->commit();
  }

  void note_head() {
    auto head = log_reader->last_position();
    if (!head) return;
    const auto behind = *head > position.position ? head->value - position.position.value : 0;
    lag = behind;
    registry->relay().progress(position.position, *head);
  }

  /// Publishes one batch after the checkpoint and waits for its confirms. True when it found
  /// nothing to publish.
  result<bool> relay_batch() {
    auto records = log_reader->read_all(position.position, options.batch_events);
    if (!records) return std::move(records).err();
    if (records->empty()) {
      if (auto alive = broker->poll(); !alive) return std::move(alive).err();
      note_head();
      {
        std::lock_guard<std::mutex> lock{mutex};
        ++idle_rounds;
      }
      wake.notify_all();
      return true;
    }
    for (const auto& r : *records) {
      auto m = relay_message(r, options.exchange);
      if (!m) return std::move(m).err();
      if (auto p = broker->publish(*m); !p) return std::move(p).err();
    }
    if (auto c = broker->wait_for_confirms(options.confirm_timeout); !c) return std::move(c).err();
    registry->relay().published(records->size());
    checkpoint next{records->back().position, records->back().time};
    unsaved = next;
    if (auto s = save(next); !s) return std::move(s).err();
    unsaved.reset();
    position.position = next.position;
    position.last_event_time = next.last_event_time;
    confirmed = position.position.value;
    note_head();
    return false;
  }

  void run() {
    while (!stop_requested()) {
      if (unsaved) {  // confirmed by the broker; only its store write is missing
        if (auto s = save(*unsaved); !s) {
          if (back_off(s.err())) break;
          continue;
        }
        position.position = unsaved->position;
        position.last_event_time = unsaved->last_event_time;
        confirmed = position.position.value;
        unsaved.reset();
      }
      if (!broker) {
        if (auto c = connect(); !c) {
          drop_broker();
          if (back_off(c.err())) break;
          continue;
        }
      }
      auto idle = relay_batch();
      if (!idle) {
        // A journal read or a store write can fail without the broker being at fault; then
        // the connection stays, and only what was published unconfirmed is sent again.
        const auto& e = idle.err();
        if (e.code == errc::unavailable || e.code == errc::timeout) {
          if (broker && !unsaved) drop_broker();
        }
        if (back_off(e)) break;
        continue;
      }
      backoff = options.backoff_min;
      if (reported_outage) {
        reported_outage = false;
      }
      if (*idle && pause(options.poll_interval)) break;
    }
    drop_broker();
  }
};

event_relay::event_relay(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

event_relay::~event_relay() {
  stop();
}

result<std::unique_ptr<event_relay>> event_relay::start(
    event_relay_options options, std::shared_ptr<journal_factory> journals,
    std::shared_ptr<projection_store_factory> stores, std::shared_ptr<metrics::registry> metrics,
    std::shared_ptr<log_sink> log) {
  assert(journals && stores && metrics && log);
  auto p = std::make_unique<impl>();
  p->options = std::move(options);
  p->options.batch_events = std::max<std::size_t>(p->options.batch_events, 1);
  p->registry = std::move(metrics);
  p->log = std::move(log);
  auto j = journals->open();
  if (!j) return std::move(j).err();
  p->log_reader = std::move(*j);
  auto s = stores->open();
  if (!s) return std::move(s).err();
  p->store = std::move(*s);
  auto last = p->log_reader->last_position();
  if (!last) return std::move(last).err();
  auto cp = p->store->load_checkpoint(p->options.checkpoint_name);
  if (!cp) return std::move(cp).err();
  const std::string& id = p->log_reader->id();
  const std::string& name = p->options.checkpoint_name;
  if (!cp->journal_id.empty() && !id.empty() && cp->journal_id != id)
    return error{errc::conflict, "the relay's checkpoint '" + name + "' counts journal " +
                                     cp->journal_id + ", not this runtime's journal " + id +
                                     "; delete that checkpoint row to publish this journal from "
                                     "its start"};
  if (*last < cp->position)
    return error{errc::conflict, "the relay's checkpoint '" + name + "' is at position " +
                                     std::to_string(cp->position.value) +
                                     ", past this journal's last position " +
                                     std::to_string(last->value)};
  if (cp->journal_id.empty() && !id.empty()) {
    cp->journal_id = id;
    if (auto saved = p->save(*cp); !saved) return std::move(saved).err();
  }
  p->position = std::move(*cp);
  p->confirmed = p->position.position.value;
  p->lag = *last > p->position.position ? last->value - p->position.position.value : 0;
  p->registry->relay().progress(p->position.position, *last);
  p->registry->relay().set_connected(false);
  auto* raw = p.get();
  p->thread = std::thread{[raw] { raw->run(); }};
  return std::unique_ptr<event_relay>{new event_relay{std::move(p)}};
}

bool event_relay::drain(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock{impl_->mutex};
  // Two empty reads: the first may have begun before the call.
  const auto target = impl_->idle_rounds + 2;
  return impl_->wake.wait_for(lock, timeout, [&] {
    return impl_->stopping || !impl_->is_connected || impl_->idle_rounds >= target;
  }) && impl_->idle_rounds >= target;
}

void event_relay::stop() noexcept {
  {
    std::lock_guard<std::mutex> lock{impl_->mutex};
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

global_position event_relay::confirmed() const noexcept {
  return global_position{impl_->confirmed.load()};
}

std::uint64_t event_relay::lag() const noexcept {
  return impl_->lag.load();
}

bool event_relay::connected() const noexcept {
  return impl_->is_connected.load();
}

}  // namespace strata::persistence
