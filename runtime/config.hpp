#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/describe/class.hpp>

#include "domain/kernel/log.hpp"
#include "domain/kernel/result.hpp"

namespace strata {

/// Configuration of a `strata::runtime`. Every field has a default that works out of the
/// box: an SQLite journal `strata.db` in the working directory, durable (synchronous=FULL),
/// metrics on 127.0.0.1:9464. The JSON file uses the same names (see README, "Configuration").

struct sqlite_config {
  std::string path = "strata.db";
  /// "full": an accepted command survives power loss; "normal": it survives a crash of the
  /// process (not of the machine), and commits are cheaper.
  std::string synchronous = "full";
};
BOOST_DESCRIBE_STRUCT(sqlite_config, (), (path, synchronous))

struct postgres_config {
  std::string conninfo = "host=127.0.0.1 dbname=strata";
  std::string schema = "strata";
};
BOOST_DESCRIBE_STRUCT(postgres_config, (), (conninfo, schema))

struct journal_config {
  /// "sqlite" (default), "postgres" or "memory" (nothing survives the process; for tests).
  std::string backend = "sqlite";
  sqlite_config sqlite;
  postgres_config postgres;
  std::uint32_t max_batch_events = 1000;  ///< Group commit: events per transaction at most.
  std::uint32_t max_wait_us = 0;          ///< Group commit: extra wait for a fuller batch.
  std::uint32_t reader_threads = 2;       ///< Connections for rehydration and queries.
};
BOOST_DESCRIBE_STRUCT(journal_config, (),
                      (backend, sqlite, postgres, max_batch_events, max_wait_us, reader_threads))

struct commands_config {
  std::uint32_t timeout_ms = 10000;               ///< Deadline of a command not yet decided.
  std::uint32_t max_in_flight_per_type = 65536;   ///< Admission bound; beyond: overloaded.
  std::uint32_t idempotency_window = 32;          ///< Recent command ids kept per aggregate.
  std::uint32_t max_queued_per_aggregate = 4096;  ///< Waiting in one aggregate; beyond: overloaded.
};
BOOST_DESCRIBE_STRUCT(commands_config, (),
                      (timeout_ms, max_in_flight_per_type, idempotency_window,
                       max_queued_per_aggregate))

struct aggregates_config {
  std::uint32_t idle_timeout_ms = 0;   ///< Passivate aggregates idle this long (0: never).
  std::uint32_t snapshot_every = 100;  ///< Take a snapshot every N events (0: never).
  std::uint32_t snapshots_kept = 3;    ///< Snapshots kept per stream (for temporal queries).
  std::uint32_t max_live_per_type = 1'000'000;  ///< Beyond it the least recently used go.
  std::uint32_t max_crashes = 3;                ///< Crashes within the window before refusing.
  std::uint32_t crash_window_ms = 10000;
};
BOOST_DESCRIBE_STRUCT(aggregates_config, (),
                      (idle_timeout_ms, snapshot_every, snapshots_kept, max_live_per_type,
                       max_crashes, crash_window_ms))

struct metrics_config {
  bool enabled = true;
  std::string bind_address = "127.0.0.1";
  std::uint16_t port = 9464;
};
BOOST_DESCRIBE_STRUCT(metrics_config, (), (enabled, bind_address, port))

/// Projections and their read-model database (see docs/PROJECTIONS.md).
struct projections_config {
  std::string path = "strata-read.db";  ///< The SQLite read-model file (not the journal's).
  /// "normal" (default; the checkpoint shares each transaction, so a lost commit is simply
  /// applied again) or "full".
  std::string synchronous = "normal";
  /// A handler failure parks the event, then: "park_and_continue" or "stop".
  std::string on_poison = "park_and_continue";
  std::uint32_t batch_events = 1000;    ///< Events per read-model transaction at most.
  std::uint32_t buffer_events = 10000;  ///< Live events buffered per projection.
  std::uint32_t retry_delay_ms = 200;   ///< Wait after a journal or store failure.
};
BOOST_DESCRIBE_STRUCT(projections_config, (),
                      (path, synchronous, on_poison, batch_events, buffer_events, retry_delay_ms))

/// What the library reports (see `log_sink`; a host supplies its own in `runtime_overrides`).
struct log_config {
  /// Messages below it are not written: "debug", "info", "warning" (default) or "error".
  log_level level = log_level::warning;
};
BOOST_DESCRIBE_STRUCT(log_config, (), (level))

struct runtime_config {
  std::uint32_t scheduler_threads = 2;  ///< Actor scheduler workers: the core count.
  journal_config journal;
  commands_config commands;
  aggregates_config aggregates;
  metrics_config metrics;
  projections_config projections;
  log_config log;
};
BOOST_DESCRIBE_STRUCT(runtime_config, (),
                      (scheduler_threads, journal, commands, aggregates, metrics, projections,
                       log))

/// Parses a configuration from JSON text. Missing keys keep their defaults. Errors:
/// `invalid_argument` naming the problem (malformed JSON, an unknown key such as
/// "journal.sqlite.pth", a value of the wrong type, an unknown backend or mode).
result<runtime_config> parse_config(std::string_view json_text);

/// Reads and parses a configuration file. Errors: `not_found` when the file cannot be read,
/// otherwise as `parse_config` (prefixed with the path).
result<runtime_config> load_config(const std::string& path);

/// The configuration as JSON text (all keys, with their values).
std::string to_json_text(const runtime_config& config);

}  // namespace strata
