#pragma once

// The pure parts of strata's cluster (docs/CLUSTER.md): the values the membership and lease
// tables hold, the shard of an aggregate, and the plan that spreads shards over live members.
// No SQL, no I/O, no CAF: the routing layer and the PostgreSQL store
// (persistence/postgres/cluster_store.hpp) both build on it.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace strata {

/// The offset basis of FNV-1a 64, the hash of no bytes.
inline constexpr std::uint64_t fnv1a_64_basis = 0xcbf29ce484222325ULL;

/// FNV-1a, 64 bits, over `bytes`, continuing from `hash` (the basis for a fresh hash): each byte
/// is XORed into the hash, which is then multiplied by the prime 0x100000001b3 (mod 2^64).
/// Part of the storage contract: shard numbers derive from it and never change.
constexpr std::uint64_t fnv1a_64(std::string_view bytes,
                                 std::uint64_t hash = fnv1a_64_basis) noexcept {
  for (char c : bytes) {
    hash ^= static_cast<std::uint8_t>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

/// The shard of the aggregate `aggregate_type` / `aggregate_id`: FNV-1a 64 over the bytes of
/// its stream name (`aggregate_type + "-" + aggregate_id`, as the journal names it), modulo
/// `shard_count`. REQUIRES: shard_count > 0.
constexpr std::uint32_t shard_of(std::string_view aggregate_type, std::string_view aggregate_id,
                                 std::uint32_t shard_count) noexcept {
  const std::uint64_t hash = fnv1a_64(aggregate_id, fnv1a_64("-", fnv1a_64(aggregate_type)));
  return static_cast<std::uint32_t>(hash % shard_count);
}

/// A shard number (0 .. shard_count - 1), as `shard_of` computes it.
struct shard_id {
  std::uint32_t value = 0;
};

/// True when `node_id` can name a node: 1 to 64 characters of [A-Za-z0-9._-].
bool is_valid_node_id(std::string_view node_id) noexcept;

/// Where a node listens for its peers.
struct node_address {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
};

/// A member's state in the membership table. `dead` and `left` are final for an epoch.
enum class member_status : std::uint8_t {
  joining,  ///< Joined, not yet heartbeating: takes no part in quorums yet.
  alive,    ///< Heartbeating.
  suspect,  ///< Another member recorded a suspicion since its last heartbeat.
  dead,     ///< Declared dead by the members (never comes back: a restart is a new epoch).
  left,     ///< Left gracefully.
};

/// The stable lower-case name of `s` ("alive"), as the table stores it.
std::string_view to_string(member_status s) noexcept;

/// True for `dead` and `left`: the epoch is over.
constexpr bool is_final(member_status s) noexcept {
  return s == member_status::dead || s == member_status::left;
}

/// One row of the membership table, as read at one moment. Times are the database's clock.
struct member {
  std::string node_id;
  std::uint64_t epoch = 0;  ///< A new one on every join of the node, strictly increasing.
  node_address address;
  member_status status = member_status::joining;
  std::uint64_t row_version = 0;  ///< Bumped by every change of the row (optimistic concurrency).
  std::int64_t heartbeat_us = 0;  ///< The last heartbeat, microseconds since the Unix epoch.
  /// How long ago the last heartbeat was when the row was read (database clock), microseconds.
  std::int64_t heartbeat_age_us = 0;
  /// Live members that suspected this epoch since its last heartbeat.
  std::vector<std::string> suspected_by;
};

/// A lease (on a shard, a projection or the relay), as read at one moment. A lease's epoch is
/// its fencing token: it grows on every change of owner, and a write under a lease carries it.
struct lease {
  std::string owner;              ///< The owning node id; empty when the lease is free.
  std::uint64_t owner_epoch = 0;  ///< The owner's membership epoch.
  std::uint64_t lease_epoch = 0;  ///< 0 when it was never granted.
  std::int64_t expires_us = 0;  ///< When it expires, microseconds since the Unix epoch (DB clock).
  /// Time left when the row was read, by the database's clock; <= 0 once expired. A holder
  /// counts its own deadline as its monotonic clock at the call plus this, never from
  /// `expires_us`, so that clock skew between machines does not matter.
  std::int64_t remaining_us = 0;

  /// True when someone holds it and it has not expired.
  bool is_held() const noexcept { return !owner.empty() && remaining_us > 0; }
};

/// The name of the RabbitMQ relay's lease (a named lease, like a projection's, which is keyed
/// by the projection's name).
inline constexpr std::string_view rabbitmq_relay_lease = "relay:rabbitmq";

/// The owner each shard should have: `live_members` (node ids, each once) share `shard_count`
/// shards so that any two members' counts differ by at most one, and as few shards as
/// possible change owner compared with `current_owners` (index: shard; an empty string or a
/// node not in `live_members` means "no live owner").
///
/// The members that keep one shard more than the others are those holding the most now (ties:
/// the smaller node id); each member keeps its lowest-numbered shards up to its share, and the
/// shards left over go, in ascending order, to the members below their share in node-id order.
/// So every member computes the same plan from the same inputs, a joining member takes shards
/// only from members above their new share, and a leaving member's shards are the only ones
/// that move. Empty owners when `live_members` is empty.
/// REQUIRES: current_owners.size() is 0 (no current owners) or shard_count.
std::vector<std::string> plan_assignment(const std::vector<std::string>& live_members,
                                         std::uint32_t shard_count,
                                         const std::vector<std::string>& current_owners);

}  // namespace strata
