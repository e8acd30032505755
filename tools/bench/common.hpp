#pragma once

// Shared pieces of strata-bench: options, deterministic data, timing, statistics, the JSON
// result lines and the summary table, and the failure path of the self-checks.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "strata/domain/orders/order.hpp"
#include "strata/persistence/sqlite_journal.hpp"

namespace strata::bench {

/// What every workload gets from the command line.
struct options {
  std::uint64_t seed = 42;
  bool quick = false;              ///< Small sizes, correctness only.
  std::string dir = "bench-data";  ///< Where database files are created (and removed).
  std::string pg;                  ///< libpq conninfo; empty: PostgreSQL runs are skipped.
  int repeat = 3;                  ///< Repetitions of short measurements (median reported).
  bool keep_files = false;
  bool command_ids = false;  ///< orders: every command carries its own command id.
};

/// A workload's self-check failed: prints the reason to stderr and exits with status 3.
[[noreturn]] void fail(const std::string& why);

/// Calls `fail` with `what` unless `condition` holds.
inline void check(bool condition, const std::string& what) {
  if (!condition) fail(what);
}

/// A small, fast, deterministic generator (splitmix64).
class rng {
 public:
  explicit rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return next() % n; }

 private:
  std::uint64_t s_;
};

/// Deterministic Order data: ids, skus padded so that one ItemAdded event body is about
/// `target_bytes` of JSON, and a fixed price per sku.
class order_data {
 public:
  static constexpr std::size_t skus_per_order = 16;

  order_data(std::uint64_t seed, std::string currency = "EUR", std::size_t target_bytes = 200);

  std::string order_id(std::size_t stream) const;
  orders::place place(std::size_t stream) const;
  /// The `n`-th add_item for a stream (its sku cycles through `skus_per_order` values).
  orders::add_item add(std::size_t n) const;
  /// Encoded size of an ItemAdded body produced by `add`.
  std::size_t event_bytes() const;
  const std::string& currency() const { return currency_; }

 private:
  std::uint64_t seed_;
  std::string currency_;
  std::vector<std::string> skus_;
  std::vector<std::int64_t> prices_;
};

/// Process figures: CPU seconds (user + system, getrusage) and peak / current RSS in bytes.
double cpu_seconds();
std::int64_t peak_rss_bytes();
std::int64_t current_rss_bytes();                  ///< VmRSS from /proc/self/status.
std::int64_t file_bytes(const std::string& path);  ///< 0 when missing; adds -wal and -shm.
void remove_db(const std::string& path);           ///< Removes the file and its -wal/-shm.

/// A journal factory on a fresh SQLite file at `path` (an old one is removed first).
std::shared_ptr<persistence::sqlite_journal_factory> fresh_sqlite_journal(const std::string& path,
                                                                          bool full);

using clock_type = std::chrono::steady_clock;
inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch())
      .count();
}

/// Latency percentiles over nanosecond samples (sorted in place).
struct latency_summary {
  double p50_ms = 0, p95_ms = 0, p99_ms = 0, max_ms = 0;
};
latency_summary summarize(std::vector<std::int64_t>& samples_ns);

double median(std::vector<double> v);

/// One result: printed as one JSON line on stdout and kept for the summary table.
struct result_line {
  std::string workload;
  std::string name;  ///< A short label of the case, e.g. "sqlite-full c=256".
  std::vector<std::pair<std::string, std::string>> params;   ///< Values already JSON.
  std::vector<std::pair<std::string, std::string>> figures;  ///< Values already JSON.

  result_line& param(const std::string& k, const std::string& text);  ///< A JSON string.
  result_line& param(const std::string& k, double v);
  result_line& figure(const std::string& k, double v);
  result_line& figure(const std::string& k, const std::string& text);
  result_line& latency(const latency_summary& l);
  /// cpu_s (delta from `cpu_start`), peak_rss_bytes.
  result_line& process(double cpu_start);
};

/// "tcmalloc" when gperftools' malloc serves the process (linked, see cmake/StrataMalloc.cmake,
/// or preloaded), "system" for the C library's, else the file name of the library whose malloc
/// does (another allocator preloaded). Every JSON line carries it as "allocator".
std::string allocator_in_use();

/// Prints `r` as a JSON line and remembers it for `print_summary`.
void emit(const result_line& r);
/// A readable table of every emitted result (to stderr, so stdout stays JSON lines).
void print_summary();

std::string json_string(const std::string& s);

// The workloads. Each verifies its own results and calls `fail` when they are wrong.
void run_orders(const options& o, std::uint64_t preload, std::size_t commands,
                const std::vector<std::size_t>& levels, const std::vector<std::string>& classes);
void run_rehydrate(const options& o, std::size_t events);
void run_actors(const options& o, std::size_t aggregates, std::size_t commands,
                const std::vector<std::size_t>& levels);
void run_memory(const options& o, std::size_t aggregates);
/// Catch-up of the order-summary projection over `events` events, then end-to-end lag at
/// `rate` commands/s for `commands` commands.
void run_projection(const options& o, std::uint64_t events, double rate, std::size_t commands,
                    const std::vector<std::string>& read_models);
/// Commands offered at `factor` x the capacity measured with `bound` in flight, for `seconds`.
void run_overload(const options& o, std::size_t bound, double factor, double seconds);
/// The orders load with snapshots on: how far streams are past their newest snapshot.
void run_snapshots(const options& o, std::size_t commands, std::uint32_t every);
/// The journal alone at each batch size, against the bare driver with the same batching.
void run_journal(const options& o, const std::vector<std::size_t>& batches,
                 const std::vector<std::string>& classes);
/// Time to the first command of a fresh runtime for an aggregate with `events` events.
void run_first_command(const options& o, std::size_t events);
/// One node of the `cluster` workload: where its tables are and its cluster timings.
struct cluster_node_options {
  std::string conninfo;
  std::string schema;
  /// Not empty: this node's events and snapshots go to a schema of their own, not to the
  /// cluster's (`schema` keeps the membership and leases). Not a working cluster: the
  /// throughput case's measure of three nodes with no journal in common.
  std::string journal_schema;
  std::string node_id;
  std::uint64_t seed = 42;
  std::uint32_t heartbeat_ms = 200;
  std::uint32_t suspect_ms = 1000;
  std::uint32_t dead_ms = 2000;
  std::uint32_t lease_ms = 1000;
};
/// Nodes of one cluster as child processes on PostgreSQL (`--pg`): commands/s of three nodes
/// against one (`commands` with `window` in flight, shared out among the nodes), the added
/// p50 of a forwarded command (`samples` each way), and the failover time after a SIGKILL.
void run_cluster(const options& o, std::size_t commands, std::size_t window, std::size_t samples,
                 const cluster_node_options& timings);
/// The child half of `cluster`: one node, driven over stdin and stdout.
int cluster_node_child(const cluster_node_options& n);
/// The `link` workload's children: `role` "answer" answers requests until told to quit;
/// "ask" keeps `window` requests in flight to the answering child's `port` by `mode` ("link":
/// an engine's node link; "caf": a CAF message each way) and prints what it measured.
struct link_peer_options {
  std::string role;
  std::string mode = "link";
  std::uint16_t port = 0;
  std::size_t requests = 0;
  std::size_t window = 1;
};
/// The transport between cluster nodes alone: node link and bare CAF, CPU per request at
/// each window of `windows` (docs/BENCHMARKS.md, "Link").
void run_link(const options& o, std::size_t requests, const std::vector<std::size_t>& windows);
/// Encoding and decoding a forwarded command and its result (`count` each, `o.repeat` runs).
void run_wire(const options& o, std::size_t count);
int link_peer_child(const link_peer_options& p);
/// The child half of `memory`: prints the RSS growth of `what` ("caf", "journal", "runtime").
int memory_child(const std::string& what, std::size_t count);

}  // namespace strata::bench
