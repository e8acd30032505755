#include <algorithm>
#include <vector>

#include "strata/actors/projection_actor.hpp"

namespace strata::actors::detail {

namespace {

using bus_sample_atom = caf::atom_constant<caf::atom("bus_sample")>;

struct bus_state {
  static inline const char* name = "strata.event_bus";
  struct subscriber {
    caf::actor who;
    status_ptr status;                    ///< Its lag series are refreshed on each sample.
    std::size_t outstanding = 0;          ///< Events sent and not acknowledged.
    std::size_t outstanding_batches = 0;  ///< Messages sent and not acknowledged.
    bool overflowed = false;
  };
  std::vector<subscriber> subscribers;
  std::size_t buffer_events = 0;
  std::uint64_t last_published = 0;
  std::shared_ptr<metrics::registry> metrics;
  std::chrono::milliseconds sample_interval{0};
  std::uint64_t last_backlog = 0;

  // Sampled, not set on every message: the registry call takes a lock and a lookup, and the
  // lag refresh each projection's status lock. Neither is on the writer's path.
  void sample() {
    for (const auto& s : subscribers) s.status->refresh_lag();
    std::uint64_t backlog = 0;
    for (const auto& s : subscribers) backlog += s.outstanding_batches;
    if (backlog == last_backlog) return;
    last_backlog = backlog;
    metrics->set_mailbox_backlog("projection", backlog);
  }

  subscriber* find(const caf::strong_actor_ptr& sender) {
    for (auto& s : subscribers)
      if (s.who.address() == caf::actor_cast<caf::actor_addr>(sender)) return &s;
    return nullptr;
  }
};

caf::behavior event_bus(caf::stateful_actor<bus_state>* self, std::size_t buffer_events,
                        std::shared_ptr<metrics::registry> metrics,
                        std::chrono::milliseconds sample_interval) {
  self->state.buffer_events = std::max<std::size_t>(buffer_events, 1);
  self->state.metrics = std::move(metrics);
  self->state.sample_interval = std::max(sample_interval, std::chrono::milliseconds{1});
  self->state.metrics->set_mailbox_backlog("projection", 0);
  self->delayed_send(self, self->state.sample_interval, bus_sample_atom::value);
  self->set_default_handler(caf::drop);
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& subs = self->state.subscribers;
    subs.erase(std::remove_if(subs.begin(), subs.end(),
                              [&](const auto& s) { return s.who.address() == dm.source; }),
               subs.end());
  });
  return {
      [=](bus_sub_atom, status_ptr& status) {
        auto who = caf::actor_cast<caf::actor>(self->current_sender());
        if (!who || !status || self->state.find(self->current_sender()) != nullptr) return;
        self->monitor(who);
        self->state.subscribers.push_back(
            bus_state::subscriber{who, std::move(status), 0, 0, false});
      },
      [=](const record_batch& batch) {
        if (!batch || batch->empty()) return;
        auto& st = self->state;
        st.last_published = std::max(st.last_published, batch->back().position.value);
        auto msg = caf::make_message(batch);  // one message shared by every subscriber
        for (auto& s : st.subscribers) {
          if (s.overflowed) continue;
          if (s.outstanding + batch->size() > st.buffer_events) {
            s.overflowed = true;
            self->send(s.who, bus_over_atom::value);
            continue;
          }
          s.outstanding += batch->size();
          ++s.outstanding_batches;
          self->send(s.who, msg);
        }
      },
      [=](bus_ack_atom, std::size_t events) {
        if (auto* s = self->state.find(self->current_sender())) {
          s->outstanding -= std::min(events, s->outstanding);
          if (s->outstanding_batches > 0) --s->outstanding_batches;
        }
      },
      [=](bus_sample_atom) {
        self->state.sample();
        self->delayed_send(self, self->state.sample_interval, bus_sample_atom::value);
      },
      [=](bus_resume_atom) {
        if (auto* s = self->state.find(self->current_sender())) {
          s->overflowed = false;
          self->send(s->who, bus_resume_atom::value, self->state.last_published);
        }
      },
  };
}

}  // namespace

caf::actor spawn_event_bus(caf::actor_system& sys, std::size_t buffer_events,
                           std::shared_ptr<metrics::registry> metrics,
                           std::chrono::milliseconds sample_interval) {
  return sys.spawn(event_bus, buffer_events, std::move(metrics), sample_interval);
}

}  // namespace strata::actors::detail
