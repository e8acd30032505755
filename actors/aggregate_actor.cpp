// The aggregate actor: one per live aggregate instance.
//
// Protocol, in the order STYLE.md requires: decide, append, evolve, reply. While an append is
// in flight the actor takes no other command: later commands and queries wait in its own FIFO
// (an explicit stash, cheaper than CAF's skip, and it never reorders). Rehydration and
// journal I/O run on the engine's reader and writer threads; the actor only receives their
// results as messages, so no scheduler thread ever blocks.

#include <algorithm>
#include <functional>
#include <optional>
#include <variant>

#include "strata/actors/detail/actors.hpp"
#include "strata/actors/detail/expiry_cell.hpp"
#include "strata/actors/detail/handover.hpp"
#include "strata/actors/detail/uuid.hpp"

namespace strata::actors::detail {

command_result failure_result(error e, version at) {
  command_result r;
  r.status = status_of(e.code);
  r.at = at;
  r.failure = std::move(e);
  return r;
}

namespace {

using pending_item = std::variant<envelope_ptr, query_ptr>;

// Work waiting behind a load or an append, in arrival order: a vector with a read index.
// Allocated when something has to wait, released when it ran empty.
struct pending_queue {
  std::vector<pending_item> items;
  std::size_t head = 0;

  std::size_t size() const noexcept { return items.size() - head; }
};

struct aggregate_state {
  static inline const char* name = "strata.aggregate";

  enum class phase : std::uint8_t { loading, ready, writing, failed };

  // Ordered so that the small fields share words: an idle aggregate is mostly this struct
  // and its actor.
  std::shared_ptr<type_services> svc;
  std::string id;
  std::any state;
  version at;
  version last_snapshot;  ///< The newest snapshot known to exist (written or loaded).
  std::uint64_t generation = 0;
  std::uint64_t append_seq = 0;            ///< Tags appends, so a stale answer is recognised.
  std::unique_ptr<pending_queue> pending;  ///< Null while nothing waits.
  envelope_ptr in_flight;
  std::any decided_events;  ///< Of the command in flight, applied on its durable ack.
  std::vector<remembered_command> recent;
  envelope_ptr deciding;   ///< The command being decided, for the crash handler.
  caf::actor_addr region;  ///< Told of every crash; it decides whether the id is refused.
  std::uint32_t duplicate_reads = 0;  ///< Journal reads for duplicate replies under way.
  phase ph = phase::loading;
  bool stopping = false;
  bool hibernating = false;  ///< Stopping to leave its state with the region.
  bool expiry_armed = false;
  expiry_cell_owner expiry;  ///< What an armed deadline reaches this actor through.

  std::size_t waiting() const noexcept { return pending ? pending->size() : 0; }
};

using self_ptr = caf::stateful_actor<aggregate_state>*;

void start_load(self_ptr self) {
  auto& st = self->state;
  st.ph = aggregate_state::phase::loading;
  const auto gen = ++st.generation;
  auto handle = caf::actor_cast<caf::actor>(self);
  st.svc->readers->submit(io_pool::snapshot_task{
      [handle, gen, svc = st.svc, id = st.id](result<persistence::journal*> j,
                                              persistence::snapshot_store* snapshots) {
        const auto started = steady::now();
        auto l = std::make_shared<loaded>();
        l->generation = gen;
        try {
          if (!j) {
            l->status = j.err();
          } else {
            auto r = rehydrate(**j, svc->snapshots != nullptr ? snapshots : nullptr, *svc->model,
                               stream_id{svc->model->type(), id}, {},
                               svc->options.idempotency_window, svc->metrics, svc->log);
            if (!r) {
              l->status = std::move(r).err();
            } else {
              l->status = ok();
              l->state = std::move(r->state);
              l->at = r->at;
              l->recent = std::move(r->recent);
              l->events_replayed = r->events_replayed;
              l->snapshot_at = r->snapshot.value_or(version{0});
            }
          }
        } catch (const std::exception& ex) {  // always answer, or the actor waits for ever
          l->status = error{errc::internal, std::string{"rehydration threw: "} + ex.what()};
        }
        l->took = steady::now() - started;
        detail::handing_over(l.get());
        caf::anon_send(handle, loaded_atom::value, std::move(l));
      }});
}

void answer(const envelope_ptr& e, command_result r) {
  e->reply(std::move(r));
}

void fail_pending(self_ptr self, const error& e) {
  auto& st = self->state;
  if (!st.pending) return;
  auto queue = std::move(st.pending);
  for (auto i = queue->head; i < queue->items.size(); ++i) {
    std::visit(
        [&](auto& item) {
          using T = std::decay_t<decltype(item)>;
          if constexpr (std::is_same_v<T, envelope_ptr>)
            answer(item, failure_result(e, st.at));
          else
            item->reply(e);
        },
        queue->items[i]);
  }
}

void maybe_quit(self_ptr self) {
  auto& st = self->state;
  if (st.stopping && st.duplicate_reads == 0 && st.ph != aggregate_state::phase::writing &&
      st.ph != aggregate_state::phase::loading && st.waiting() == 0) {
    if (st.hibernating && st.ph == aggregate_state::phase::ready) {
      // Nothing is left to do and the region forwards nothing meanwhile: the state goes to
      // it as is. A failed aggregate leaves nothing; its next actor reloads.
      auto d = std::make_shared<dormant>();
      d->state = std::move(st.state);
      d->at = st.at;
      d->last_snapshot = st.last_snapshot;
      d->recent = std::move(st.recent);
      if (auto region = caf::actor_cast<caf::actor>(st.region))
        self->send(region, dormant_atom::value, self->id(), std::move(d));
    }
    self->quit();
  }
}

void reply_duplicate(self_ptr self, const envelope_ptr& e, const remembered_command& original) {
  ++self->state.duplicate_reads;
  auto handle = caf::actor_cast<caf::actor>(self);
  const stream_id stream{self->state.svc->model->type(), self->state.id};
  self->state.svc->readers->submit([handle, e, original, stream](result<persistence::journal*> j) {
    auto d = std::make_shared<duplicate_read>();
    d->command = e;
    d->original = original;
    if (!j) {
      d->records = j.err();
    } else {
      persistence::stream_range range;
      range.from = original.first;
      range.to = original.last;
      d->records = (*j)->read_stream(stream, range);
      // Archived since (journal::cut): the journal's command index still has its outcome.
      if (d->records && d->records->empty())
        d->records = (*j)->find_command(stream, e->meta.command_id);
    }
    detail::handing_over(d.get());
    caf::anon_send(handle, dup_atom::value, std::move(d));
  });
}

// Answers `e` with the original outcome of its command id, looked up in the journal: for a
// command the window no longer remembers. Without the command in the journal, the answer is
// `otherwise` (a rejection the decider gave), or a failure when the journal said it has it.
void reply_from_journal(self_ptr self, const envelope_ptr& e,
                        std::optional<command_result> otherwise) {
  ++self->state.duplicate_reads;
  auto handle = caf::actor_cast<caf::actor>(self);
  const stream_id stream{self->state.svc->model->type(), self->state.id};
  self->state.svc->readers->submit([handle, e, otherwise = std::move(otherwise),
                                    stream](result<persistence::journal*> j) mutable {
    auto d = std::make_shared<duplicate_read>();
    d->command = e;
    d->by_id = true;
    d->otherwise = std::move(otherwise);
    if (!j) {
      d->records = j.err();
    } else {
      d->records = (*j)->find_command(stream, e->meta.command_id);
    }
    detail::handing_over(d.get());
    caf::anon_send(handle, dup_atom::value, std::move(d));
  });
}

void apply_appended(self_ptr self, std::uint64_t seq, persistence::stream_outcome& outcome);

// Decides one command; returns true when it started an append (the actor is now writing).
bool handle_command(self_ptr self, const envelope_ptr& e) {
  auto& st = self->state;
  // A repeated command id gets its original outcome first: a retry after a lost reply
  // must not turn into a conflict or a timeout.
  const std::uint64_t id_hash =
      e->meta.command_id.empty() ? 0 : hash_command_id(e->meta.command_id);
  if (id_hash != 0) {
    auto it = std::find_if(st.recent.begin(), st.recent.end(),
                           [&](const auto& r) { return r.id_hash == id_hash; });
    if (it != st.recent.end()) {
      reply_duplicate(self, e, *it);
      return false;
    }
  }
  if (steady::now() > e->deadline) {
    answer(e, failure_result(error{errc::timeout, "deadline passed before the command was decided"},
                             st.at));
    return false;
  }
  if (e->meta.expected_version && *e->meta.expected_version != st.at) {
    answer(e, failure_result(
                  error{errc::conflict, "expected version " +
                                            std::to_string(e->meta.expected_version->value) +
                                            ", aggregate is at " + std::to_string(st.at.value)},
                  st.at));
    return false;
  }
  const timestamp now = st.svc->clk->now();
  context ctx;
  ctx.now = now;
  ctx.aggregate_id = st.id;
  ctx.current = st.at;
  ctx.user_id = e->meta.user_id;
  ctx.command_id = e->meta.command_id;
  ctx.correlation_id = e->meta.correlation_id;
  ctx.causation_id = e->meta.causation_id;
  st.deciding = e;
  auto d = st.svc->model->decide(st.state, e->command, ctx);
  st.deciding.reset();
  if (!d) {
    answer(e, failure_result(std::move(d).err(), st.at));
    return false;
  }
  if (d->rejected) {
    command_result r;
    r.status = command_status::rejected;
    r.at = st.at;
    r.why = std::move(d->rejected);
    if (id_hash != 0) {
      // A retry of a command applied long ago (or before a restart) is decided against the
      // state it made, and often rejected (a second `place`): the journal says whether the
      // id was applied, and then its original outcome is the answer. Rare, so the read is.
      reply_from_journal(self, e, std::move(r));
      return false;
    }
    answer(e, std::move(r));
    return false;
  }
  if (d->events.empty()) {
    command_result r;
    r.status = command_status::accepted;
    r.at = st.at;
    answer(e, std::move(r));
    return false;
  }
  persistence::stream_append append;
  append.stream = stream_id{st.svc->model->type(), st.id};
  append.expected = st.at;
  append.events.reserve(d->events.size());
  for (auto& enc : d->events) {
    persistence::new_event ev;
    ev.event_id = make_uuid_v7(now);
    ev.event_type = std::string{enc.type};
    ev.schema_version = enc.schema_version;
    ev.time = now;
    ev.user_id = e->meta.user_id;
    ev.command_id = e->meta.command_id;
    ev.correlation_id = e->meta.correlation_id;
    ev.causation_id = e->meta.causation_id;
    ev.data = std::move(enc.data);
    append.events.push_back(std::move(ev));
  }
  st.in_flight = e;
  st.decided_events = std::move(d->decided_events);
  st.ph = aggregate_state::phase::writing;
  auto handle = caf::actor_cast<caf::actor>(self);
  const std::uint64_t seq = ++st.append_seq;
  if (st.svc->writer->commits_inline()) {
    // A store that never blocks answers before `submit` returns, on this thread: the outcome
    // is applied here, without a round trip through the mailbox.
    std::optional<persistence::stream_outcome> out;
    st.svc->writer->submit(std::move(append),
                           [&out](persistence::stream_outcome o) { out = std::move(o); });
    if (!out) out = error{errc::internal, "inline append gave no answer"};
    apply_appended(self, seq, *out);
    return false;
  }
  st.svc->writer->submit(std::move(append), [handle, seq](persistence::stream_outcome o) {
    auto outcome = std::make_shared<persistence::stream_outcome>(std::move(o));
    detail::handing_over(outcome.get());
    caf::anon_send(handle, appended_atom::value, seq, std::move(outcome));
  });
  return true;
}

void drain(self_ptr self) {
  auto& st = self->state;
  while (st.ph == aggregate_state::phase::ready && st.waiting() > 0) {
    auto& queue = *st.pending;
    pending_item item = std::move(queue.items[queue.head++]);
    if (queue.size() == 0) {
      st.pending.reset();  // an idle aggregate keeps no buffer
    } else if (queue.head >= 64 && queue.head * 2 >= queue.items.size()) {
      // A constant backlog must not grow the buffer: drop the consumed front now and then.
      queue.items.erase(queue.items.begin(),
                        queue.items.begin() + static_cast<std::ptrdiff_t>(queue.head));
      queue.head = 0;
    }
    if (auto* q = std::get_if<query_ptr>(&item)) {
      (*q)->reply(state_view{st.state, st.at});
      continue;
    }
    handle_command(self, std::get<envelope_ptr>(item));
  }
  maybe_quit(self);
}

// Asks for an `expire` message just after `deadline`. Through the engine's deadline watch, not
// a framework timer, which would cost ~190 bytes per freshly spawned aggregate until then.
// The entry holds the actor's cell, not its address, so that it does not keep an actor that
// ended meanwhile (detail/expiry_cell.hpp).
void arm_expiry(self_ptr self, steady::time_point deadline) {
  auto cell = self->state.expiry.cell(self->ctrl());
  self->state.svc->deadlines->arm(deadline + std::chrono::milliseconds(1), [cell] {
    if (auto h = cell->get()) caf::anon_send(h, expire_atom::value);
  });
}

// Answers `timeout` for every queued command whose deadline passed; they are never applied.
// Re-arms itself while commands wait behind a load or an append.
void expire_queued(self_ptr self) {
  auto& st = self->state;
  st.expiry_armed = false;
  const auto now = steady::now();
  auto earliest = steady::time_point::max();
  if (st.pending) {
    auto queue = std::move(st.pending);
    for (auto i = queue->head; i < queue->items.size(); ++i) {
      if (auto* e = std::get_if<envelope_ptr>(&queue->items[i]); e != nullptr) {
        if ((*e)->deadline < now) {
          answer(*e, failure_result(error{errc::timeout, "deadline passed while waiting for " +
                                                             st.id + " (not applied)"},
                                    st.at));
          continue;
        }
        earliest = std::min(earliest, (*e)->deadline);
      }
      if (!st.pending) st.pending = std::make_unique<pending_queue>();
      st.pending->items.push_back(std::move(queue->items[i]));
    }
  }
  if (earliest != steady::time_point::max()) {
    st.expiry_armed = true;
    arm_expiry(self, earliest);
  }
  maybe_quit(self);
}

void enqueue(self_ptr self, pending_item item) {
  auto& st = self->state;
  if (st.waiting() >= st.svc->options.max_queued_per_aggregate) {
    const error full{errc::overloaded, std::to_string(st.svc->options.max_queued_per_aggregate) +
                                           " commands already wait for " + st.id};
    if (auto* e = std::get_if<envelope_ptr>(&item))
      answer(*e, failure_result(full, st.at));
    else
      std::get<query_ptr>(item)->reply(full);
    return;
  }
  if (!st.pending) st.pending = std::make_unique<pending_queue>();
  st.pending->items.push_back(std::move(item));
  if (st.ph == aggregate_state::phase::failed)
    start_load(self);  // the last load failed: try again now that there is work
  else
    drain(self);
  if (!st.expiry_armed && st.waiting() > 0) {
    if (auto* e = std::get_if<envelope_ptr>(&st.pending->items.back()); e != nullptr) {
      st.expiry_armed = true;
      arm_expiry(self, (*e)->deadline);
    }
  }
}

// Answers with `e` the command being decided, the append in flight (its outcome unknown) and
// everything waiting: what a crash leaves behind.
void fail_all(self_ptr self, const error& e) {
  auto& st = self->state;
  if (st.deciding) {
    answer(st.deciding, failure_result(e, st.at));
    st.deciding.reset();
  }
  if (st.in_flight) {
    answer(st.in_flight,
           failure_result(error{errc::internal, e.message + " (the append's outcome is unknown)"},
                          st.at));
    st.in_flight.reset();
  }
  st.decided_events.reset();
  fail_pending(self, e);
}

// A handler threw: a bug, not a business outcome. Everything waiting is answered with the
// reason and the state is rebuilt from the journal in place; the actor itself lives on, so
// that nothing already in its mailbox is lost. The crash is reported to the region, which
// refuses an id that keeps crashing (`unavailable`) until its crash window has passed; it is
// reported before anything is answered, so a caller who sees the failure and sends again
// already meets the region's count.
void crash(self_ptr self, const std::string& what) {
  auto& st = self->state;
  if (auto region = caf::actor_cast<caf::actor>(st.region))
    self->send(region, crashed_atom::value, st.id);
  const error e{errc::internal, st.id + " crashed: " + what};
  fail_all(self, e);
  start_load(self);
}

template <class F>
void guarded(self_ptr self, F&& f) {
  try {
    f();
  } catch (const std::exception& ex) {
    crash(self, ex.what());
  } catch (...) {
    crash(self, "unknown exception");
  }
}

// The last resort, when even `crash` threw: answer what waits and end the actor.
caf::error on_exception(self_ptr self, std::exception_ptr& ep) {
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& ex) {
    what = ex.what();
  } catch (...) {
  }
  auto& st = self->state;
  const error e{errc::internal, st.id + " crashed: " + what};
  fail_all(self, e);
  return caf::make_error(caf::sec::runtime_error, e.message);
}

// After the reply: hands a snapshot to the snapshot writer when the policy asks for one. The
// state is encoded here (it is the actor's); the write happens on the writer's thread.
void maybe_snapshot(self_ptr self, const std::string& last_hash) {
  auto& st = self->state;
  if (st.svc->snapshots == nullptr) return;
  if (!st.svc->model->wants_snapshot(st.state, st.at, st.last_snapshot)) return;
  std::string state_json;
  try {
    state_json = st.svc->model->encode_state(st.state);
  } catch (const std::exception& ex) {  // a snapshot is an optimisation: rehydrate from events
    st.svc->log->write(log_level::warning, "snapshots",
                       st.id + ": no snapshot at version " + std::to_string(st.at.value) +
                           ", its state does not encode: " + ex.what());
    st.last_snapshot = st.at;  // try again after another `snapshot_every` events, not on each
    return;
  }
  persistence::snapshot_record s;
  s.stream = stream_id{st.svc->model->type(), st.id};
  s.at = st.at;
  s.state_version = st.svc->model->state_version();
  s.last_event_hash = last_hash;
  s.taken = st.svc->clk->now();
  s.state = encode_snapshot_body(state_json, st.recent);
  const std::uint64_t distance = st.at.value - st.last_snapshot.value;
  if (st.svc->snapshots->submit(std::move(s))) {
    st.svc->metrics->snapshot_queued(distance);
    st.last_snapshot = st.at;
  }
}

// Applies an append's outcome: evolve and reply, or reload after a conflict or a failure.
// Leaves the actor ready (or loading); the caller drains what waits.
void apply_appended(self_ptr self, std::uint64_t seq, persistence::stream_outcome& outcome) {
  // An answer for an append whose command a crash already answered: the reload that followed
  // reads whatever the journal has.
  if (!self->state.in_flight || seq != self->state.append_seq) return;
  auto& st = self->state;
  envelope_ptr e = std::move(st.in_flight);
  st.in_flight.reset();
  if (outcome) {
    const auto& records = *outcome;
    const std::string last_hash = records.back().hash;
    st.svc->model->evolve(st.state, st.decided_events);
    st.decided_events.reset();
    st.at = records.back().stream_version;
    // Every record carries the command's id: it is hashed once.
    if (!e->meta.command_id.empty()) {
      const std::uint64_t id_hash = hash_command_id(e->meta.command_id);
      for (const auto& r : records)
        remember(st.recent, st.svc->options.idempotency_window, id_hash, r.stream_version,
                 r.position);
    }
    command_result r;
    r.status = command_status::accepted;
    r.at = st.at;
    r.position = records.back().position;
    r.records = std::move(*outcome);
    answer(e, std::move(r));
    maybe_snapshot(self, last_hash);
    st.ph = aggregate_state::phase::ready;
    return;
  }
  st.decided_events.reset();
  error err = std::move(outcome).err();
  if (err.code == errc::duplicate) {
    // The journal has this command id from long ago: nothing was written, the state stays,
    // and the answer is the original outcome.
    reply_from_journal(self, e, std::nullopt);
    st.ph = aggregate_state::phase::ready;
    return;
  }
  if (err.code == errc::conflict) {
    // Another writer moved the stream: our state is stale. Waiting commands are decided
    // again after reloading.
    answer(e, failure_result(std::move(err), st.at));
  } else {
    // The journal failed: nothing of ours is committed. Fail everything that waits, and
    // rebuild from what the journal really has.
    answer(e, failure_result(err, st.at));
    fail_pending(self, err);
  }
  st.svc->metrics->restarted();
  start_load(self);
}

void on_appended(self_ptr self, std::uint64_t seq, persistence::stream_outcome& outcome) {
  apply_appended(self, seq, outcome);
  drain(self);
}

void on_loaded(self_ptr self, loaded& l) {
  auto& st = self->state;
  if (l.generation != st.generation) return;  // an older load, overtaken
  if (!l.status) {
    st.ph = aggregate_state::phase::failed;
    fail_pending(self, l.status.err());
    maybe_quit(self);
    return;
  }
  st.svc->metrics->rehydrated(l.took, l.events_replayed);
  st.state = std::move(l.state);
  st.at = l.at;
  st.recent = std::move(l.recent);
  st.last_snapshot = l.snapshot_at;
  st.ph = aggregate_state::phase::ready;
  drain(self);
}

void on_duplicate_read(self_ptr self, duplicate_read& d) {
  --self->state.duplicate_reads;
  if (!d.records) {
    answer(d.command, failure_result(d.records.err(), self->state.at));
  } else if (d.by_id && d.records->empty()) {
    answer(d.command,
           d.otherwise ? std::move(*d.otherwise)
                       : failure_result(error{errc::duplicate,
                                              "command " + d.command->meta.command_id +
                                                  " was applied to " + self->state.id +
                                                  " but its events are no longer in the journal"},
                                        self->state.at));
  } else {
    command_result r;
    r.status = command_status::accepted;
    r.duplicate = true;
    r.at = d.by_id ? d.records->back().stream_version : d.original.last;
    r.position = d.by_id ? d.records->back().position : d.original.position;
    r.records = std::move(*d.records);
    answer(d.command, std::move(r));
  }
  maybe_quit(self);
}

// Every message an aggregate takes goes through this one function, set as the actor's default
// handler, which CAF hands the actor itself. The behavior proper is one object shared by all
// aggregates (below): a behavior with a handler per message would be a heap object of
// ~330 bytes per actor, a quarter of an idle aggregate.
caf::result<caf::message> dispatch(caf::scheduled_actor* base, caf::message_view& view) {
  auto* self = static_cast<self_ptr>(base);
  auto& xs = view.content();
  if (xs.match_elements<envelope_ptr>()) {
    auto e = xs.move_if_unshared<envelope_ptr>(0);
    detail::taken_over(e.get());
    guarded(self, [&] { enqueue(self, std::move(e)); });
  } else if (xs.match_elements<appended_atom, std::uint64_t, outcome_ptr>()) {
    const auto seq = xs.get_as<std::uint64_t>(1);
    auto o = xs.move_if_unshared<outcome_ptr>(2);
    detail::taken_over(o.get());
    guarded(self, [&] { on_appended(self, seq, *o); });
  } else if (xs.match_elements<query_ptr>()) {
    auto q = xs.move_if_unshared<query_ptr>(0);
    detail::taken_over(q.get());
    guarded(self, [&] { enqueue(self, std::move(q)); });
  } else if (xs.match_elements<loaded_atom, loaded_ptr>()) {
    auto l = xs.move_if_unshared<loaded_ptr>(1);
    detail::taken_over(l.get());
    guarded(self, [&] { on_loaded(self, *l); });
  } else if (xs.match_elements<expire_atom>()) {
    guarded(self, [&] { expire_queued(self); });
  } else if (xs.match_elements<dup_atom, duplicate_ptr>()) {
    auto d = xs.move_if_unshared<duplicate_ptr>(1);
    detail::taken_over(d.get());
    guarded(self, [&] { on_duplicate_read(self, *d); });
  } else if (xs.match_elements<stop_atom>()) {
    self->state.stopping = true;
    maybe_quit(self);
  } else if (xs.match_elements<hibernate_atom>()) {
    self->state.stopping = true;
    self->state.hibernating = true;
    maybe_quit(self);
  } else {
    return caf::print_and_drop(base, view);
  }
  return caf::message{};  // empty: CAF sends no reply to an asynchronous message
}

using never_sent_atom = caf::atom_constant<caf::atom("aggnever")>;

caf::behavior aggregate_behavior(self_ptr self, caf::actor_addr region,
                                 std::shared_ptr<type_services> svc, std::string id,
                                 const dormant_ptr& from) {
  // Never destroyed: actors may still hold it while statics are torn down.
  static const auto* shared = new caf::behavior{[](never_sent_atom) {}};
  self->state.region = std::move(region);
  self->state.svc = std::move(svc);
  self->state.id = std::move(id);
  self->set_default_handler(dispatch);
  self->set_exception_handler(
      [self](caf::scheduled_actor*, std::exception_ptr& ep) { return on_exception(self, ep); });
  if (from) {
    auto& st = self->state;
    st.state = std::move(from->state);
    st.at = from->at;
    st.last_snapshot = from->last_snapshot;
    st.recent = std::move(from->recent);
    st.ph = aggregate_state::phase::ready;
  } else {
    start_load(self);
  }
  return *shared;
}

}  // namespace

caf::actor spawn_aggregate(caf::local_actor* region, std::shared_ptr<type_services> svc,
                           std::string id, dormant_ptr from) {
  return region->spawn<caf::lazy_init>(aggregate_behavior, region->address(), std::move(svc),
                                       std::move(id), std::move(from));
}

}  // namespace strata::actors::detail
