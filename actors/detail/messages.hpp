#pragma once

// CAF message types and atoms of the actor layer: the one place where they are registered.
// Included only by actors/*.cpp. Every payload is process-local (shared_ptr), so the types are
// allowed as unsafe message types; the cluster layer will add serializable forms.

#include <any>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "strata/actors/command_result.hpp"
#include "strata/actors/engine.hpp"
#include "strata/actors/rehydration.hpp"
#include "strata/domain/kernel/metadata.hpp"
#include "strata/persistence/journal.hpp"

namespace strata::actors::detail {

/// Calls a callback at most once; if it was never called, the destructor reports the
/// command as dropped, so that no caller ever waits forever on a lost message.
template <class Result, class Fallback>
class once {
 public:
  once() = default;
  explicit once(std::function<void(Result)> f) : f_(std::move(f)) {}
  once(once&& other) noexcept : f_(std::move(other.f_)) { other.f_ = nullptr; }
  /// An armed callback that is overwritten is first answered with the fallback.
  once& operator=(once&& other) noexcept {
    if (this != &other) {
      if (f_) f_(Fallback{}());
      f_ = std::move(other.f_);
      other.f_ = nullptr;
    }
    return *this;
  }
  once(const once&) = delete;
  once& operator=(const once&) = delete;
  ~once() {
    if (f_) f_(Fallback{}());
  }
  void operator()(Result r) {
    if (!f_) return;
    auto f = std::move(f_);
    f_ = nullptr;
    f(std::move(r));
  }
  explicit operator bool() const noexcept { return static_cast<bool>(f_); }

 private:
  std::function<void(Result)> f_;
};

struct dropped_command {
  command_result operator()() const {
    command_result r;
    // Dropped by an actor that terminated (shutdown, or a crash that lost its mailbox): it was
    // never decided, or its append's answer was lost. Retrying with the same command id is
    // safe either way, which is what `unavailable` tells a caller.
    r.status = command_status::unavailable;
    r.failure = error{errc::unavailable,
                      "command was dropped by a terminated actor (not decided, or its outcome "
                      "is unknown): retry with the same command id"};
    return r;
  }
};
struct dropped_query {
  result<state_view> operator()() const {
    return error{errc::unavailable, "query was dropped by a terminated actor"};
  }
};

using steady = std::chrono::steady_clock;

/// A command on its way to an aggregate, with its one-shot reply.
struct envelope {
  std::string aggregate_id;
  std::any command;
  command_metadata meta;
  steady::time_point received;
  steady::time_point deadline;
  once<command_result, dropped_command> reply;
};
using envelope_ptr = std::shared_ptr<envelope>;

/// A read of an aggregate's current state.
struct state_query {
  std::string aggregate_id;
  once<result<state_view>, dropped_query> reply;
};
using query_ptr = std::shared_ptr<state_query>;

/// The result of rehydration, computed on a reader thread.
struct loaded {
  std::uint64_t generation = 0;
  std::uint64_t events_replayed = 0;
  std::chrono::nanoseconds took{0};
  result<void> status;
  std::any state;
  version at;
  version snapshot_at;  ///< The snapshot the state started from (0: none).
  std::vector<remembered_command> recent;
};
using loaded_ptr = std::shared_ptr<loaded>;

/// What an idle aggregate keeps in its region once its actor is gone (hibernation): all an
/// actor needs to decide the next command without reading the journal again.
struct dormant {
  std::any state;
  version at;
  version last_snapshot;  ///< The newest snapshot known to exist.
  std::vector<remembered_command> recent;
};
using dormant_ptr = std::shared_ptr<dormant>;

/// A journal writer's answer to one append.
using outcome_ptr = std::shared_ptr<persistence::stream_outcome>;

/// Records of a duplicate command, re-read from the journal: by the versions the
/// aggregate's window remembers, or (`by_id`) by the command id, through
/// `journal::find_command`, when the window no longer has it.
struct duplicate_read {
  envelope_ptr command;
  remembered_command original;
  bool by_id = false;
  /// With `by_id`: the answer when the journal has no such command (the decider's
  /// rejection); unset when the journal said it has (an append answered `duplicate`).
  std::optional<command_result> otherwise;
  result<std::vector<persistence::event_record>> records = error{errc::internal, "not read"};
};
using duplicate_ptr = std::shared_ptr<duplicate_read>;

/// A host's request to passivate the aggregates `which` selects (`engine::passivate`), shared
/// by every region: `done` runs when the last region let go of it, having marked its
/// aggregates (or when a region ended before it got to it).
struct passivation {
  std::function<bool(std::string_view type, std::string_view id)> which;
  std::function<void()> done;
  passivation() = default;
  passivation(const passivation&) = delete;
  passivation& operator=(const passivation&) = delete;
  ~passivation() {
    if (done) done();
  }
};
using passivation_ptr = std::shared_ptr<passivation>;

using loaded_atom = caf::atom_constant<caf::atom("loaded")>;
using appended_atom = caf::atom_constant<caf::atom("appended")>;
using idle_atom = caf::atom_constant<caf::atom("idle")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
/// Region -> aggregate: finish what was forwarded, then hand the state back and end.
using hibernate_atom = caf::atom_constant<caf::atom("hibernate")>;
/// Aggregate -> its region: (`dormant_atom`, actor id, the state it leaves).
using dormant_atom = caf::atom_constant<caf::atom("dormant")>;
using dup_atom = caf::atom_constant<caf::atom("dup")>;
using expire_atom = caf::atom_constant<caf::atom("expire")>;
/// Aggregate -> its region: a handler threw (`crashed_atom`, aggregate id).
using crashed_atom = caf::atom_constant<caf::atom("crashed")>;

}  // namespace strata::actors::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(strata::actors::detail::envelope_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(strata::actors::detail::query_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(strata::actors::detail::loaded_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(strata::actors::detail::outcome_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(strata::actors::detail::duplicate_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(strata::actors::detail::dormant_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(strata::actors::detail::passivation_ptr)

// Event bus and projection actors (actors/event_bus.cpp, actors/projection_actor.cpp).
namespace strata::actors::detail {

/// Committed records of one journal commit, in global order, shared by every subscriber.
using record_batch = std::shared_ptr<const std::vector<persistence::event_record>>;

/// A host request to a projection actor, answered exactly once through `done` (with
/// `unavailable` when the actor ends before it got to it).
struct projection_control {
  enum class kind : std::uint8_t { retry, rebuild };
  kind what = kind::retry;
  global_position position;
  std::promise<result<void>> done;
  bool delivered = false;
  void deliver(result<void> r) {
    if (delivered) return;
    delivered = true;
    done.set_value(std::move(r));
  }
  ~projection_control() {
    if (!delivered) done.set_value(error{errc::unavailable, "projection stopped"});
  }
};
using control_ptr = std::shared_ptr<projection_control>;

using bus_sub_atom = caf::atom_constant<caf::atom("bus_sub")>;
using bus_ack_atom = caf::atom_constant<caf::atom("bus_ack")>;
using bus_over_atom = caf::atom_constant<caf::atom("bus_over")>;
using bus_resume_atom = caf::atom_constant<caf::atom("bus_resume")>;
using proj_tick_atom = caf::atom_constant<caf::atom("proj_tick")>;
/// A projection's periodic read of the journal (`projection_options::journal_poll`).
using proj_poll_atom = caf::atom_constant<caf::atom("proj_poll")>;

}  // namespace strata::actors::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(strata::actors::detail::record_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(strata::actors::detail::control_ptr)
