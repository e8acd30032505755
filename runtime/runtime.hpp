#pragma once

#include <any>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <utility>

#include "actors/aggregate_model.hpp"
#include "actors/command_result.hpp"
#include "actors/engine.hpp"
#include "domain/kernel/aggregate.hpp"
#include "domain/kernel/metadata.hpp"
#include "domain/kernel/result.hpp"
#include "domain/kernel/time.hpp"
#include "persistence/journal.hpp"
#include "runtime/config.hpp"

namespace strata {

using actors::command_result;
using actors::command_status;

/// An aggregate's state as of a version.
template <class A>
struct aggregate_view {
  typename A::state state;
  version at;  ///< The version the state reflects (0: no events).
};

/// Replacements for what the runtime would otherwise build from its configuration; tests
/// and benchmarks use them to inject a fault-injecting journal or a manual clock.
struct runtime_overrides {
  std::shared_ptr<persistence::journal_factory> journal;
  std::shared_ptr<const clock> clock;
};

/// The clock of the machine (UTC, microseconds). Thread-safe.
class system_clock final : public clock {
 public:
  timestamp now() const override;
};

/// strata embedded in a host program: it owns the actor system, the journal and the
/// metrics, and hides all of them (and CAF) behind this class.
///
/// Usage: `start` it, `register_aggregate<A>()` for each aggregate type, then `send`
/// commands and read states from any thread. Each command is answered exactly once.
///
/// Thread-safety: every method may be called from any thread, concurrently.
/// Lifetime: `stop()` (also run by the destructor) finishes in-flight commands, flushes the
/// journal and stops every actor.
class runtime {
 public:
  /// Starts a runtime. Errors: `invalid_argument` for a bad configuration; `unavailable`
  /// when the journal cannot be opened.
  static result<std::unique_ptr<runtime>> start(const runtime_config& config,
                                                runtime_overrides overrides = {});
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// Registers decider `A`. Errors: `invalid_argument` when its type is already registered
  /// or its name is not usable as a stream prefix.
  template <class A>
  result<void> register_aggregate() {
    return engine_->add_aggregate(actors::model_of<A>());
  }

  /// Sends `command` to aggregate `id` of type `A`; `done` is called exactly once, on an
  /// internal thread (keep it short, never block in it).
  template <class A>
  void send(std::string id, typename A::command command, command_metadata meta,
            std::function<void(command_result)> done) {
    engine_->send(A::type, std::move(id), std::any{std::move(command)}, std::move(meta),
                  std::move(done));
  }

  /// Sends `command` to aggregate `id` of type `A`; the future holds the outcome.
  template <class A>
  std::future<command_result> send(std::string id, typename A::command command,
                                   command_metadata meta = {}) {
    auto p = std::make_shared<std::promise<command_result>>();
    auto f = p->get_future();
    send<A>(std::move(id), std::move(command), std::move(meta),
            [p](command_result r) { p->set_value(std::move(r)); });
    return f;
  }

  /// The current state of aggregate `id` (rehydrated if not live). Errors: `not_found` for
  /// an unregistered type, journal errors as `unavailable` / `corrupted`.
  template <class A>
  std::future<result<aggregate_view<A>>> current_state(std::string id) {
    auto p = std::make_shared<std::promise<result<aggregate_view<A>>>>();
    auto f = p->get_future();
    engine_->query_state(A::type, std::move(id), [p](result<actors::state_view> v) {
      if (!v) {
        p->set_value(std::move(v).err());
        return;
      }
      const auto* s = std::any_cast<typename A::state>(&v->state);
      if (s == nullptr) {
        p->set_value(error{errc::internal, "state has an unexpected type"});
        return;
      }
      p->set_value(aggregate_view<A>{*s, v->at});
    });
    return f;
  }

  /// Commands admitted and not yet answered.
  std::size_t in_flight() const noexcept { return engine_->in_flight(); }

  /// The configuration the runtime runs with.
  const runtime_config& config() const noexcept { return config_; }

  /// Stops accepting commands, finishes those in flight (waiting at most `drain_timeout`),
  /// flushes the journal and stops every actor. Idempotent.
  void stop(std::chrono::milliseconds drain_timeout = std::chrono::seconds(30));

 private:
  runtime(runtime_config config, std::shared_ptr<persistence::journal_factory> journal,
          std::unique_ptr<actors::engine> engine);

  runtime_config config_;
  std::shared_ptr<persistence::journal_factory> journal_;
  std::unique_ptr<actors::engine> engine_;
};

}  // namespace strata
