// The region: one per aggregate type. It owns the map from aggregate id to live actor.
//
// Passivation without losing or reordering commands: the region decides when a child goes
// (idle for `idle_timeout`), marks it draining and sends it `stop`. Everything the region
// forwarded before `stop` is ahead of it in the child's mailbox, so the child finishes it,
// including an append in flight, and only then quits. Commands for a draining id wait in
// the region until the child is down; then a fresh actor rehydrates from a journal that
// already has everything the old one wrote.

#include <memory>
#include <optional>
#include <unordered_map>
#include <variant>

#include "strata/actors/detail/actors.hpp"
#include "strata/actors/detail/crash_throttle.hpp"

namespace strata::actors::detail {
namespace {

using tick_atom = caf::atom_constant<caf::atom("tick")>;
using routed = std::variant<envelope_ptr, query_ptr>;

// An aggregate in memory: live (an actor), or dormant (hibernated: its bare state, no actor).
// The children are also linked, least recently used first, through their own
// `newer`/`older` pointers (map nodes never move): the live ones in one list, the dormant ones
// in another, with no second copy of each id.
struct child {
  caf::actor actor;  // null while dormant
  steady::time_point last_used;
  const std::string* id = nullptr;  // the map's key
  child* newer = nullptr;
  child* older = nullptr;
  std::unique_ptr<std::vector<routed>> waiting;  // arrived while draining
  dormant_ptr dormant;                           // set while dormant
  bool draining = false;
  bool hibernating = false;  // draining to become dormant, not to go
};

// Children in the order of their last use, oldest first.
struct lru_list {
  child* newest = nullptr;
  child* oldest = nullptr;

  void unlink(child& c) noexcept {
    (c.newer != nullptr ? c.newer->older : newest) = c.older;
    (c.older != nullptr ? c.older->newer : oldest) = c.newer;
    c.newer = c.older = nullptr;
  }

  void link_newest(child& c) noexcept {
    c.older = newest;
    c.newer = nullptr;
    (newest != nullptr ? newest->newer : oldest) = &c;
    newest = &c;
  }
};

struct region_state {
  static inline const char* name = "strata.region";
  std::shared_ptr<type_services> svc;
  std::unordered_map<std::string, child> children;
  std::unordered_map<caf::actor_id, child*> by_actor;  // for down messages
  lru_list live;
  lru_list dormant;
  // Crash throttling lives here, not in the aggregate actor: the region outlives every
  // incarnation of an aggregate (an actor that died, was passivated or evicted comes back as
  // a new one with no memory), it sees both kinds of crash (a handler that threw, reported by
  // the actor before it answers anything, and an actor that died), it refuses before
  // spawning and rehydrating a poisoned id, and it keeps counts only for ids that crashed,
  // not in every idle aggregate. Work already forwarded to a live actor when its id reaches
  // the limit is still decided there; everything routed after it is refused.
  std::optional<crash_throttle> crashes;  // set once the options are known
};

using self_ptr = caf::stateful_actor<region_state>*;

void forward(self_ptr self, const caf::actor& to, routed item) {
  std::visit([&](auto& x) { self->send(to, std::move(x)); }, item);
}

void drain_child(self_ptr self, child& c) {
  c.draining = true;
  self->send(c.actor, stop_atom::value);
  self->state.svc->metrics->passivated();
}

// Asks an idle child to finish what it has and hand its state back (`on_dormant`). Commands
// for it wait here meanwhile, as for a draining one.
void hibernate_child(self_ptr self, child& c) {
  c.draining = true;
  c.hibernating = true;
  self->send(c.actor, hibernate_atom::value);
}

// Forgets a dormant child: its next command rehydrates from the journal.
void drop_dormant(self_ptr self, child& c) {
  auto& st = self->state;
  st.dormant.unlink(c);
  st.svc->metrics->passivated();
  st.svc->metrics->live_add(-1);
  st.children.erase(st.children.find(*c.id));
}

// Keeps the count in memory within the bound: the least recently used go first, the
// dormant before the live.
void evict_if_needed(self_ptr self) {
  auto& st = self->state;
  const std::size_t bound = std::max<std::size_t>(st.svc->options.max_live_per_type, 1);
  if (st.children.size() < bound) return;
  if (st.dormant.oldest != nullptr) {
    drop_dormant(self, *st.dormant.oldest);
    return;
  }
  for (child* c = st.live.oldest; c != nullptr && st.children.size() >= bound; c = c->newer) {
    if (!c->draining) {
      drain_child(self, *c);
      return;  // one out per one in; the draining ones leave when done
    }
  }
}

// Gives `c` an actor: a fresh one that rehydrates, or one that starts from `c.dormant`.
void start_child(self_ptr self, child& c) {
  auto& st = self->state;
  auto a = spawn_aggregate(self, st.svc, *c.id, std::move(c.dormant));
  c.dormant.reset();
  self->monitor(a);
  st.by_actor.emplace(a.id(), &c);
  c.actor = std::move(a);
}

child& live_child(self_ptr self, const std::string& id) {
  auto& st = self->state;
  auto it = st.children.find(id);
  if (it == st.children.end()) {
    evict_if_needed(self);
    it = st.children.emplace(id, child{}).first;
    child& c = it->second;
    c.id = &it->first;
    start_child(self, c);
    st.svc->metrics->spawned();
    st.svc->metrics->live_add(1);
  } else if (!it->second.actor) {
    st.dormant.unlink(it->second);
    start_child(self, it->second);  // woken: no journal read
  } else {
    st.live.unlink(it->second);
  }
  st.live.link_newest(it->second);
  return it->second;
}

// An id that crashed `max_crashes` times within `crash_window` is refused until the window
// passed, so that a poisoned aggregate cannot spin. Free while nothing crashed.
bool is_throttled(self_ptr self, const std::string& id) {
  auto& crashes = *self->state.crashes;
  return !crashes.empty() && crashes.refuses(id, steady::now());
}

void count_crash(self_ptr self, const std::string& id) {
  self->state.svc->metrics->restarted();
  self->state.crashes->record(id, steady::now());
}

void refuse(routed& item, const std::string& id) {
  const error e{errc::unavailable,
                id + " crashed repeatedly; it is refused until its crash window passes"};
  std::visit(
      [&](auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, envelope_ptr>)
          x->reply(failure_result(e));
        else
          x->reply(e);
      },
      item);
}

void route(self_ptr self, const std::string& id, routed item) {
  if (is_throttled(self, id)) {
    refuse(item, id);
    return;
  }
  child& c = live_child(self, id);
  c.last_used = steady::now();
  if (c.draining) {
    if (!c.waiting) c.waiting = std::make_unique<std::vector<routed>>();
    c.waiting->push_back(std::move(item));
    return;
  }
  forward(self, c.actor, std::move(item));
}

// Passivates the children idle for `idle_timeout` (the dormant are dropped, the live drain
// and go), and hibernates the live ones idle for `hibernate_after`. Both lists are in the
// order of last use, so each walk stops at the first child used since its cutoff.
void on_tick(self_ptr self) {
  auto& st = self->state;
  const auto now = steady::now();
  const auto idle = st.svc->options.idle_timeout;
  const auto hibernate = st.svc->options.hibernate_after;
  if (idle.count() > 0) {
    const auto cutoff = now - idle;
    while (st.dormant.oldest != nullptr && st.dormant.oldest->last_used < cutoff)
      drop_dormant(self, *st.dormant.oldest);
    for (child* c = st.live.oldest; c != nullptr && c->last_used < cutoff; c = c->newer)
      if (!c->draining) drain_child(self, *c);
  }
  if (hibernate.count() > 0 && (idle.count() == 0 || hibernate < idle)) {
    const auto cutoff = now - hibernate;
    for (child* c = st.live.oldest; c != nullptr && c->last_used < cutoff; c = c->newer)
      if (!c->draining) hibernate_child(self, *c);
  }
}

// Passivates the children `p` selects: the dormant are dropped, the live drain and go (a
// hibernating one goes instead of becoming dormant), so that their next command rehydrates
// from the journal. Children already draining to go are left as they are.
void on_passivate(self_ptr self, const passivation& p) {
  auto& st = self->state;
  const auto type = st.svc->model->type();
  for (child* c = st.dormant.oldest; c != nullptr;) {
    child* next = c->newer;
    if (p.which(type, *c->id)) drop_dormant(self, *c);
    c = next;
  }
  for (child* c = st.live.oldest; c != nullptr; c = c->newer) {
    if (!p.which(type, *c->id)) continue;
    if (!c->draining) {
      drain_child(self, *c);
    } else if (c->hibernating) {
      // Its state is handed back but not kept (`on_dormant` ignores it); its end is a stop.
      c->hibernating = false;
      st.svc->metrics->passivated();
    }
  }
}

// A hibernating child handed its state back and ended: keep the state, or, when commands
// arrived meanwhile, start an actor from it at once and give them to it, in order.
void on_dormant(self_ptr self, caf::actor_id from, dormant_ptr& d) {
  auto& st = self->state;
  auto by = st.by_actor.find(from);
  if (by == st.by_actor.end() || !by->second->hibernating) return;
  child& c = *by->second;
  st.by_actor.erase(by);
  self->demonitor(c.actor);
  c.actor = caf::actor{};
  c.draining = c.hibernating = false;
  c.dormant = std::move(d);
  st.svc->metrics->hibernated();
  st.live.unlink(c);
  st.dormant.link_newest(c);
  if (auto waiting = std::move(c.waiting)) {
    const std::string id = *c.id;
    for (auto& item : *waiting) route(self, id, std::move(item));
  }
}

void on_down(self_ptr self, const caf::down_msg& dm) {
  auto& st = self->state;
  auto by = st.by_actor.find(dm.source.id());
  if (by == st.by_actor.end()) return;
  child& c = *by->second;
  st.by_actor.erase(by);
  st.svc->metrics->live_add(-1);
  const std::string id = *c.id;
  std::unique_ptr<std::vector<routed>> waiting = std::move(c.waiting);
  st.live.unlink(c);
  st.children.erase(id);
  // Not a normal stop: it died of a crash its own handling could not survive. (Should that
  // handling have reported the crash already, the incident counts twice, which only refuses
  // such an aggregate sooner.)
  if (dm.reason) count_crash(self, id);
  // Anything that waited for the old actor goes, in order, to a fresh one.
  if (waiting)
    for (auto& item : *waiting) route(self, id, std::move(item));
}

caf::behavior region_behavior(self_ptr self, std::shared_ptr<type_services> svc) {
  self->state.svc = std::move(svc);
  self->state.crashes.emplace(self->state.svc->options.max_crashes,
                              self->state.svc->options.crash_window);
  self->set_down_handler([=](caf::down_msg& dm) { on_down(self, dm); });
  self->set_exit_handler([=](caf::exit_msg& em) {
    for (auto& [id, c] : self->state.children)
      if (c.actor) self->send_exit(c.actor, em.reason);
    self->state.by_actor.clear();
    self->state.live = lru_list{};
    self->state.dormant = lru_list{};
    self->state.children.clear();
    self->quit(em.reason);
  });
  // The tick runs at half the shortest of the idle timeout and the hibernation delay.
  const auto& options = self->state.svc->options;
  auto period = std::chrono::milliseconds::max();
  if (options.idle_timeout.count() > 0) period = options.idle_timeout / 2;
  if (options.hibernate_after.count() > 0) period = std::min(period, options.hibernate_after / 2);
  period = std::max(period, std::chrono::milliseconds(1));
  if (period != std::chrono::milliseconds::max())
    self->delayed_send(self, period, tick_atom::value);
  return {
      [=](envelope_ptr& e) {
        auto id = e->aggregate_id;
        route(self, id, std::move(e));
      },
      [=](query_ptr& q) {
        auto id = q->aggregate_id;
        route(self, id, std::move(q));
      },
      [=](crashed_atom, const std::string& id) { count_crash(self, id); },
      [=](dormant_atom, caf::actor_id from, dormant_ptr& d) { on_dormant(self, from, d); },
      [=](passivation_ptr& p) { on_passivate(self, *p); },
      [=](tick_atom) {
        on_tick(self);
        self->delayed_send(self, period, tick_atom::value);
      },
  };
}

}  // namespace

caf::actor spawn_region(caf::actor_system& sys, std::shared_ptr<type_services> svc) {
  return sys.spawn(region_behavior, std::move(svc));
}

}  // namespace strata::actors::detail
