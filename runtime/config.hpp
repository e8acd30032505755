#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include <boost/describe/class.hpp>
#include <boost/describe/enum.hpp>
#include <boost/describe/enum_to_string.hpp>

#include "strata/domain/kernel/log.hpp"
#include "strata/domain/kernel/result.hpp"
#include "strata/persistence/projection.hpp"

namespace strata {

/// Configuration of a `strata::runtime`. Every field has a default that works out of the
/// box, written once, here: an SQLite journal `strata.db` in the working directory, durable
/// (synchronous=FULL), metrics on 127.0.0.1 at a free port. The JSON file uses the same names (see
/// README, "Configuration").
///
/// A setting with a fixed set of values is an enum described with `BOOST_DESCRIBE_ENUM`; the
/// file writes its enumerator names ("sqlite", "full", "park_and_continue"). `parse_config`
/// turns them into the enum once, and refuses any other text naming the key and the values
/// it accepts; a new enumerated setting needs nothing more than its description.

/// Where the journal (and the snapshots) live.
enum class journal_backend : std::uint8_t {
  sqlite,    ///< One SQLite file (the default).
  postgres,  ///< A PostgreSQL database.
  memory,    ///< Nothing survives the process; for tests.
};
BOOST_DESCRIBE_ENUM(journal_backend, sqlite, postgres, memory)

/// SQLite's `synchronous` setting: what a committed transaction survives.
enum class sqlite_synchronous : std::uint8_t {
  full,    ///< Power loss: a commit waits for the disk.
  normal,  ///< A crash of the process (not of the machine); commits are cheaper.
};
BOOST_DESCRIBE_ENUM(sqlite_synchronous, full, normal)

/// The name a configuration file writes for `value`, e.g. "sqlite" (for messages and logs).
template <class E, class = std::enable_if_t<boost::describe::has_describe_enumerators<E>::value>>
const char* config_name(E value) noexcept {
  return boost::describe::enum_to_string(value, "(invalid)");
}

struct sqlite_config {
  std::string path = "strata.db";
  /// `full`: an accepted command survives power loss; `normal`: it survives a crash of the
  /// process (not of the machine), and commits are cheaper.
  sqlite_synchronous synchronous = sqlite_synchronous::full;
};
BOOST_DESCRIBE_STRUCT(sqlite_config, (), (path, synchronous))

struct postgres_config {
  std::string conninfo = "host=127.0.0.1 dbname=strata";
  std::string schema = "strata";
};
BOOST_DESCRIBE_STRUCT(postgres_config, (), (conninfo, schema))

struct journal_config {
  journal_backend backend = journal_backend::sqlite;
  sqlite_config sqlite;
  postgres_config postgres;
  std::uint32_t max_batch_events = 1000;  ///< Group commit: events per transaction at most.
  std::uint32_t max_wait_us = 0;          ///< Group commit: extra wait for a fuller batch.
  std::uint32_t wait_after_events = 0;    ///< ... only after a commit of at least this many.
  std::uint32_t reader_threads = 2;       ///< Connections for rehydration and queries.
};
BOOST_DESCRIBE_STRUCT(journal_config, (),
                      (backend, sqlite, postgres, max_batch_events, max_wait_us, wait_after_events,
                       reader_threads))

struct commands_config {
  std::uint32_t timeout_ms = 10000;              ///< Deadline of a command not yet decided.
  std::uint32_t max_in_flight_per_type = 65536;  ///< Admission bound; beyond: overloaded.
  std::uint32_t idempotency_window = 32;  ///< Recent command ids kept in memory per aggregate.
  std::uint32_t max_queued_per_aggregate = 4096;  ///< Waiting in one aggregate; beyond: overloaded.
};
BOOST_DESCRIBE_STRUCT(commands_config, (),
                      (timeout_ms, max_in_flight_per_type, idempotency_window,
                       max_queued_per_aggregate))

struct aggregates_config {
  std::uint32_t idle_timeout_ms = 0;        ///< Passivate aggregates idle this long (0: never).
  std::uint32_t hibernate_after_ms = 1000;  ///< Keep only the state of aggregates idle this long.
  std::uint32_t snapshot_every = 100;       ///< Take a snapshot every N events (0: never).
  std::uint32_t snapshots_kept = 3;         ///< Snapshots kept per stream (for temporal queries).
  std::uint32_t max_live_per_type = 1'000'000;  ///< Beyond it the least recently used go.
  std::uint32_t max_crashes = 3;                ///< Crashes within the window before refusing.
  std::uint32_t crash_window_ms = 10000;
};
BOOST_DESCRIBE_STRUCT(aggregates_config, (),
                      (idle_timeout_ms, hibernate_after_ms, snapshot_every, snapshots_kept,
                       max_live_per_type, max_crashes, crash_window_ms))

/// The Prometheus endpoint (see docs/METRICS.md). On by default, on loopback, on a port the
/// operating system picks (reported by `metrics::registry::bound_port` and logged at info
/// level), so two runtimes share a host, in one process or two. A fixed port that is taken
/// makes `runtime::start` fail with `unavailable`; it never falls back to another port.
struct metrics_config {
  bool enabled = true;
  std::string bind_address = "127.0.0.1";
  std::uint16_t port = 0;  ///< 0: any free port; set e.g. 9464 for a fixed scrape target.
};
BOOST_DESCRIBE_STRUCT(metrics_config, (), (enabled, bind_address, port))

/// Where the read models (and their checkpoints and dead letters) live.
enum class projections_backend : std::uint8_t {
  sqlite,    ///< One SQLite file, `projections.path` (the default).
  postgres,  ///< A schema of a PostgreSQL database, `projections.postgres`.
};
BOOST_DESCRIBE_ENUM(projections_backend, sqlite, postgres)

/// Projections and their read-model database (see docs/PROJECTIONS.md).
struct projections_config {
  projections_backend backend = projections_backend::sqlite;
  std::string path = "strata-read.db";  ///< The SQLite read-model file (not the journal's).
  /// The PostgreSQL read-model database: the read models' tables live in `schema` (its own,
  /// not the journal's by default).
  postgres_config postgres{"host=127.0.0.1 dbname=strata", "strata_read"};
  /// `normal` by default: the checkpoint shares each transaction, so a lost commit is simply
  /// applied again.
  sqlite_synchronous synchronous = sqlite_synchronous::normal;
  /// A handler failure parks the event, then: `park_and_continue` or `stop`.
  persistence::poison_policy on_poison = persistence::poison_policy::park_and_continue;
  std::uint32_t batch_events = 1000;    ///< Events per read-model transaction at most.
  std::uint32_t buffer_events = 10000;  ///< Live events buffered per projection.
  std::uint32_t retry_delay_ms = 200;   ///< Wait after a journal or store failure.
};
BOOST_DESCRIBE_STRUCT(projections_config, (),
                      (backend, path, postgres, synchronous, on_poison, batch_events, buffer_events,
                       retry_delay_ms))

/// What the library reports (see `log_sink`; a host supplies its own in `runtime_overrides`).
struct log_config {
  /// Messages below it are not written: "debug", "info", "warning" (default) or "error".
  log_level level = log_level::warning;
};
BOOST_DESCRIBE_STRUCT(log_config, (), (level))

/// The broker the relay publishes to (see docs/RELAY.md).
struct relay_rabbitmq_config {
  /// `amqp://user:password@host:port/vhost`; an empty path or "/" is the vhost "/".
  std::string url = "amqp://guest:guest@127.0.0.1:5672/";
  std::string exchange = "strata.events";  ///< A durable topic exchange, declared on connect.
};
BOOST_DESCRIBE_STRUCT(relay_rabbitmq_config, (), (url, exchange))

/// The relay of committed events to RabbitMQ (docs/RELAY.md). Off by default; a build
/// without RabbitMQ (STRATA_WITH_RABBITMQ=OFF) refuses `enabled` at start.
struct relay_config {
  bool enabled = false;
  relay_rabbitmq_config rabbitmq;
  /// Events published before waiting for the broker's confirms; also the most that can be
  /// published twice after a crash.
  std::uint32_t batch_events = 500;
  std::uint32_t backoff_min_ms = 100;        ///< First wait after a failure; doubles from there
  std::uint32_t backoff_max_ms = 10000;      ///< up to this.
  std::uint32_t confirm_timeout_ms = 10000;  ///< For the confirms of one batch.
  std::uint32_t poll_ms = 50;  ///< When caught up, how long to wait before reading again.
};
BOOST_DESCRIBE_STRUCT(relay_config, (),
                      (enabled, rabbitmq, batch_events, backoff_min_ms, backoff_max_ms,
                       confirm_timeout_ms, poll_ms))

/// TLS between the nodes of a cluster (docs/CLUSTER.md, "TLS"): every connection between two
/// nodes is encrypted and both ends present a certificate that the other verifies against the
/// cluster's CA (mutual authentication). On by default: a cluster talks plaintext only when
/// `enabled` is set to false explicitly.
struct cluster_tls_config {
  bool enabled = true;
  std::string certificate;  ///< PEM file: this node's certificate (chain), signed by the CA.
  std::string key;          ///< PEM file: the certificate's private key.
  std::string ca;           ///< PEM file: the cluster CA's certificate(s), the only ones trusted.
  std::string passphrase;   ///< Decrypts `key` when it is encrypted; empty: it is not.
};
BOOST_DESCRIBE_STRUCT(cluster_tls_config, (), (enabled, certificate, key, ca, passphrase))

/// A node of a cluster (docs/CLUSTER.md): its identity, where peers reach it, and the timing of
/// membership and leases, which live in the journal's PostgreSQL database. When enabled, the
/// runtime joins, publishes its endpoint, heartbeats, holds its share of the shard leases and
/// forwards commands to their shard's owner, over TLS unless `tls.enabled` is false.
struct cluster_config {
  bool enabled = false;
  /// Unique among the running nodes: 1 to 64 characters of [A-Za-z0-9._-]; needed when enabled.
  std::string node_id;
  std::string host = "127.0.0.1";  ///< Where peers reach this node.
  std::uint16_t port = 0;          ///< 0: any free port (the bound one goes into the table).
  /// Shards aggregate ids hash to; fixed for a database once the first node joined. 1..65536.
  std::uint32_t shard_count = 64;
  std::uint32_t heartbeat_interval_ms = 1000;  ///< Heartbeat and lease renewal period.
  std::uint32_t suspect_timeout_ms = 3000;     ///< Silence before a peer suspects this node.
  std::uint32_t dead_timeout_ms = 10000;       ///< Heartbeat age (database clock) before dead.
  std::uint32_t lease_duration_ms = 5000;      ///< A shard or projection lease, from its renewal.
  cluster_tls_config tls;                      ///< TLS between the nodes (on by default).
};
BOOST_DESCRIBE_STRUCT(cluster_config, (),
                      (enabled, node_id, host, port, shard_count, heartbeat_interval_ms,
                       suspect_timeout_ms, dead_timeout_ms, lease_duration_ms, tls))

struct runtime_config {
  std::uint32_t scheduler_threads = 2;  ///< Actor scheduler workers: the core count.
  /// How an idle scheduler worker waits for work. false: it polls its queue briefly without
  /// sleeping, then sleeps until work is handed to it. true: CAF's own default, which between
  /// those two polls 500 more times with a 50 µs sleep between polls (README "Configuration").
  bool scheduler_moderate_polling = false;
  journal_config journal;
  commands_config commands;
  aggregates_config aggregates;
  metrics_config metrics;
  projections_config projections;
  log_config log;
  relay_config relay;
  cluster_config cluster;
};
BOOST_DESCRIBE_STRUCT(runtime_config, (),
                      (scheduler_threads, scheduler_moderate_polling, journal, commands, aggregates,
                       metrics, projections, log, relay, cluster))

/// Parses a configuration from JSON text and checks it (`validate`). Missing keys keep their
/// defaults. Errors: `invalid_argument` with one message that names the problem and, where
/// there is one, the key path, what it takes and what was found; never a library's internals:
/// - malformed JSON, with the place: `configuration is not valid JSON at line 3, column 17:
///   expected ',' or '}', found '"'`;
/// - an unknown key: `unknown configuration key 'journal.sqlite.pth'`;
/// - a value of the wrong kind or out of range: `commands.timeout_ms must be a non-negative
///   integer, found "fast" (a string)`, `metrics.port must be an integer from 0 to 65535,
///   found 70000 (a number)`, `metrics.enabled must be true or false, found "yes" (a string)`,
///   `journal must be an object, found 3 (a number)`;
/// - a name an enumerated setting does not accept, with the accepted ones:
///   `journal.backend must be "sqlite", "postgres" or "memory", found "mongodb" (a string)`;
/// - a value `validate` refuses.
result<runtime_config> parse_config(std::string_view json_text);

/// Checks the values of a configuration built in code (`parse_config` does it for a file):
/// a count, bound or timeout that must not be 0, an enum holding no enumerator, cluster
/// timings out of order (docs/CLUSTER.md, "Configuration"). Errors: `invalid_argument` naming
/// the key.
result<void> validate(const runtime_config& config);

/// Checks that the files `cluster.tls` names can be read, when the node is a cluster node with
/// TLS (nothing to check otherwise). Errors: `invalid_argument` naming the key and the file:
/// `cluster.tls.key: cannot read /etc/strata/node-1.key: No such file or directory`.
/// `runtime::start` also checks that they hold what TLS needs (a certificate, its key, a CA).
result<void> check_cluster_files(const cluster_config& cluster);

/// Reads and parses a configuration file. Errors: `not_found` when the file cannot be read,
/// otherwise as `parse_config` (prefixed with the path).
result<runtime_config> load_config(const std::string& path);

/// The configuration as JSON text (all keys, with their values; enums by their names), which
/// `parse_config` reads back to an equal configuration.
std::string to_json_text(const runtime_config& config);

}  // namespace strata
