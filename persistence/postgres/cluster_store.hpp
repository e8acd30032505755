#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "strata/domain/kernel/result.hpp"
#include "strata/persistence/cluster.hpp"

namespace strata::persistence {

/// Settings shared by `cluster_membership` and `cluster_leases` (docs/CLUSTER.md).
struct cluster_store_options {
  /// A libpq connection string: the database that holds the journal.
  std::string conninfo;
  /// The journal's schema; the cluster's tables are created in it on first use.
  /// REQUIRES: a lower-case SQL identifier ([a-z_][a-z0-9_]*, at most 48 characters).
  std::string schema = "strata";
  /// This node's id: 1 to 64 characters of [A-Za-z0-9._-], unique among running nodes.
  std::string node_id;
  /// Shards aggregate ids hash to. Stored with the tables on first use: a store opened with
  /// another count is refused, since every aggregate would move. REQUIRES: 1..65536.
  std::uint32_t shard_count = 64;
  /// A member whose last heartbeat is older than this (database clock) may be declared dead,
  /// and no longer counts as a live member in quorums. REQUIRES: > 0.
  std::uint32_t dead_timeout_ms = 10000;
  /// How long a granted or renewed lease lasts (database clock). REQUIRES: > 0.
  std::uint32_t lease_duration_ms = 5000;
};

/// This node's view and writes of the membership table: joining, heartbeating, suspecting,
/// declaring dead and leaving (docs/CLUSTER.md, "Membership").
///
/// Storage format (schema `s`, tables created when missing, under an advisory lock):
///   s.cluster_meta(singleton boolean PRIMARY KEY, shard_count integer)   -- one row
///   s.cluster_members(node_id text PRIMARY KEY, epoch bigint, host text, port integer,
///     status text ('joining'|'alive'|'suspect'|'dead'|'left'), row_version bigint,
///     joined_at, heartbeat_at, changed_at timestamptz)
///   s.cluster_suspicions(node_id text, epoch bigint,          -- the suspected epoch
///     suspected_by text, suspected_by_epoch bigint, suspected_at timestamptz,
///     PRIMARY KEY (node_id, epoch, suspected_by))
/// One row per node id, holding its newest epoch; every time is the server's `now()`.
///
/// A *live voter* is a member in status `alive` or `suspect` whose heartbeat is younger than
/// `dead_timeout_ms`. `declare_dead` changes a member's row to `dead` in one UPDATE whose WHERE
/// clause holds every rule, so two concurrent declarations cannot both win:
/// the row still has the given epoch and row version and is not final; its heartbeat is older
/// than `dead_timeout_ms`; the declaring node is a live voter; and either more than half of the
/// live voters (the target aside) suspected this epoch since its last heartbeat, or the
/// declaring node is the only live voter.
///
/// Thread-safety: one thread at a time per instance (one connection each); any number of
/// instances, in any number of processes, share a schema.
///
/// Errors, besides those of the connection (`unavailable` when the server cannot be reached or
/// the connection was lost: the instance reconnects on its next call): `conflict` when the row
/// moved on (another epoch, another row version, already final) or this node's own epoch is
/// fenced (superseded, declared dead, left), the message saying which; `rejected` when the
/// rules refuse a declaration (heartbeat too recent, no quorum); `not_found` for an unknown
/// node; `invalid_argument` for bad options or calls before `join`. No method throws.
class cluster_membership {
 public:
  /// Connects and creates the cluster's tables when missing.
  /// Errors: `invalid_argument` for bad options or a stored shard count other than
  /// `options.shard_count`, `unavailable` when the server is unreachable.
  static result<std::unique_ptr<cluster_membership>> open(const cluster_store_options& options);

  ~cluster_membership();
  cluster_membership(const cluster_membership&) = delete;
  cluster_membership& operator=(const cluster_membership&) = delete;

  /// Writes this node's row with a new epoch (1 for a new node id, the previous epoch + 1
  /// otherwise) in status `joining`, its heartbeat now, and forgets suspicions of older
  /// epochs. An older epoch of this node id, whatever its state, is fenced from then on.
  /// REQUIRES: address.host is not empty.
  result<member> join(const node_address& address);

  /// Records a heartbeat of this node's epoch (and moves it from `joining` or `suspect` to
  /// `alive`). Errors: `conflict` ("fenced") when this epoch was superseded, declared dead or
  /// left: it never comes back; join again for a new epoch.
  result<member> heartbeat();

  /// Records that this node suspects `node_id` at `epoch` (an `alive` member becomes
  /// `suspect`). A suspicion counts towards a quorum until the suspected epoch heartbeats
  /// again. Errors: `conflict` when that epoch is not current or already final, or this node
  /// is fenced; `not_found` for an unknown node; `invalid_argument` for this node itself.
  result<void> suspect(std::string_view node_id, std::uint64_t epoch);

  /// Declares `node_id` at `epoch` dead, if its row is still at `expected_row_version` and the
  /// rules above allow it; returns the row as written. Errors: `conflict` when the row moved on
  /// (the message has its epoch, row version and status) or this node is no live voter;
  /// `rejected` when its heartbeat is too recent or too few live voters suspect it.
  result<member> declare_dead(std::string_view node_id, std::uint64_t epoch,
                              std::uint64_t expected_row_version);

  /// Leaves gracefully: this epoch becomes `left` and its leases are freed, in one
  /// transaction. Errors: `conflict` when this epoch was already fenced.
  result<void> leave();

  /// Every node's row, by node id, with its heartbeat age and live suspicions.
  result<std::vector<member>> members();

  /// This node's id.
  const std::string& node_id() const noexcept;
  /// This node's epoch since the last successful `join` (0 before it).
  std::uint64_t epoch() const noexcept;

  struct impl;

 private:
  explicit cluster_membership(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

/// Shard and named leases (projections, `relay:rabbitmq`) held by one epoch of this node
/// (docs/CLUSTER.md, "Leases and fencing").
///
/// Storage format (in the schema of `cluster_membership`):
///   s.cluster_shard_leases(shard integer PRIMARY KEY, owner_node text, owner_epoch bigint,
///     lease_epoch bigint, expires_at timestamptz, granted_at timestamptz)
///   s.cluster_named_leases(name text PRIMARY KEY, ... the same columns)
/// A row appears on the first grant; a free lease has NULL owner and expiry and keeps its
/// lease epoch. Every change is one statement that checks its rules in its WHERE clause:
/// - `acquire`: only while the lease is free or expired (database clock), and only by a
///   member epoch that is not final; the lease epoch grows by one.
/// - `renew`: only while the lease epoch is the caller's and its owner is this node's epoch,
///   still not final; the expiry moves to now + `lease_duration_ms`, the epoch stays.
/// - `release`: only while the lease epoch is the caller's; the lease becomes free.
/// A holder whose lease was taken over is *fenced*: every `renew` and `release` fails with
/// `conflict`, and the message says "fenced" and carries the current lease epoch and owner.
///
/// Thread-safety and connection errors as `cluster_membership`. Errors: `conflict` when the
/// lease is held by another, fenced, or this node's epoch is final (the message says which);
/// `invalid_argument` for a shard outside 0 .. shard_count - 1 or an empty name. No method
/// throws.
class cluster_leases {
 public:
  /// Connects as `options.node_id` at membership `epoch` (from `cluster_membership::join`);
  /// creates the tables when missing. Errors as `cluster_membership::open`.
  static result<std::unique_ptr<cluster_leases>> open(const cluster_store_options& options,
                                                      std::uint64_t epoch);

  ~cluster_leases();
  cluster_leases(const cluster_leases&) = delete;
  cluster_leases& operator=(const cluster_leases&) = delete;

  /// Takes the shard's lease if it is free or expired; returns it with its new lease epoch.
  result<lease> acquire(shard_id shard);
  /// Extends the shard's lease held at `lease_epoch`. Errors: `conflict` ("fenced").
  result<lease> renew(shard_id shard, std::uint64_t lease_epoch);
  /// Frees the shard's lease held at `lease_epoch` (a handoff). Errors: `conflict` ("fenced").
  result<void> release(shard_id shard, std::uint64_t lease_epoch);
  /// The shard's lease as stored now (a free one when it was never granted).
  result<lease> owner_of(shard_id shard);
  /// Every shard's lease, indexed by shard (free ones included).
  result<std::vector<lease>> shard_leases();

  /// The same for the lease called `name` (a projection's name, or "relay:rabbitmq").
  result<lease> acquire(std::string_view name);
  result<lease> renew(std::string_view name, std::uint64_t lease_epoch);
  result<void> release(std::string_view name, std::uint64_t lease_epoch);
  result<lease> owner_of(std::string_view name);

  std::uint32_t shard_count() const noexcept;
  std::uint64_t epoch() const noexcept;

  struct impl;

 private:
  explicit cluster_leases(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

/// Everything the cluster's tables hold at one moment, for an operator (`strata cluster`).
struct cluster_view {
  std::uint32_t shard_count = 0;  ///< As stored with the tables.
  std::vector<member> members;    ///< By node id, with heartbeat ages and live suspicions.
  /// Every shard lease ever granted (free and expired ones too), by shard.
  std::vector<std::pair<std::uint32_t, lease>> shard_leases;
  /// Every named lease ever granted (projections, the relay), by name.
  std::vector<std::pair<std::string, lease>> named_leases;
};

/// Reads the cluster's tables in the schema `options.schema` in one read-only snapshot, without
/// creating or writing anything. `options.dead_timeout_ms` decides which suspicions count
/// (those of live voters, as for `cluster_membership::members`); `node_id` and `shard_count`
/// are not used. Errors: `not_found` when the schema holds no cluster tables (no node ever
/// joined); `invalid_argument` for a schema that is not a plain identifier; `unavailable` when
/// the server cannot be reached. Thread-safety: a connection of its own per call.
result<cluster_view> read_cluster_view(const cluster_store_options& options);

}  // namespace strata::persistence
