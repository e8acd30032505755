#include "strata/metrics/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cassert>
#include <exception>
#include <future>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

namespace strata::metrics {

namespace {

// Latencies of a command or a commit: 50 µs (an in-memory journal) to 5 s (a stalled disk).
const prometheus::Histogram::BucketBoundaries& latency_buckets() {
  static const prometheus::Histogram::BucketBoundaries buckets{
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
      0.025,   0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0};
  return buckets;
}

// Rehydration replays up to many thousands of events: 100 µs to 30 s.
const prometheus::Histogram::BucketBoundaries& rehydration_buckets() {
  static const prometheus::Histogram::BucketBoundaries buckets{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
      0.1,    0.25,    0.5,    1.0,   2.5,    5.0,   10.0, 30.0};
  return buckets;
}

// Events per group commit: one lone command up to the largest batch a writer collects.
const prometheus::Histogram::BucketBoundaries& batch_buckets() {
  static const prometheus::Histogram::BucketBoundaries buckets{
      1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000};
  return buckets;
}

double non_negative(double seconds) noexcept {
  return seconds > 0 ? seconds : 0.0;
}

void increment(prometheus::Counter* counter, double by) noexcept {
  assert(counter != nullptr);
  counter->Increment(by);
}

// Histogram::Observe takes a mutex; std::mutex::lock can in theory throw std::system_error.
// A metric that cannot be recorded is dropped rather than crashing a command.
void observe(prometheus::Histogram* histogram, double value) noexcept {
  assert(histogram != nullptr);
  try {
    histogram->Observe(value);
  } catch (...) {
  }
}

std::string listening_address(const metrics_options& options) {
  const bool ipv6 =
      options.bind_address.find(':') != std::string::npos && options.bind_address.front() != '[';
  std::string host = ipv6 ? "[" + options.bind_address + "]" : options.bind_address;
  return host + ":" + std::to_string(options.port);
}

// The address a local client reaches the exposer on: the bind address itself, or loopback when
// it listens on every interface.
std::string wake_host(const std::string& bind_address) {
  if (bind_address == "0.0.0.0") return "127.0.0.1";
  if (bind_address == "::" || bind_address == "[::]") return "::1";
  if (bind_address.size() > 2 && bind_address.front() == '[' && bind_address.back() == ']')
    return bind_address.substr(1, bind_address.size() - 2);
  return bind_address;
}

// Opens and at once closes one TCP connection to `host:port`; failures are ignored.
void knock(const std::string& host, std::uint16_t port) noexcept {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (::getaddrinfo(host.c_str(), service.c_str(), &hints, &found) != 0 || found == nullptr) return;
  const int fd = ::socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, found->ai_protocol);
  if (fd >= 0) {
    (void)::connect(fd, found->ai_addr, found->ai_addrlen);
    ::close(fd);
  }
  ::freeaddrinfo(found);
}

// civetweb's listener thread polls its sockets in quanta of two seconds and looks at the stop
// flag only between them, so destroying an idle exposer takes up to two seconds. A connection
// wakes the poll: while the exposer is being destroyed, knock on its port every few
// milliseconds until the destruction has returned. Knocks that land before the stop flag is
// set are served as empty connections and closed.
void destroy_promptly(std::unique_ptr<prometheus::Exposer> exposer, const std::string& host,
                      std::uint16_t port) noexcept {
  if (!exposer) return;
  try {
    std::promise<void> destroyed;
    auto done = destroyed.get_future();
    std::thread knocker{[&host, port, done = std::move(done)]() mutable {
      do {
        knock(host, port);
      } while (done.wait_for(std::chrono::milliseconds{2}) != std::future_status::ready);
    }};
    try {
      exposer.reset();
    } catch (...) {
    }
    destroyed.set_value();
    knocker.join();
  } catch (...) {
    // No thread could be started: destroy it the slow way.
    try {
      exposer.reset();
    } catch (...) {
    }
  }
}

}  // namespace

std::string_view to_string(snapshot_ignore_reason reason) noexcept {
  switch (reason) {
    case snapshot_ignore_reason::state_version:
      return "state_version";
    case snapshot_ignore_reason::hash_mismatch:
      return "hash_mismatch";
    case snapshot_ignore_reason::decode:
      return "decode";
  }
  return "decode";
}

void aggregate_metrics::command_done(command_status outcome, double seconds) noexcept {
  const auto index = static_cast<std::size_t>(outcome);
  increment(commands_[index < command_status_count ? index : command_status_count - 1], 1);
  observe(command_duration_, non_negative(seconds));
}

void aggregate_metrics::events_appended(std::uint64_t n) noexcept {
  increment(events_appended_, static_cast<double>(n));
}

void aggregate_metrics::live_add(std::int64_t delta) noexcept {
  live_->Increment(static_cast<double>(delta));
}

void aggregate_metrics::in_flight_add(std::int64_t delta) noexcept {
  in_flight_->Increment(static_cast<double>(delta));
}

void aggregate_metrics::spawned() noexcept {
  increment(spawns_, 1);
}

void aggregate_metrics::passivated() noexcept {
  increment(passivations_, 1);
}

void aggregate_metrics::hibernated() noexcept {
  increment(hibernations_, 1);
}

void aggregate_metrics::restarted() noexcept {
  increment(restarts_, 1);
}

void aggregate_metrics::rehydrated(double seconds, std::uint64_t events) noexcept {
  increment(rehydrations_, 1);
  observe(rehydration_duration_, non_negative(seconds));
  increment(rehydrated_events_, static_cast<double>(events));
}

void aggregate_metrics::snapshot_written() noexcept {
  increment(snapshots_written_, 1);
}

void aggregate_metrics::snapshot_queued(std::uint64_t distance) noexcept {
  observe(snapshot_distance_, static_cast<double>(distance));
}

void aggregate_metrics::snapshot_ignored(snapshot_ignore_reason reason) noexcept {
  const auto index = static_cast<std::size_t>(reason);
  increment(
      snapshots_ignored_[index < snapshot_ignore_reason_count ? index
                                                              : snapshot_ignore_reason_count - 1],
      1);
}

void journal_metrics::commit_done(bool succeeded, std::uint64_t events, double seconds) noexcept {
  increment(succeeded ? commits_ok_ : commits_failed_, 1);
  observe(batch_events_, static_cast<double>(events));
  observe(commit_duration_, non_negative(seconds));
}

void journal_metrics::appends_conflicted(std::uint64_t n) noexcept {
  increment(conflicts_, static_cast<double>(n));
}

void projection_metrics::set_position(global_position position) noexcept {
  position_->Set(static_cast<double>(position.value));
}

void projection_metrics::set_lag(std::uint64_t events, double seconds) noexcept {
  lag_events_->Set(static_cast<double>(events));
  lag_seconds_->Set(non_negative(seconds));
}

void projection_metrics::progress(global_position position, global_position head) noexcept {
  position_->Set(static_cast<double>(position.value));
  lag_events_->Set(head > position ? static_cast<double>(head.value - position.value) : 0.0);
}

void projection_metrics::applied(std::uint64_t n) noexcept {
  increment(applied_, static_cast<double>(n));
}

void projection_metrics::dead_lettered(std::uint64_t n) noexcept {
  increment(dead_lettered_, static_cast<double>(n));
}

void relay_metrics::progress(global_position confirmed, global_position head) noexcept {
  position_->Set(static_cast<double>(confirmed.value));
  lag_events_->Set(head > confirmed ? static_cast<double>(head.value - confirmed.value) : 0.0);
}

void relay_metrics::published(std::uint64_t n) noexcept {
  increment(published_, static_cast<double>(n));
}

void relay_metrics::set_connected(bool connected) noexcept {
  connected_->Set(connected ? 1.0 : 0.0);
}

void relay_metrics::failed() noexcept {
  increment(errors_, 1.0);
}

void relay_metrics::reconnected() noexcept {
  increment(reconnects_, 1.0);
}

void cluster_metrics::set_view(std::size_t live_members, std::size_t shards_owned) noexcept {
  members_->Set(static_cast<double>(live_members));
  shards_owned_->Set(static_cast<double>(shards_owned));
}

void cluster_metrics::forwarded() noexcept {
  increment(forwarded_, 1.0);
}

void cluster_metrics::forward_failed() noexcept {
  increment(forward_failures_, 1.0);
}

void cluster_metrics::served() noexcept {
  increment(served_, 1.0);
}

void cluster_metrics::forward_done(double seconds) noexcept {
  observe(forward_duration_, non_negative(seconds));
}

void cluster_metrics::suspected() noexcept {
  increment(suspicions_, 1.0);
}

void cluster_metrics::declared_dead() noexcept {
  increment(declarations_, 1.0);
}

void cluster_metrics::fenced() noexcept {
  increment(fenced_, 1.0);
}

void cluster_metrics::rejoined() noexcept {
  increment(rejoins_, 1.0);
}

void cluster_metrics::handed_off() noexcept {
  increment(handoffs_, 1.0);
}

void cluster_metrics::link_sent(std::size_t requests) noexcept {
  increment(link_messages_, 1.0);
  increment(link_requests_, static_cast<double>(requests));
}

// The families, created once with the registry; children are added per label set.
struct registry::families {
  explicit families(prometheus::Registry& r)
      : commands(prometheus::BuildCounter()
                     .Name("strata_commands_total")
                     .Help("Commands finished, by aggregate type and outcome.")
                     .Register(r)),
        command_duration(prometheus::BuildHistogram()
                             .Name("strata_command_duration_seconds")
                             .Help("Command latency from receipt to reply, in seconds.")
                             .Register(r)),
        events_appended(prometheus::BuildCounter()
                            .Name("strata_events_appended_total")
                            .Help("Events durably appended to the journal, by aggregate type.")
                            .Register(r)),
        live(prometheus::BuildGauge()
                 .Name("strata_live_aggregates")
                 .Help("Aggregate instances currently live in memory.")
                 .Register(r)),
        in_flight(prometheus::BuildGauge()
                      .Name("strata_commands_in_flight")
                      .Help("Commands admitted and not yet replied to.")
                      .Register(r)),
        spawns(prometheus::BuildCounter()
                   .Name("strata_aggregate_spawns_total")
                   .Help("Aggregate instances spawned on first use.")
                   .Register(r)),
        passivations(prometheus::BuildCounter()
                         .Name("strata_aggregate_passivations_total")
                         .Help("Aggregate instances passivated (stopped while idle or evicted).")
                         .Register(r)),
        hibernations(prometheus::BuildCounter()
                         .Name("strata_aggregate_hibernations_total")
                         .Help("Idle aggregate instances that gave up their actor and kept only "
                               "their state.")
                         .Register(r)),
        restarts(prometheus::BuildCounter()
                     .Name("strata_aggregate_restarts_total")
                     .Help("Aggregate instances restarted from the journal after a failure.")
                     .Register(r)),
        rehydrations(prometheus::BuildCounter()
                         .Name("strata_rehydrations_total")
                         .Help("Aggregate rehydrations (snapshot load plus event replay).")
                         .Register(r)),
        rehydration_duration(prometheus::BuildHistogram()
                                 .Name("strata_rehydration_duration_seconds")
                                 .Help("Time to rehydrate one aggregate instance, in seconds.")
                                 .Register(r)),
        rehydrated_events(prometheus::BuildCounter()
                              .Name("strata_rehydrated_events_total")
                              .Help("Events replayed while rehydrating aggregates.")
                              .Register(r)),
        snapshots_written(prometheus::BuildCounter()
                              .Name("strata_snapshots_written_total")
                              .Help("Aggregate snapshots written.")
                              .Register(r)),
        snapshot_distance(prometheus::BuildHistogram()
                              .Name("strata_snapshot_distance_events")
                              .Help("Events past the previous snapshot when a new one is queued.")
                              .Register(r)),
        snapshots_ignored(prometheus::BuildCounter()
                              .Name("strata_snapshots_ignored_total")
                              .Help("Stored snapshots not used, by reason.")
                              .Register(r)),
        batch_events(prometheus::BuildHistogram()
                         .Name("strata_journal_batch_events")
                         .Help("Events per journal group commit.")
                         .Register(r)),
        commit_duration(prometheus::BuildHistogram()
                            .Name("strata_journal_commit_duration_seconds")
                            .Help("Journal group commit latency, in seconds.")
                            .Register(r)),
        commits(prometheus::BuildCounter()
                    .Name("strata_journal_commits_total")
                    .Help("Journal group commits, by result.")
                    .Register(r)),
        conflicts(prometheus::BuildCounter()
                      .Name("strata_journal_append_conflicts_total")
                      .Help("Per-stream appends refused with a version conflict.")
                      .Register(r)),
        position(prometheus::BuildGauge()
                     .Name("strata_projection_position")
                     .Help("Last global journal position applied by the projection.")
                     .Register(r)),
        lag_events(prometheus::BuildGauge()
                       .Name("strata_projection_lag_events")
                       .Help("Committed events the projection has not applied yet.")
                       .Register(r)),
        lag_seconds(prometheus::BuildGauge()
                        .Name("strata_projection_lag_seconds")
                        .Help("Age of the oldest committed event the projection has not applied, "
                              "in seconds.")
                        .Register(r)),
        applied(prometheus::BuildCounter()
                    .Name("strata_projection_events_applied_total")
                    .Help("Events applied by the projection.")
                    .Register(r)),
        dead_lettered(prometheus::BuildCounter()
                          .Name("strata_dead_lettered_events_total")
                          .Help("Events a projection could not apply and parked with a reason.")
                          .Register(r)),
        mailbox(prometheus::BuildGauge()
                    .Name("strata_mailbox_backlog_messages")
                    .Help("Messages waiting in actor mailboxes, by actor kind, when sampled.")
                    .Register(r)),
        relay_position(prometheus::BuildGauge()
                           .Name("strata_relay_position")
                           .Help("Last global journal position the broker confirmed to the relay.")
                           .Register(r)),
        relay_lag(prometheus::BuildGauge()
                      .Name("strata_relay_lag_events")
                      .Help("Committed events the relay has not had confirmed by the broker yet.")
                      .Register(r)),
        relay_published(prometheus::BuildCounter()
                            .Name("strata_relay_published_total")
                            .Help("Events the relay published and the broker confirmed.")
                            .Register(r)),
        relay_connected(prometheus::BuildGauge()
                            .Name("strata_relay_connected")
                            .Help("1 while the relay holds a broker connection, else 0.")
                            .Register(r)),
        relay_errors(prometheus::BuildCounter()
                         .Name("strata_relay_errors_total")
                         .Help("Failed relay connects, publishes, confirms or checkpoint writes.")
                         .Register(r)),
        relay_reconnects(prometheus::BuildCounter()
                             .Name("strata_relay_reconnects_total")
                             .Help("Broker connections the relay made after losing one.")
                             .Register(r)),
        cluster_members(prometheus::BuildGauge()
                            .Name("strata_cluster_members")
                            .Help("Live cluster members this node counted at its last round.")
                            .Register(r)),
        cluster_shards_owned(prometheus::BuildGauge()
                                 .Name("strata_cluster_shards_owned")
                                 .Help("Shards whose lease this node holds and acts on.")
                                 .Register(r)),
        cluster_forwarded(prometheus::BuildCounter()
                              .Name("strata_cluster_commands_forwarded_total")
                              .Help("Commands this node sent to the node owning their shard.")
                              .Register(r)),
        cluster_forward_failures(
            prometheus::BuildCounter()
                .Name("strata_cluster_forward_failures_total")
                .Help("Forwarded commands answered unavailable: owner unreachable or silent.")
                .Register(r)),
        cluster_served(prometheus::BuildCounter()
                           .Name("strata_cluster_commands_served_total")
                           .Help("Commands other nodes sent to this node.")
                           .Register(r)),
        cluster_forward_duration(
            prometheus::BuildHistogram()
                .Name("strata_cluster_forward_duration_seconds")
                .Help("Time from forwarding a command to its owner's answer, in seconds.")
                .Register(r)),
        cluster_suspicions(prometheus::BuildCounter()
                               .Name("strata_cluster_suspicions_total")
                               .Help("Suspicions of peers this node recorded.")
                               .Register(r)),
        cluster_declarations(prometheus::BuildCounter()
                                 .Name("strata_cluster_declarations_total")
                                 .Help("Peers this node declared dead.")
                                 .Register(r)),
        cluster_fenced(prometheus::BuildCounter()
                           .Name("strata_cluster_fenced_total")
                           .Help("Heartbeats of this node refused because its epoch was fenced.")
                           .Register(r)),
        cluster_rejoins(prometheus::BuildCounter()
                            .Name("strata_cluster_rejoins_total")
                            .Help("Times this node joined again after it was declared dead.")
                            .Register(r)),
        cluster_handoffs(prometheus::BuildCounter()
                             .Name("strata_cluster_handoffs_total")
                             .Help("Shards this node handed to their planned owner.")
                             .Register(r)),
        cluster_link_messages(
            prometheus::BuildCounter()
                .Name("strata_cluster_link_messages_total")
                .Help("Messages of requests (forwarded commands, pings) sent to peers.")
                .Register(r)),
        cluster_link_requests(prometheus::BuildCounter()
                                  .Name("strata_cluster_link_requests_total")
                                  .Help("Requests (forwarded commands, pings) sent to peers.")
                                  .Register(r)),
        cluster_singletons(
            prometheus::BuildGauge()
                .Name("strata_cluster_singleton_running")
                .Help("1 while this node runs the projection or relay under the lease, else 0.")
                .Register(r)) {}

  prometheus::Family<prometheus::Counter>& commands;
  prometheus::Family<prometheus::Histogram>& command_duration;
  prometheus::Family<prometheus::Counter>& events_appended;
  prometheus::Family<prometheus::Gauge>& live;
  prometheus::Family<prometheus::Gauge>& in_flight;
  prometheus::Family<prometheus::Counter>& spawns;
  prometheus::Family<prometheus::Counter>& passivations;
  prometheus::Family<prometheus::Counter>& hibernations;
  prometheus::Family<prometheus::Counter>& restarts;
  prometheus::Family<prometheus::Counter>& rehydrations;
  prometheus::Family<prometheus::Histogram>& rehydration_duration;
  prometheus::Family<prometheus::Counter>& rehydrated_events;
  prometheus::Family<prometheus::Counter>& snapshots_written;
  prometheus::Family<prometheus::Histogram>& snapshot_distance;
  prometheus::Family<prometheus::Counter>& snapshots_ignored;
  prometheus::Family<prometheus::Histogram>& batch_events;
  prometheus::Family<prometheus::Histogram>& commit_duration;
  prometheus::Family<prometheus::Counter>& commits;
  prometheus::Family<prometheus::Counter>& conflicts;
  prometheus::Family<prometheus::Gauge>& position;
  prometheus::Family<prometheus::Gauge>& lag_events;
  prometheus::Family<prometheus::Gauge>& lag_seconds;
  prometheus::Family<prometheus::Counter>& applied;
  prometheus::Family<prometheus::Counter>& dead_lettered;
  prometheus::Family<prometheus::Gauge>& mailbox;
  prometheus::Family<prometheus::Gauge>& relay_position;
  prometheus::Family<prometheus::Gauge>& relay_lag;
  prometheus::Family<prometheus::Counter>& relay_published;
  prometheus::Family<prometheus::Gauge>& relay_connected;
  prometheus::Family<prometheus::Counter>& relay_errors;
  prometheus::Family<prometheus::Counter>& relay_reconnects;
  prometheus::Family<prometheus::Gauge>& cluster_members;
  prometheus::Family<prometheus::Gauge>& cluster_shards_owned;
  prometheus::Family<prometheus::Counter>& cluster_forwarded;
  prometheus::Family<prometheus::Counter>& cluster_forward_failures;
  prometheus::Family<prometheus::Counter>& cluster_served;
  prometheus::Family<prometheus::Histogram>& cluster_forward_duration;
  prometheus::Family<prometheus::Counter>& cluster_suspicions;
  prometheus::Family<prometheus::Counter>& cluster_declarations;
  prometheus::Family<prometheus::Counter>& cluster_fenced;
  prometheus::Family<prometheus::Counter>& cluster_rejoins;
  prometheus::Family<prometheus::Counter>& cluster_handoffs;
  prometheus::Family<prometheus::Counter>& cluster_link_messages;
  prometheus::Family<prometheus::Counter>& cluster_link_requests;
  prometheus::Family<prometheus::Gauge>& cluster_singletons;
};

registry::registry()
    : registry_(std::make_shared<prometheus::Registry>()),
      families_(std::make_unique<families>(*registry_)) {
  // The journal has no label but the commit result: its children exist from the start, so a
  // scrape shows zeros rather than missing series before the first commit.
  journal_.batch_events_ = &families_->batch_events.Add({}, batch_buckets());
  journal_.commit_duration_ = &families_->commit_duration.Add({}, latency_buckets());
  journal_.commits_ok_ = &families_->commits.Add({{"result", "ok"}});
  journal_.commits_failed_ = &families_->commits.Add({{"result", "failed"}});
  journal_.conflicts_ = &families_->conflicts.Add({});
  relay_.position_ = &families_->relay_position.Add({});
  relay_.lag_events_ = &families_->relay_lag.Add({});
  relay_.published_ = &families_->relay_published.Add({});
  relay_.connected_ = &families_->relay_connected.Add({});
  relay_.errors_ = &families_->relay_errors.Add({});
  relay_.reconnects_ = &families_->relay_reconnects.Add({});
  cluster_.members_ = &families_->cluster_members.Add({});
  cluster_.shards_owned_ = &families_->cluster_shards_owned.Add({});
  cluster_.forwarded_ = &families_->cluster_forwarded.Add({});
  cluster_.forward_failures_ = &families_->cluster_forward_failures.Add({});
  cluster_.served_ = &families_->cluster_served.Add({});
  cluster_.forward_duration_ = &families_->cluster_forward_duration.Add({}, latency_buckets());
  cluster_.suspicions_ = &families_->cluster_suspicions.Add({});
  cluster_.declarations_ = &families_->cluster_declarations.Add({});
  cluster_.fenced_ = &families_->cluster_fenced.Add({});
  cluster_.rejoins_ = &families_->cluster_rejoins.Add({});
  cluster_.handoffs_ = &families_->cluster_handoffs.Add({});
  cluster_.link_messages_ = &families_->cluster_link_messages.Add({});
  cluster_.link_requests_ = &families_->cluster_link_requests.Add({});
}

registry::~registry() {
  stop_exposing();
}

std::shared_ptr<registry> registry::create() {
  return std::shared_ptr<registry>(new registry());
}

result<void> registry::expose(const metrics_options& options) {
  if (!options.enabled) return ok();
  if (options.bind_address.empty()) {
    // civetweb would read ":port" as every interface; never widen exposure by accident.
    return error{errc::invalid_argument, "metrics bind_address is empty"};
  }
  std::lock_guard<std::mutex> guard{exposer_mutex_};
  if (exposer_) {
    return error{errc::invalid_argument,
                 "metrics are already exposed on port " + std::to_string(bound_port_)};
  }
  const std::string address = listening_address(options);
  try {
    auto exposer = std::make_unique<prometheus::Exposer>(address, 2);
    const auto ports = exposer->GetListeningPorts();
    if (ports.empty() || ports.front() <= 0 || ports.front() > 65535) {
      return error{errc::unavailable, "metrics exposer on " + address + " reports no port"};
    }
    exposer->RegisterCollectable(registry_);
    bound_port_ = static_cast<std::uint16_t>(ports.front());
    wake_host_ = wake_host(options.bind_address);
    exposer_ = std::move(exposer);
    return ok();
  } catch (const std::exception& e) {
    return error{errc::unavailable, "cannot serve metrics on " + address +
                                        " (address in use or not local?): " + e.what()};
  } catch (...) {
    return error{errc::unavailable, "cannot serve metrics on " + address};
  }
}

void registry::stop_exposing() noexcept {
  std::unique_ptr<prometheus::Exposer> stopping;
  std::string host;
  std::uint16_t port = 0;
  {
    std::lock_guard<std::mutex> guard{exposer_mutex_};
    stopping = std::move(exposer_);
    host = std::move(wake_host_);
    port = bound_port_;
    bound_port_ = 0;
  }
  // Destroying the exposer joins its threads; done outside the lock.
  destroy_promptly(std::move(stopping), host, port);
}

bool registry::is_exposed() const noexcept {
  std::lock_guard<std::mutex> guard{exposer_mutex_};
  return exposer_ != nullptr;
}

std::uint16_t registry::bound_port() const noexcept {
  std::lock_guard<std::mutex> guard{exposer_mutex_};
  return bound_port_;
}

std::string registry::scrape_text() const {
  const prometheus::TextSerializer serializer;
  std::ostringstream out;
  serializer.Serialize(out, registry_->Collect());
  return out.str();
}

aggregate_metrics& registry::for_aggregate(std::string_view type) {
  assert(!type.empty());
  std::lock_guard<std::mutex> guard{mutex_};
  if (auto found = aggregates_.find(type); found != aggregates_.end()) return *found->second;

  std::unique_ptr<aggregate_metrics> handles{new aggregate_metrics()};
  handles->type_ = std::string{type};
  const prometheus::Labels labels{{"aggregate_type", handles->type_}};
  for (std::size_t i = 0; i < command_status_count; ++i) {
    auto with_outcome = labels;
    with_outcome.emplace("outcome", std::string{to_string(static_cast<command_status>(i))});
    handles->commands_[i] = &families_->commands.Add(with_outcome);
  }
  handles->command_duration_ = &families_->command_duration.Add(labels, latency_buckets());
  handles->events_appended_ = &families_->events_appended.Add(labels);
  handles->live_ = &families_->live.Add(labels);
  handles->in_flight_ = &families_->in_flight.Add(labels);
  handles->spawns_ = &families_->spawns.Add(labels);
  handles->passivations_ = &families_->passivations.Add(labels);
  handles->hibernations_ = &families_->hibernations.Add(labels);
  handles->restarts_ = &families_->restarts.Add(labels);
  handles->rehydrations_ = &families_->rehydrations.Add(labels);
  handles->rehydration_duration_ =
      &families_->rehydration_duration.Add(labels, rehydration_buckets());
  handles->rehydrated_events_ = &families_->rehydrated_events.Add(labels);
  handles->snapshots_written_ = &families_->snapshots_written.Add(labels);
  handles->snapshot_distance_ = &families_->snapshot_distance.Add(labels, batch_buckets());
  for (std::size_t i = 0; i < snapshot_ignore_reason_count; ++i) {
    auto with_reason = labels;
    with_reason.emplace("reason", std::string{to_string(static_cast<snapshot_ignore_reason>(i))});
    handles->snapshots_ignored_[i] = &families_->snapshots_ignored.Add(with_reason);
  }
  auto& stored = *handles;
  aggregates_.emplace(handles->type_, std::move(handles));
  return stored;
}

projection_metrics& registry::for_projection(std::string_view name) {
  assert(!name.empty());
  std::lock_guard<std::mutex> guard{mutex_};
  if (auto found = projections_.find(name); found != projections_.end()) return *found->second;

  std::unique_ptr<projection_metrics> handles{new projection_metrics()};
  handles->name_ = std::string{name};
  const prometheus::Labels labels{{"projection", handles->name_}};
  handles->position_ = &families_->position.Add(labels);
  handles->lag_events_ = &families_->lag_events.Add(labels);
  handles->lag_seconds_ = &families_->lag_seconds.Add(labels);
  handles->applied_ = &families_->applied.Add(labels);
  handles->dead_lettered_ = &families_->dead_lettered.Add(labels);
  auto& stored = *handles;
  projections_.emplace(handles->name_, std::move(handles));
  return stored;
}

void registry::set_mailbox_backlog(std::string_view kind, std::uint64_t messages) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto found = mailboxes_.find(kind);
  if (found == mailboxes_.end()) {
    auto& gauge = families_->mailbox.Add({{"actor_kind", std::string{kind}}});
    found = mailboxes_.emplace(std::string{kind}, &gauge).first;
  }
  found->second->Set(static_cast<double>(messages));
}

void registry::set_singleton_running(std::string_view key, bool running) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto found = singletons_.find(key);
  if (found == singletons_.end()) {
    auto& gauge = families_->cluster_singletons.Add({{"lease", std::string{key}}});
    found = singletons_.emplace(std::string{key}, &gauge).first;
  }
  found->second->Set(running ? 1.0 : 0.0);
}

}  // namespace strata::metrics
