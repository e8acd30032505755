#include "strata/actors/projection_actor.hpp"

namespace strata::actors::detail {

namespace {

struct projection_state {
  static inline const char* name = "strata.projection";
  std::shared_ptr<persistence::projection_runner> runner;
  std::shared_ptr<persistence::journal> journal;
  std::shared_ptr<projection_status> status;
  projection_options options;
  caf::actor bus;
  bool tick_pending = false;
  /// Set at start and after an overflow: once caught up, ask the bus to resume and catch up
  /// again to what it published meanwhile, so that nothing dropped is missed.
  bool need_resume = true;
};

using self_ptr = caf::stateful_actor<projection_state>*;

void report(self_ptr self, std::optional<error> e = std::nullopt) {
  auto& st = self->state;
  st.status->update(st.runner->position(), st.runner->is_stopped(), std::move(e));
}

// Adds what one runner call committed to the counters: once per call, not per event. The
// runner counts a parked event among those the checkpoint passed when the policy goes on
// past it; here it counts as dead-lettered only.
void count(self_ptr self, const persistence::apply_outcome& out) {
  auto& st = self->state;
  const std::size_t passed_parked =
      st.options.on_poison == persistence::poison_policy::park_and_continue ? out.parked : 0;
  const std::size_t applied = out.applied - std::min(out.applied, passed_parked);
  if (applied > 0) st.status->metrics->applied(applied);
  if (out.parked > 0) st.status->metrics->dead_lettered(out.parked);
}

void schedule_tick(self_ptr self, std::chrono::milliseconds delay) {
  auto& st = self->state;
  if (st.tick_pending || st.runner->is_stopped()) return;
  st.tick_pending = true;
  st.status->set_live(false);
  if (delay.count() == 0) {
    self->send(self, proj_tick_atom::value);
  } else {
    self->delayed_send(self, delay, proj_tick_atom::value);
  }
}

// Batches read from the journal per message while catching up: within one step the runner
// reads (and decodes) each next batch while it applies one; the next step is a new message,
// so that live batches, controls and exit messages are handled in between (on the benchmark
// machine a step of 8 batches of 1,000 takes about 40 ms into SQLite, 0.2 s into PostgreSQL).
constexpr std::size_t batches_per_step = 8;

// One step of catch-up from the journal.
void catch_up_step(self_ptr self) {
  auto& st = self->state;
  if (st.runner->is_stopped()) {
    report(self);
    return;
  }
  const auto before = st.runner->position().position.value;
  const std::size_t step = st.options.batch_events * batches_per_step;
  auto out = st.runner->catch_up(*st.journal, st.options.batch_events, step);
  if (!out) {
    report(self, std::move(out).err());
    schedule_tick(self, st.options.retry_delay);
    return;
  }
  count(self, *out);
  report(self);
  if (out->stopped) return;
  if (st.runner->position().position.value - before >= step) {
    schedule_tick(self, std::chrono::milliseconds{0});
    return;
  }
  if (st.need_resume) {
    st.need_resume = false;
    self->send(st.bus, bus_resume_atom::value);
    return;
  }
  st.status->set_live(true);
}

void on_live(self_ptr self, const std::vector<persistence::event_record>& records) {
  auto& st = self->state;
  if (st.runner->is_stopped()) return;  // the journal keeps them for after the retry
  auto out = st.runner->apply(records);
  if (!out) {
    report(self, std::move(out).err());
    schedule_tick(self, st.options.retry_delay);
    return;
  }
  count(self, *out);
  if (out->applied > 0 || out->parked > 0 || out->stopped) report(self);
  if (out->gap) schedule_tick(self, std::chrono::milliseconds{0});
}

caf::behavior projection_actor(self_ptr self, caf::actor bus,
                               std::shared_ptr<persistence::projection_runner> runner,
                               std::shared_ptr<persistence::journal> journal,
                               std::shared_ptr<projection_status> status,
                               projection_options options) {
  auto& st = self->state;
  st.runner = std::move(runner);
  st.journal = std::move(journal);
  st.status = std::move(status);
  st.options = options;
  st.bus = std::move(bus);
  self->set_default_handler(caf::drop);
  self->set_exception_handler([](caf::scheduled_actor*, std::exception_ptr&) -> caf::error {
    return caf::make_error(caf::sec::runtime_error, "projection handler threw");
  });
  self->send(st.bus, bus_sub_atom::value, st.status);
  schedule_tick(self, std::chrono::milliseconds{0});
  if (st.options.journal_poll.count() > 0)
    self->delayed_send(self, st.options.journal_poll, proj_poll_atom::value);
  return {
      [=](proj_tick_atom) {
        self->state.tick_pending = false;
        catch_up_step(self);
      },
      [=](proj_poll_atom) {
        auto& s = self->state;
        // A tick already pending reads the journal anyway.
        if (!s.tick_pending) catch_up_step(self);
        self->delayed_send(self, s.options.journal_poll, proj_poll_atom::value);
      },
      [=](const record_batch& batch) {
        self->send(self->state.bus, bus_ack_atom::value, batch->size());
        on_live(self, *batch);
      },
      [=](bus_over_atom) {
        self->state.need_resume = true;
        schedule_tick(self, std::chrono::milliseconds{0});
      },
      [=](bus_resume_atom, std::uint64_t last_published) {
        auto& s = self->state;
        if (s.runner->position().position.value < last_published) {
          schedule_tick(self, std::chrono::milliseconds{0});
        } else if (!s.tick_pending && !s.runner->is_stopped()) {
          s.status->set_live(true);
        }
      },
      [=](const control_ptr& c) {
        auto& s = self->state;
        if (c->what == projection_control::kind::rebuild) {
          auto r = s.runner->reset();
          report(self, r ? std::nullopt : std::optional<error>{r.err()});
          c->deliver(std::move(r));
        } else {
          auto r = s.runner->retry(*s.journal, c->position);
          if (r) s.status->metrics->applied(1);
          report(self);
          c->deliver(std::move(r));
        }
        schedule_tick(self, std::chrono::milliseconds{0});
      },
  };
}

}  // namespace

caf::actor spawn_projection(caf::actor_system& sys, caf::actor bus,
                            std::shared_ptr<persistence::projection_runner> runner,
                            std::shared_ptr<persistence::journal> journal,
                            std::shared_ptr<projection_status> status, projection_options options) {
  return sys.spawn<caf::detached>(projection_actor, std::move(bus), std::move(runner),
                                  std::move(journal), std::move(status), options);
}

}  // namespace strata::actors::detail
