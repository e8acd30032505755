#include <algorithm>
#include <atomic>
#include <future>

#include "strata/actors/projection_actor.hpp"
#include "strata/actors/projections.hpp"

namespace strata::actors {

struct projection_host::impl {
  projection_options options;
  std::shared_ptr<persistence::journal_factory> journal;
  std::shared_ptr<persistence::projection_store_factory> store;
  std::shared_ptr<metrics::registry> metrics;
  std::shared_ptr<const clock> clk;
  std::function<void()> start_publishing;

  caf::actor_system* sys = nullptr;  // the engine's
  // Set once at start; `publish` reads it without a lock, `stop` clears it after the writer
  // stopped (see `publish`'s contract).
  caf::actor bus;

  struct entry {
    std::string name;
    caf::actor actor;  ///< Null while idle (`add_idle`, `stop_one`).
    std::shared_ptr<detail::projection_status> status;
    std::shared_ptr<persistence::projection> projection;  ///< Kept to start it (`start_one`).
  };
  /// A projection's runner started on its journal connection, ready to be spawned.
  struct prepared {
    std::shared_ptr<persistence::projection_runner> runner;
    std::unique_ptr<persistence::journal> journal;
  };
  /// Held by `start_one`, `stop_one` and `stop` throughout: a projection is never started or
  /// stopped while the host stops.
  std::mutex run_mutex;
  mutable std::mutex mutex;
  std::vector<entry> entries;
  bool stopped = false;
  bool publishing = false;  // guarded by `mutex`
  // Shared with every projection's status, which reads it for the lag.
  std::shared_ptr<std::atomic<std::uint64_t>> head =
      std::make_shared<std::atomic<std::uint64_t>>(0);

  void raise_head(std::uint64_t p) {
    auto h = head->load(std::memory_order_relaxed);
    while (h < p && !head->compare_exchange_weak(h, p, std::memory_order_relaxed)) {
    }
  }

  // Copies of the entry's handles, or not_found.
  result<entry> find(std::string_view name) const {
    std::lock_guard<std::mutex> lock{mutex};
    for (const auto& e : entries)
      if (e.name == name) return e;
    return error{errc::not_found, "projection '" + std::string{name} + "' is not registered"};
  }

  // Opens the journal and read-model connections of `p` and starts its runner on them.
  result<prepared> prepare(const std::shared_ptr<persistence::projection>& p,
                           projection_start how) {
    auto j = journal->open();
    if (!j) return std::move(j).err();
    auto last = (*j)->last_position();
    if (!last) return std::move(last).err();
    raise_head(last->value);
    auto s = store->open();
    if (!s) return std::move(s).err();
    auto runner =
        std::make_shared<persistence::projection_runner>(p, std::move(*s), options.on_poison, clk);
    if (auto started = runner->start(**j, how); !started) return std::move(started).err();
    return prepared{std::move(runner), std::move(*j)};
  }

  caf::actor spawn(prepared&& ready, const std::shared_ptr<detail::projection_status>& status) {
    auto actor = detail::spawn_projection(
        *sys, bus, std::move(ready.runner),
        std::shared_ptr<persistence::journal>{std::move(ready.journal)}, status, options);
    detail::release_spawning_thread();
    return actor;
  }

  // Checks a new registration; turns on publishing. REQUIRES: `mutex` held.
  result<void> admit_locked(const std::string& name) {
    if (stopped) return error{errc::unavailable, "projections are stopped"};
    for (const auto& e : entries)
      if (e.name == name)
        return error{errc::invalid_argument, "projection '" + name + "' is registered already"};
    // Before the journal's head is read and the projection catches up: every commit from
    // here on reaches the bus, the earlier ones are in the journal.
    if (!publishing) {
      publishing = true;
      if (start_publishing) start_publishing();
    }
    return ok();
  }

  result<void> control(std::string_view name, detail::projection_control::kind what,
                       global_position position) {
    auto e = find(name);
    if (!e) return std::move(e).err();
    if (!e->actor)
      return error{errc::unavailable, "projection '" + std::string{name} +
                                          "' does not run on this node (a cluster node without "
                                          "its lease): ask the node that runs it"};
    auto c = std::make_shared<detail::projection_control>();
    c->what = what;
    c->position = position;
    auto f = c->done.get_future();
    caf::anon_send(std::move(e->actor), std::move(c));
    if (f.wait_for(options.control_timeout) != std::future_status::ready)
      return error{errc::timeout, "projection '" + std::string{name} + "' did not answer within " +
                                      std::to_string(options.control_timeout.count()) + " ms"};
    return f.get();
  }
};

projection_host::projection_host(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

projection_host::~projection_host() {
  stop();
}

namespace detail {

std::unique_ptr<projection_host> make_projection_host(
    caf::actor_system& sys, projection_options options,
    std::shared_ptr<persistence::journal_factory> journal,
    std::shared_ptr<persistence::projection_store_factory> store,
    std::shared_ptr<metrics::registry> metrics, std::shared_ptr<const clock> clk,
    std::function<void()> start_publishing) {
  auto p = std::make_unique<projection_host::impl>();
  p->metrics = metrics ? std::move(metrics) : metrics::registry::create();
  p->options = options;
  p->options.batch_events = std::max<std::size_t>(options.batch_events, 1);
  p->journal = std::move(journal);
  p->store = std::move(store);
  p->clk = std::move(clk);
  p->start_publishing = std::move(start_publishing);
  p->sys = &sys;
  // The series exists from here on, before the bus first runs: a scrape right after start
  // reads 0 instead of finding nothing.
  p->metrics->set_mailbox_backlog("projection", 0);
  p->bus = spawn_event_bus(sys, options.buffer_events, p->metrics, options.backlog_sample_interval);
  release_spawning_thread();
  return std::make_unique<projection_host>(std::move(p));
}

}  // namespace detail

void projection_host::publish(
    std::shared_ptr<const std::vector<persistence::event_record>> records) {
  if (!records || records->empty()) return;
  impl_->raise_head(records->back().position.value);
  caf::anon_send(impl_->bus, std::move(records));
}

result<void> projection_host::add(std::shared_ptr<persistence::projection> p,
                                  projection_start how) {
  if (!p || p->name().empty())
    return error{errc::invalid_argument, "a projection needs a non-empty name"};
  const std::string name{p->name()};
  {
    std::lock_guard<std::mutex> lock{impl_->mutex};
    if (auto admitted = impl_->admit_locked(name); !admitted) return admitted;
  }
  auto ready = impl_->prepare(p, how);
  if (!ready) return std::move(ready).err();
  auto status = std::make_shared<detail::projection_status>(
      impl_->head, impl_->metrics->for_projection(name), impl_->clk);
  status->update(ready->runner->position(), ready->runner->is_stopped(), std::nullopt);

  std::lock_guard<std::mutex> lock{impl_->mutex};
  if (impl_->stopped) return error{errc::unavailable, "projections are stopped"};
  for (const auto& e : impl_->entries)
    if (e.name == name)
      return error{errc::invalid_argument, "projection '" + name + "' is registered already"};
  auto actor = impl_->spawn(std::move(*ready), status);
  impl_->entries.push_back(impl::entry{name, std::move(actor), std::move(status), std::move(p)});
  return ok();
}

result<void> projection_host::add_idle(std::shared_ptr<persistence::projection> p) {
  if (!p || p->name().empty())
    return error{errc::invalid_argument, "a projection needs a non-empty name"};
  const std::string name{p->name()};
  auto status = std::make_shared<detail::projection_status>(
      impl_->head, impl_->metrics->for_projection(name), impl_->clk);
  std::lock_guard<std::mutex> lock{impl_->mutex};
  if (auto admitted = impl_->admit_locked(name); !admitted) return admitted;
  impl_->entries.push_back(impl::entry{name, caf::actor{}, std::move(status), std::move(p)});
  return ok();
}

result<void> projection_host::start_one(std::string_view name) {
  std::lock_guard<std::mutex> running{impl_->run_mutex};
  auto e = impl_->find(name);
  if (!e) return std::move(e).err();
  if (e->actor) return ok();
  auto ready = impl_->prepare(e->projection, projection_start::resume);
  if (!ready) return std::move(ready).err();
  e->status->update(ready->runner->position(), ready->runner->is_stopped(), std::nullopt);
  std::lock_guard<std::mutex> lock{impl_->mutex};
  if (impl_->stopped) return error{errc::unavailable, "projections are stopped"};
  for (auto& entry : impl_->entries)
    if (entry.name == name) entry.actor = impl_->spawn(std::move(*ready), e->status);
  return ok();
}

void projection_host::stop_one(std::string_view name) {
  std::lock_guard<std::mutex> running{impl_->run_mutex};
  caf::actor actor;
  {
    std::lock_guard<std::mutex> lock{impl_->mutex};
    if (impl_->stopped) return;
    for (auto& e : impl_->entries)
      if (e.name == name) std::swap(actor, e.actor);
  }
  if (!actor) return;
  {
    // The exit message queues behind what was sent before, and a batch is one message: the
    // batch in hand commits its checkpoint before `down_msg`.
    caf::scoped_actor self{*impl_->sys};
    self->monitor(actor);
    self->send_exit(actor, caf::exit_reason::user_shutdown);
    self->receive([](const caf::down_msg&) {});
  }
  detail::release_spawning_thread();  // the scoped actor's
}

result<void> projection_host::wait_for(std::string_view name, global_position position,
                                       std::chrono::milliseconds timeout) {
  auto e = impl_->find(name);
  if (!e) return std::move(e).err();
  if (!e->actor) return wait_for_shared(name, position, timeout);
  auto& st = *e->status;
  std::unique_lock<std::mutex> lock{st.mutex};
  if (st.changed.wait_for(lock, timeout, [&] { return !(st.at.position < position); })) return ok();
  return error{errc::timeout, "projection '" + std::string{name} + "' is at " +
                                  std::to_string(st.at.position.value) + ", not yet at " +
                                  std::to_string(position.value) + " after " +
                                  std::to_string(timeout.count()) + " ms"};
}

result<void> projection_host::wait_for_shared(std::string_view name, global_position position,
                                              std::chrono::milliseconds timeout) {
  // Another node applies it: its checkpoint in the shared read-model store is the truth,
  // read again every poll interval (or sooner when it starts running here).
  constexpr std::chrono::milliseconds poll{20};
  auto e = impl_->find(name);
  if (!e) return std::move(e).err();
  auto s = impl_->store->open();
  if (!s) return std::move(s).err();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto cp = (*s)->load_checkpoint(name);
    if (!cp) return std::move(cp).err();
    if (!(cp->position < position)) return ok();
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline)
      return error{errc::timeout, "projection '" + std::string{name} + "' is at " +
                                      std::to_string(cp->position.value) + ", not yet at " +
                                      std::to_string(position.value) + " after " +
                                      std::to_string(timeout.count()) + " ms"};
    auto& st = *e->status;
    std::unique_lock<std::mutex> lock{st.mutex};
    st.changed.wait_until(lock, std::min(deadline, now + poll),
                          [&] { return !(st.at.position < position); });
  }
}

result<projection_lag> projection_host::lag(std::string_view name) {
  auto e = impl_->find(name);
  if (!e) return std::move(e).err();
  projection_lag out;
  out.name = std::string{name};
  if (!e->actor) {
    // Another node applies it: where its shared checkpoint stands.
    auto s = impl_->store->open();
    if (!s) return std::move(s).err();
    auto cp = (*s)->load_checkpoint(name);
    if (!cp) return std::move(cp).err();
    std::lock_guard<std::mutex> lock{e->status->mutex};
    e->status->at = *cp;
    const auto figures = e->status->lag_locked();
    out.position = cp->position;
    out.head = figures.head;
    out.lag_events = figures.events;
    out.lag_seconds = figures.seconds;
    return out;
  }
  {
    std::lock_guard<std::mutex> lock{e->status->mutex};
    out.position = e->status->at.position;
    out.live = e->status->live;
    out.stopped = e->status->stopped;
    out.last_error = e->status->last_error;
    const auto figures = e->status->lag_locked();
    out.head = figures.head;
    out.lag_events = figures.events;
    out.lag_seconds = figures.seconds;
  }
  return out;
}

std::vector<std::string> projection_host::names() const {
  std::lock_guard<std::mutex> lock{impl_->mutex};
  std::vector<std::string> out;
  for (const auto& e : impl_->entries) out.push_back(e.name);
  return out;
}

result<std::vector<persistence::dead_letter>> projection_host::dead_letters(std::string_view name) {
  if (auto e = impl_->find(name); !e) return std::move(e).err();
  auto s = impl_->store->open();
  if (!s) return std::move(s).err();
  return (*s)->dead_letters(name);
}

result<void> projection_host::retry(std::string_view name, global_position position) {
  return impl_->control(name, detail::projection_control::kind::retry, position);
}

result<void> projection_host::rebuild(std::string_view name) {
  return impl_->control(name, detail::projection_control::kind::rebuild, global_position{});
}

result<std::unique_ptr<persistence::projection_store>> projection_host::open_store() {
  return impl_->store->open();
}

void projection_host::stop() {
  std::lock_guard<std::mutex> running{impl_->run_mutex};
  std::vector<impl::entry> entries;
  {
    std::lock_guard<std::mutex> lock{impl_->mutex};
    if (impl_->stopped) return;
    impl_->stopped = true;
    entries.swap(impl_->entries);
  }
  // Exit messages queue behind what was sent before: the bus forwards every batch the writer
  // handed it, and each projection takes what the bus sent it, before it ends.
  if (impl_->bus) {
    caf::scoped_actor self{*impl_->sys};
    self->monitor(impl_->bus);
    self->send_exit(impl_->bus, caf::exit_reason::user_shutdown);
    self->receive([](const caf::down_msg&) {});
    impl_->bus = nullptr;
  }
  detail::release_spawning_thread();  // the scoped actor's
  for (auto& e : entries)
    if (e.actor) caf::anon_send_exit(e.actor, caf::exit_reason::user_shutdown);
  // The engine destroys the actor system, which waits for the projections' threads.
}

}  // namespace strata::actors
