// The cluster's tables (their format is described in cluster_store.hpp and docs/CLUSTER.md).
// Every rule of a change sits in the WHERE clause of the one statement that makes it, so the
// database decides races: a concurrent writer of the same row waits for the row lock and then
// re-checks the clause against the row as committed (READ COMMITTED), and finds it moved on.
// When a statement changes nothing, a second read says why, for the error's message.

#include "strata/persistence/postgres/cluster_store.hpp"

#include <optional>
#include <string>
#include <utility>

#include <pqxx/pqxx>

#include "strata/persistence/postgres/detail/pg_session.hpp"

namespace strata::persistence {

namespace {

constexpr const char* not_final = "('joining', 'alive', 'suspect')";

/// Microseconds of a timestamp (since the Unix epoch) or of an interval, as SQL.
std::string micros(const std::string& expr) {
  return "(extract(epoch from " + expr + ") * 1000000)::bigint";
}

std::string millis(std::uint32_t ms) {
  return "(" + std::to_string(ms) + " * interval '1 millisecond')";
}

result<void> check_options(const cluster_store_options& o) {
  if (!detail::is_plain_identifier(o.schema))
    return error{errc::invalid_argument,
                 "cluster store: schema '" + o.schema + "' is not a plain identifier"};
  if (!is_valid_node_id(o.node_id))
    return error{errc::invalid_argument, "cluster store: node id '" + o.node_id +
                                             "' must be 1 to 64 characters of [A-Za-z0-9._-]"};
  if (o.shard_count == 0 || o.shard_count > 65536)
    return error{errc::invalid_argument, "cluster store: shard_count must be 1..65536, found " +
                                             std::to_string(o.shard_count)};
  if (o.dead_timeout_ms == 0)
    return error{errc::invalid_argument, "cluster store: dead_timeout_ms must be at least 1"};
  if (o.lease_duration_ms == 0)
    return error{errc::invalid_argument, "cluster store: lease_duration_ms must be at least 1"};
  return ok();
}

member_status status_of_text(const std::string& s) {
  if (s == "alive") return member_status::alive;
  if (s == "suspect") return member_status::suspect;
  if (s == "dead") return member_status::dead;
  if (s == "left") return member_status::left;
  return member_status::joining;
}

std::int64_t int_or_zero(const pqxx::field& f) {
  return f.is_null() ? 0 : f.as<std::int64_t>();
}

/// What the statements of both classes share: the options, the "<schema>." prefix, the
/// connection and the creation of the tables.
struct cluster_tables {
  cluster_store_options options;
  std::string s;
  detail::pg_session session;

  /// Every connection ends a transaction left idle for a lease duration: a node frozen (SIGSTOP,
  /// a paused VM) between two statements of its heartbeat would otherwise hold its member
  /// row's lock, and the others, waiting to suspect it or declare it dead, could never do so.
  /// By then its leases ran out, so nothing it could still commit counts.
  template <class Prepare>
  cluster_tables(cluster_store_options o, Prepare prepare)
      : options(std::move(o)),
        s(options.schema + "."),
        session(options.conninfo,
                [prepare, idle_ms = options.lease_duration_ms](pqxx::connection& c) {
                  pqxx::nontransaction{c}.exec0("SET idle_in_transaction_session_timeout = " +
                                                std::to_string(idle_ms));
                  prepare(c);
                }) {}

  /// `status IN (alive, suspect)` with a fresh heartbeat, for the member aliased `v`.
  std::string live_voter(const std::string& v) const {
    return v + ".status IN ('alive', 'suspect') AND " + v + ".heartbeat_at >= now() - " +
           millis(options.dead_timeout_ms);
  }

  /// The columns `decode_member` reads, of the member row aliased `m`.
  std::string member_columns(const std::string& m) const {
    return m + ".node_id, " + m + ".epoch, " + m + ".host, " + m + ".port, " + m + ".status, " + m +
           ".row_version, " + micros(m + ".heartbeat_at") + ", " +
           micros("now() - " + m + ".heartbeat_at") +
           ", coalesce((SELECT string_agg(x.suspected_by, ',' ORDER BY x.suspected_by) FROM " + s +
           "cluster_suspicions x JOIN " + s +
           "cluster_members v ON v.node_id = x.suspected_by AND v.epoch = x.suspected_by_epoch "
           "WHERE x.node_id = " +
           m + ".node_id AND x.epoch = " + m + ".epoch AND x.suspected_at >= " + m +
           ".heartbeat_at AND " + live_voter("v") + "), '')";
  }

  result<void> create(pqxx::connection& c) {
    pqxx::work tx{c};
    tx.exec0("SET LOCAL client_min_messages = warning");
    // The journal's creators take the same lock: CREATE ... IF NOT EXISTS is not safe against
    // concurrent creators.
    tx.exec_params("SELECT pg_advisory_xact_lock(hashtext($1))",
                   "strata.journal.schema." + options.schema);
    tx.exec0("CREATE SCHEMA IF NOT EXISTS " + options.schema);
    tx.exec0("CREATE TABLE IF NOT EXISTS " + s +
             "cluster_meta (singleton boolean PRIMARY KEY CHECK (singleton), "
             "shard_count integer NOT NULL CHECK (shard_count > 0))");
    tx.exec0("CREATE TABLE IF NOT EXISTS " + s +
             "cluster_members (node_id text PRIMARY KEY, epoch bigint NOT NULL, "
             "host text NOT NULL, port integer NOT NULL, status text NOT NULL CHECK (status IN "
             "('joining', 'alive', 'suspect', 'dead', 'left')), row_version bigint NOT NULL, "
             "joined_at timestamptz NOT NULL, heartbeat_at timestamptz NOT NULL, "
             "changed_at timestamptz NOT NULL)");
    tx.exec0("CREATE TABLE IF NOT EXISTS " + s +
             "cluster_suspicions (node_id text NOT NULL, epoch bigint NOT NULL, "
             "suspected_by text NOT NULL, suspected_by_epoch bigint NOT NULL, "
             "suspected_at timestamptz NOT NULL, PRIMARY KEY (node_id, epoch, suspected_by))");
    const std::string lease_columns =
        "owner_node text, owner_epoch bigint, lease_epoch bigint NOT NULL, "
        "expires_at timestamptz, granted_at timestamptz";
    tx.exec0("CREATE TABLE IF NOT EXISTS " + s +
             "cluster_shard_leases (shard integer PRIMARY KEY CHECK (shard >= 0), " +
             lease_columns + ")");
    tx.exec0("CREATE TABLE IF NOT EXISTS " + s + "cluster_named_leases (name text PRIMARY KEY, " +
             lease_columns + ")");
    tx.exec_params0(
        "INSERT INTO " + s + "cluster_meta VALUES (true, $1) ON CONFLICT (singleton) DO NOTHING",
        static_cast<std::int64_t>(options.shard_count));
    auto stored = tx.exec1("SELECT shard_count FROM " + s + "cluster_meta WHERE singleton");
    tx.commit();
    const auto count = stored[0].as<std::int64_t>();
    if (count != static_cast<std::int64_t>(options.shard_count))
      return error{errc::invalid_argument,
                   "cluster store: " + s + "cluster_meta holds shard_count " +
                       std::to_string(count) + ", the options say " +
                       std::to_string(options.shard_count) +
                       " (changing it would move every aggregate to another shard)"};
    return ok();
  }

  /// Why this node's epoch `epoch` may not write: superseded, final, or unknown; empty when
  /// it is a current, non-final epoch.
  std::optional<error> fenced(pqxx::transaction_base& tx, std::uint64_t epoch) const {
    auto rows = tx.exec_params(
        "SELECT epoch, status FROM " + s + "cluster_members WHERE node_id = $1", options.node_id);
    const std::string who = "node " + options.node_id + " epoch " + std::to_string(epoch);
    if (rows.empty()) return error{errc::not_found, who + " has no membership row (join first)"};
    const auto current = rows[0][0].as<std::uint64_t>();
    const auto status = status_of_text(rows[0][1].as<std::string>());
    if (current != epoch)
      return error{errc::conflict,
                   "fenced: " + who + " was superseded by epoch " + std::to_string(current)};
    if (is_final(status))
      return error{errc::conflict, "fenced: " + who + " is " + std::string{to_string(status)}};
    return std::nullopt;
  }
};

result<member> decode_member(const pqxx::row& row) {
  try {
    member m;
    m.node_id = row[0].as<std::string>();
    m.epoch = row[1].as<std::uint64_t>();
    m.address.host = row[2].as<std::string>();
    m.address.port = static_cast<std::uint16_t>(row[3].as<int>());
    m.status = status_of_text(row[4].as<std::string>());
    m.row_version = row[5].as<std::uint64_t>();
    m.heartbeat_us = row[6].as<std::int64_t>();
    m.heartbeat_age_us = row[7].as<std::int64_t>();
    const auto voters = row[8].as<std::string>();
    for (std::size_t at = 0; at < voters.size();) {
      const auto comma = voters.find(',', at);
      const auto end = comma == std::string::npos ? voters.size() : comma;
      m.suspected_by.push_back(voters.substr(at, end - at));
      at = end + 1;
    }
    return m;
  } catch (const std::exception& e) {
    return error{errc::corrupted,
                 std::string{"cluster store: a member row cannot be read: "} + e.what()};
  }
}

/// The columns `decode_lease` reads, of the lease row aliased `l`.
std::string lease_columns() {
  return "l.owner_node, l.owner_epoch, l.lease_epoch, " + micros("l.expires_at") + ", " +
         micros("l.expires_at - now()");
}

lease decode_lease(const pqxx::row& row, pqxx::row::size_type first = 0) {
  lease l;
  if (!row[first].is_null()) l.owner = row[first].as<std::string>();
  l.owner_epoch = static_cast<std::uint64_t>(int_or_zero(row[first + 1]));
  l.lease_epoch = static_cast<std::uint64_t>(int_or_zero(row[first + 2]));
  l.expires_us = int_or_zero(row[first + 3]);
  l.remaining_us = int_or_zero(row[first + 4]);
  return l;
}

std::string describe(const lease& l) {
  if (l.lease_epoch == 0) return "never granted";
  std::string out = "lease epoch " + std::to_string(l.lease_epoch);
  if (l.owner.empty()) return out + ", free";
  out += ", held by " + l.owner + " (epoch " + std::to_string(l.owner_epoch) + ")";
  if (l.remaining_us <= 0) return out + ", expired";
  return out + " for another " + std::to_string(l.remaining_us / 1000) + " ms";
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct cluster_membership::impl {
  cluster_tables t;
  std::uint64_t epoch = 0;

  explicit impl(cluster_store_options o)
      : t(std::move(o), [this](pqxx::connection& c) { prepare(c); }) {}

  void prepare(pqxx::connection& c) {
    const std::string& s = t.s;
    c.prepare("join", "INSERT INTO " + s +
                          "cluster_members AS m (node_id, epoch, host, port, status, "
                          "row_version, joined_at, heartbeat_at, changed_at) "
                          "VALUES ($1, 1, $2, $3, 'joining', 1, now(), now(), now()) "
                          "ON CONFLICT (node_id) DO UPDATE SET epoch = m.epoch + 1, "
                          "host = excluded.host, port = excluded.port, status = 'joining', "
                          "row_version = m.row_version + 1, joined_at = now(), "
                          "heartbeat_at = now(), changed_at = now() RETURNING " +
                          t.member_columns("m"));
    c.prepare("forget_suspicions",
              "DELETE FROM " + s + "cluster_suspicions WHERE node_id = $1 AND epoch < $2");
    c.prepare("heartbeat", "UPDATE " + s +
                               "cluster_members AS m SET heartbeat_at = now(), "
                               "status = 'alive', row_version = m.row_version + 1, "
                               "changed_at = CASE WHEN m.status = 'alive' THEN m.changed_at "
                               "ELSE now() END "
                               "WHERE m.node_id = $1 AND m.epoch = $2 AND m.status IN " +
                               not_final + " RETURNING " + t.member_columns("m"));
    c.prepare("suspect",
              "WITH target AS (UPDATE " + s +
                  "cluster_members AS m SET "
                  "status = CASE WHEN m.status = 'alive' THEN 'suspect' ELSE m.status END, "
                  "row_version = m.row_version + CASE WHEN m.status = 'alive' THEN 1 ELSE 0 END, "
                  "changed_at = CASE WHEN m.status = 'alive' THEN now() ELSE m.changed_at END "
                  "WHERE m.node_id = $1 AND m.epoch = $2 AND m.status IN " +
                  not_final + " AND EXISTS (SELECT 1 FROM " + s +
                  "cluster_members d WHERE d.node_id = $3 AND d.epoch = $4 AND d.status IN " +
                  not_final + ") RETURNING m.node_id) INSERT INTO " + s +
                  "cluster_suspicions (node_id, epoch, suspected_by, suspected_by_epoch, "
                  "suspected_at) SELECT $1, $2, $3, $4, now() FROM target "
                  "ON CONFLICT (node_id, epoch, suspected_by) DO UPDATE SET "
                  "suspected_by_epoch = excluded.suspected_by_epoch, "
                  "suspected_at = excluded.suspected_at RETURNING 1");
    // The voters of a declaration: live voters other than the target.
    const std::string voters =
        "FROM " + s + "cluster_members v WHERE v.node_id <> $1 AND " + t.live_voter("v");
    const std::string suspecting =
        "(SELECT count(*) FROM " + s + "cluster_suspicions x JOIN " + s +
        "cluster_members v ON v.node_id = x.suspected_by AND v.epoch = x.suspected_by_epoch "
        "WHERE x.node_id = $1 AND x.epoch = $2 AND x.suspected_at >= t.heartbeat_at AND "
        "v.node_id <> $1 AND " +
        t.live_voter("v") + ")";
    const std::string declarer_live = "EXISTS (SELECT 1 FROM " + s +
                                      "cluster_members d WHERE d.node_id = $4 AND d.epoch = $5 "
                                      "AND d.node_id <> $1 AND " +
                                      t.live_voter("d") + ")";
    const std::string stale = "t.heartbeat_at < now() - " + millis(t.options.dead_timeout_ms);
    c.prepare("declare_dead",
              "UPDATE " + s +
                  "cluster_members AS t SET status = 'dead', row_version = t.row_version + 1, "
                  "changed_at = now() WHERE t.node_id = $1 AND t.epoch = $2 AND "
                  "t.row_version = $3 AND t.status IN " +
                  not_final + " AND " + stale + " AND " + declarer_live +
                  " AND (NOT EXISTS (SELECT 1 " + voters + " AND v.node_id <> $4) OR 2 * " +
                  suspecting + " > (SELECT count(*) " + voters + ")) RETURNING " +
                  t.member_columns("t"));
    // Why a declaration changed nothing; $3 is unused, so that the parameters are those of
    // declare_dead.
    c.prepare("declare_facts",
              "SELECT t.epoch, t.row_version, t.status, " + micros("now() - t.heartbeat_at") +
                  ", " + suspecting + ", (SELECT count(*) " + voters + "), " + declarer_live +
                  " FROM " + s +
                  "cluster_members t WHERE t.node_id = $1 AND $3::bigint IS NOT NULL");
    c.prepare("leave", "UPDATE " + s +
                           "cluster_members SET status = 'left', row_version = row_version + 1, "
                           "changed_at = now() WHERE node_id = $1 AND epoch = $2 AND status IN " +
                           not_final + " RETURNING 1");
    for (const char* table : {"cluster_shard_leases", "cluster_named_leases"})
      c.prepare(std::string{"free_leases_"} + table,
                "UPDATE " + s + table +
                    " SET owner_node = NULL, owner_epoch = NULL, expires_at = NULL "
                    "WHERE owner_node = $1 AND owner_epoch = $2");
    c.prepare("members", "SELECT " + t.member_columns("m") + " FROM " + s +
                             "cluster_members m ORDER BY m.node_id");
    c.prepare("member_row",
              "SELECT epoch, status FROM " + s + "cluster_members WHERE node_id = $1");
  }

  result<void> joined() const {
    if (epoch == 0)
      return error{errc::invalid_argument, "cluster membership: node " + t.options.node_id +
                                               " has not joined (call join first)"};
    return ok();
  }

  error not_changed(pqxx::transaction_base& tx, const std::string& what) {
    if (auto fence = t.fenced(tx, epoch)) return *fence;
    return error{errc::conflict, what + ": the row changed concurrently"};
  }

  result<member> declare_dead(pqxx::connection& c, std::string_view node, std::uint64_t at,
                              std::uint64_t expected) {
    const auto epoch_i = static_cast<std::int64_t>(at);
    const auto expected_i = static_cast<std::int64_t>(expected);
    const auto mine = static_cast<std::int64_t>(epoch);
    {
      pqxx::work tx{c};
      auto rows = tx.exec_prepared("declare_dead", std::string{node}, epoch_i, expected_i,
                                   t.options.node_id, mine);
      tx.commit();
      if (!rows.empty()) return decode_member(rows[0]);
    }
    pqxx::work tx{c};
    auto facts = tx.exec_prepared("declare_facts", std::string{node}, epoch_i, expected_i,
                                  t.options.node_id, mine);
    tx.commit();
    const std::string who = "node " + std::string{node} + " epoch " + std::to_string(at);
    if (facts.empty())
      return error{errc::not_found, "declare dead: no member " + std::string{node}};
    const auto& f = facts[0];
    const auto current = f[0].as<std::uint64_t>();
    const auto row_version = f[1].as<std::uint64_t>();
    const auto status = status_of_text(f[2].as<std::string>());
    const auto age_ms = f[3].as<std::int64_t>() / 1000;
    const auto suspecting = f[4].as<std::int64_t>();
    const auto voters = f[5].as<std::int64_t>();
    const bool declarer_live = f[6].as<bool>();
    if (current != at)
      return error{errc::conflict,
                   "declare dead: " + who + " was superseded by epoch " + std::to_string(current)};
    if (is_final(status))
      return error{errc::conflict,
                   "declare dead: " + who + " is already " + std::string{to_string(status)}};
    if (row_version != expected)
      return error{errc::conflict, "declare dead: " + who + " is at row version " +
                                       std::to_string(row_version) + ", expected " +
                                       std::to_string(expected) + " (status " +
                                       std::string{to_string(status)} + ")"};
    if (!declarer_live)
      return error{errc::conflict, "declare dead: node " + t.options.node_id + " epoch " +
                                       std::to_string(epoch) +
                                       " is not a live member (alive or suspect, with a heartbeat "
                                       "younger than " +
                                       std::to_string(t.options.dead_timeout_ms) + " ms)"};
    if (age_ms < static_cast<std::int64_t>(t.options.dead_timeout_ms))
      return error{errc::rejected, "declare dead: " + who + " heartbeat " + std::to_string(age_ms) +
                                       " ms ago, within the " +
                                       std::to_string(t.options.dead_timeout_ms) +
                                       " ms dead timeout"};
    if (2 * suspecting <= voters)
      return error{errc::rejected,
                   "declare dead: " + who + " is suspected by " + std::to_string(suspecting) +
                       " of " + std::to_string(voters) +
                       " live members since its last heartbeat; more than half must suspect it"};
    return error{errc::conflict, "declare dead: " + who + " changed concurrently"};
  }
};

cluster_membership::cluster_membership(std::unique_ptr<impl> i) : impl_(std::move(i)) {}
cluster_membership::~cluster_membership() = default;

result<std::unique_ptr<cluster_membership>> cluster_membership::open(
    const cluster_store_options& options) {
  if (auto checked = check_options(options); !checked) return std::move(checked).err();
  auto state = std::make_unique<impl>(options);
  impl* raw = state.get();
  auto created = raw->t.session.run("cluster membership: creating tables",
                                    [raw](pqxx::connection& c) { return raw->t.create(c); });
  if (!created) return std::move(created).err();
  return std::unique_ptr<cluster_membership>{new cluster_membership{std::move(state)}};
}

result<member> cluster_membership::join(const node_address& address) {
  if (address.host.empty())
    return error{errc::invalid_argument, "cluster membership: join needs a host"};
  return impl_->t.session.run(
      "cluster membership: join", [&](pqxx::connection& c) -> result<member> {
        pqxx::work tx{c};
        auto row = tx.exec_prepared1("join", impl_->t.options.node_id, address.host,
                                     static_cast<int>(address.port));
        auto joined = decode_member(row);
        if (!joined) return joined;
        tx.exec_prepared0("forget_suspicions", impl_->t.options.node_id,
                          static_cast<std::int64_t>(joined->epoch));
        tx.commit();
        impl_->epoch = joined->epoch;
        return joined;
      });
}

result<member> cluster_membership::heartbeat() {
  if (auto j = impl_->joined(); !j) return std::move(j).err();
  return impl_->t.session.run(
      "cluster membership: heartbeat", [&](pqxx::connection& c) -> result<member> {
        pqxx::work tx{c};
        auto rows = tx.exec_prepared("heartbeat", impl_->t.options.node_id,
                                     static_cast<std::int64_t>(impl_->epoch));
        if (rows.empty()) return impl_->not_changed(tx, "heartbeat");
        tx.commit();
        return decode_member(rows[0]);
      });
}

result<void> cluster_membership::suspect(std::string_view node_id, std::uint64_t epoch) {
  if (auto j = impl_->joined(); !j) return j;
  if (node_id == impl_->t.options.node_id)
    return error{errc::invalid_argument, "cluster membership: a node cannot suspect itself"};
  return impl_->t.session.run(
      "cluster membership: suspect", [&](pqxx::connection& c) -> result<void> {
        pqxx::work tx{c};
        auto rows =
            tx.exec_prepared("suspect", std::string{node_id}, static_cast<std::int64_t>(epoch),
                             impl_->t.options.node_id, static_cast<std::int64_t>(impl_->epoch));
        if (!rows.empty()) {
          tx.commit();
          return ok();
        }
        if (auto fence = impl_->t.fenced(tx, impl_->epoch)) return *fence;
        auto target = tx.exec_prepared("member_row", std::string{node_id});
        const std::string who = "node " + std::string{node_id} + " epoch " + std::to_string(epoch);
        if (target.empty())
          return error{errc::not_found, "suspect: no member " + std::string{node_id}};
        const auto current = target[0][0].as<std::uint64_t>();
        if (current != epoch)
          return error{errc::conflict,
                       "suspect: " + who + " was superseded by epoch " + std::to_string(current)};
        return error{errc::conflict,
                     "suspect: " + who + " is already " + target[0][1].as<std::string>()};
      });
}

result<member> cluster_membership::declare_dead(std::string_view node_id, std::uint64_t epoch,
                                                std::uint64_t expected_row_version) {
  if (auto j = impl_->joined(); !j) return std::move(j).err();
  return impl_->t.session.run("cluster membership: declare dead", [&](pqxx::connection& c) {
    return impl_->declare_dead(c, node_id, epoch, expected_row_version);
  });
}

result<void> cluster_membership::leave() {
  if (auto j = impl_->joined(); !j) return j;
  return impl_->t.session.run(
      "cluster membership: leave", [&](pqxx::connection& c) -> result<void> {
        pqxx::work tx{c};
        const auto mine = static_cast<std::int64_t>(impl_->epoch);
        auto rows = tx.exec_prepared("leave", impl_->t.options.node_id, mine);
        if (rows.empty()) return impl_->not_changed(tx, "leave");
        tx.exec_prepared0("free_leases_cluster_shard_leases", impl_->t.options.node_id, mine);
        tx.exec_prepared0("free_leases_cluster_named_leases", impl_->t.options.node_id, mine);
        tx.commit();
        return ok();
      });
}

result<std::vector<member>> cluster_membership::members() {
  return impl_->t.session.run_idempotent("cluster membership: members",
                                         [&](pqxx::connection& c) -> result<std::vector<member>> {
                                           pqxx::nontransaction tx{c};
                                           auto rows = tx.exec_prepared("members");
                                           std::vector<member> out;
                                           out.reserve(rows.size());
                                           for (const auto& row : rows) {
                                             auto m = decode_member(row);
                                             if (!m) return std::move(m).err();
                                             out.push_back(std::move(*m));
                                           }
                                           return out;
                                         });
}

const std::string& cluster_membership::node_id() const noexcept {
  return impl_->t.options.node_id;
}

std::uint64_t cluster_membership::epoch() const noexcept {
  return impl_->epoch;
}

// ---------------------------------------------------------------------------------------------

struct cluster_leases::impl {
  cluster_tables t;
  std::uint64_t epoch;

  impl(cluster_store_options o, std::uint64_t e)
      : t(std::move(o), [this](pqxx::connection& c) { prepare(c); }), epoch(e) {}

  /// One lease table's statements, named "<prefix>_acquire" and so on; $1 is the key (text,
  /// cast to `key_type`), $2 and $3 this node and its epoch, $4 the caller's lease epoch.
  void prepare_table(pqxx::connection& c, const std::string& prefix, const std::string& table,
                     const std::string& key, const std::string& key_type) {
    const std::string& s = t.s;
    const std::string me_live = "EXISTS (SELECT 1 FROM " + s +
                                "cluster_members m WHERE m.node_id = $2 AND m.epoch = $3 AND "
                                "m.status IN " +
                                not_final + ")";
    const std::string until = "now() + " + millis(t.options.lease_duration_ms);
    const std::string k = "$1::" + key_type;
    c.prepare(prefix + "_acquire",
              "INSERT INTO " + s + table + " AS l (" + key +
                  ", owner_node, owner_epoch, lease_epoch, expires_at, granted_at) SELECT " + k +
                  ", $2, $3, 1, " + until + ", now() WHERE " + me_live + " ON CONFLICT (" + key +
                  ") DO UPDATE SET owner_node = excluded.owner_node, "
                  "owner_epoch = excluded.owner_epoch, lease_epoch = l.lease_epoch + 1, "
                  "expires_at = excluded.expires_at, granted_at = excluded.granted_at "
                  "WHERE l.owner_node IS NULL OR l.expires_at <= now() RETURNING " +
                  lease_columns());
    const std::string mine = "l." + key + " = " + k +
                             " AND l.owner_node = $2 AND l.owner_epoch = $3 AND "
                             "l.lease_epoch = $4";
    c.prepare(prefix + "_renew", "UPDATE " + s + table + " AS l SET expires_at = " + until +
                                     " WHERE " + mine + " AND " + me_live + " RETURNING " +
                                     lease_columns());
    c.prepare(prefix + "_release",
              "UPDATE " + s + table +
                  " AS l SET owner_node = NULL, owner_epoch = NULL, expires_at = NULL WHERE " +
                  mine + " RETURNING " + lease_columns());
    c.prepare(prefix + "_owner",
              "SELECT " + lease_columns() + " FROM " + s + table + " l WHERE l." + key + " = " + k);
  }

  void prepare(pqxx::connection& c) {
    prepare_table(c, "shard", "cluster_shard_leases", "shard", "integer");
    prepare_table(c, "named", "cluster_named_leases", "name", "text");
    c.prepare("shard_all", "SELECT l.shard, " + lease_columns() + " FROM " + t.s +
                               "cluster_shard_leases l ORDER BY l.shard");
  }

  /// A lease's key: the statement prefix, the key as text and its name in messages.
  struct lease_key {
    const char* prefix;
    std::string text;
    std::string label;
  };

  result<lease_key> shard_key(shard_id shard) const {
    if (shard.value >= t.options.shard_count)
      return error{errc::invalid_argument, "cluster leases: shard " + std::to_string(shard.value) +
                                               " is outside 0.." +
                                               std::to_string(t.options.shard_count - 1)};
    return lease_key{"shard", std::to_string(shard.value), "shard " + std::to_string(shard.value)};
  }

  static result<lease_key> named_key(std::string_view name) {
    if (name.empty()) return error{errc::invalid_argument, "cluster leases: empty lease name"};
    return lease_key{"named", std::string{name}, "lease '" + std::string{name} + "'"};
  }

  lease current(pqxx::transaction_base& tx, const lease_key& k) {
    auto rows = tx.exec_prepared(std::string{k.prefix} + "_owner", k.text);
    return rows.empty() ? lease{} : decode_lease(rows[0]);
  }

  result<lease> acquire(const lease_key& k) {
    return t.session.run(
        "cluster leases: acquire " + k.label, [&](pqxx::connection& c) -> result<lease> {
          pqxx::work tx{c};
          auto rows = tx.exec_prepared(std::string{k.prefix} + "_acquire", k.text,
                                       t.options.node_id, static_cast<std::int64_t>(epoch));
          if (!rows.empty()) {
            tx.commit();
            return decode_lease(rows[0]);
          }
          if (auto fence = t.fenced(tx, epoch)) return *fence;
          return error{errc::conflict, k.label + " is taken: " + describe(current(tx, k))};
        });
  }

  /// `renew` or `release` (`op`), under `lease_epoch`.
  result<lease> change(const lease_key& k, const char* op, std::uint64_t lease_epoch) {
    return t.session.run(
        std::string{"cluster leases: "} + op + " " + k.label,
        [&](pqxx::connection& c) -> result<lease> {
          pqxx::work tx{c};
          auto rows = tx.exec_prepared(std::string{k.prefix} + "_" + op, k.text, t.options.node_id,
                                       static_cast<std::int64_t>(epoch),
                                       static_cast<std::int64_t>(lease_epoch));
          if (!rows.empty()) {
            tx.commit();
            return decode_lease(rows[0]);
          }
          const lease now = current(tx, k);
          const bool ours = now.lease_epoch == lease_epoch && now.owner == t.options.node_id &&
                            now.owner_epoch == epoch;
          if (!ours)
            return error{errc::conflict, k.label + ": fenced: lease epoch " +
                                             std::to_string(lease_epoch) +
                                             " is not this node's; now " + describe(now)};
          if (auto fence = t.fenced(tx, epoch)) return *fence;
          return error{errc::conflict, k.label + " changed concurrently: " + describe(now)};
        });
  }

  result<lease> owner_of(const lease_key& k) {
    return t.session.run_idempotent("cluster leases: owner of " + k.label,
                                    [&](pqxx::connection& c) -> result<lease> {
                                      pqxx::nontransaction tx{c};
                                      return current(tx, k);
                                    });
  }
};

cluster_leases::cluster_leases(std::unique_ptr<impl> i) : impl_(std::move(i)) {}
cluster_leases::~cluster_leases() = default;

result<std::unique_ptr<cluster_leases>> cluster_leases::open(const cluster_store_options& options,
                                                             std::uint64_t epoch) {
  if (auto checked = check_options(options); !checked) return std::move(checked).err();
  if (epoch == 0)
    return error{errc::invalid_argument,
                 "cluster leases: epoch 0 is no membership epoch (join first)"};
  auto state = std::make_unique<impl>(options, epoch);
  impl* raw = state.get();
  auto created = raw->t.session.run("cluster leases: creating tables",
                                    [raw](pqxx::connection& c) { return raw->t.create(c); });
  if (!created) return std::move(created).err();
  return std::unique_ptr<cluster_leases>{new cluster_leases{std::move(state)}};
}

result<lease> cluster_leases::acquire(shard_id shard) {
  auto k = impl_->shard_key(shard);
  if (!k) return std::move(k).err();
  return impl_->acquire(*k);
}

result<lease> cluster_leases::renew(shard_id shard, std::uint64_t lease_epoch) {
  auto k = impl_->shard_key(shard);
  if (!k) return std::move(k).err();
  return impl_->change(*k, "renew", lease_epoch);
}

result<void> cluster_leases::release(shard_id shard, std::uint64_t lease_epoch) {
  auto k = impl_->shard_key(shard);
  if (!k) return std::move(k).err();
  auto released = impl_->change(*k, "release", lease_epoch);
  if (!released) return std::move(released).err();
  return ok();
}

result<lease> cluster_leases::owner_of(shard_id shard) {
  auto k = impl_->shard_key(shard);
  if (!k) return std::move(k).err();
  return impl_->owner_of(*k);
}

result<std::vector<lease>> cluster_leases::shard_leases() {
  return impl_->t.session.run_idempotent(
      "cluster leases: shard leases", [&](pqxx::connection& c) -> result<std::vector<lease>> {
        pqxx::nontransaction tx{c};
        std::vector<lease> out(impl_->t.options.shard_count);
        for (const auto& row : tx.exec_prepared("shard_all")) {
          const auto shard = row[0].as<std::int64_t>();
          if (shard < 0 || shard >= static_cast<std::int64_t>(out.size()))
            return error{errc::corrupted, "cluster leases: a lease of shard " +
                                              std::to_string(shard) + " outside 0.." +
                                              std::to_string(out.size() - 1)};
          out[static_cast<std::size_t>(shard)] = decode_lease(row, 1);
        }
        return out;
      });
}

result<lease> cluster_leases::acquire(std::string_view name) {
  auto k = impl::named_key(name);
  if (!k) return std::move(k).err();
  return impl_->acquire(*k);
}

result<lease> cluster_leases::renew(std::string_view name, std::uint64_t lease_epoch) {
  auto k = impl::named_key(name);
  if (!k) return std::move(k).err();
  return impl_->change(*k, "renew", lease_epoch);
}

result<void> cluster_leases::release(std::string_view name, std::uint64_t lease_epoch) {
  auto k = impl::named_key(name);
  if (!k) return std::move(k).err();
  auto released = impl_->change(*k, "release", lease_epoch);
  if (!released) return std::move(released).err();
  return ok();
}

result<lease> cluster_leases::owner_of(std::string_view name) {
  auto k = impl::named_key(name);
  if (!k) return std::move(k).err();
  return impl_->owner_of(*k);
}

std::uint32_t cluster_leases::shard_count() const noexcept {
  return impl_->t.options.shard_count;
}

std::uint64_t cluster_leases::epoch() const noexcept {
  return impl_->epoch;
}

// ---------------------------------------------------------------------------------------------

result<cluster_view> read_cluster_view(const cluster_store_options& options) {
  if (!detail::is_plain_identifier(options.schema))
    return error{errc::invalid_argument,
                 "cluster store: schema '" + options.schema + "' is not a plain identifier"};
  cluster_tables t{options, [](pqxx::connection&) {}};
  return t.session.run_idempotent(
      "cluster store: read", [&](pqxx::connection& c) -> result<cluster_view> {
        // One snapshot, so that members and leases agree; nothing is written.
        pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx{c};
        const auto found = tx.exec_params1("SELECT to_regclass($1) IS NOT NULL",
                                           options.schema + ".cluster_shard_leases");
        if (!found[0].as<bool>())
          return error{errc::not_found, "schema " + options.schema +
                                            " holds no cluster tables (no node joined a cluster "
                                            "on this journal)"};
        cluster_view v;
        for (const auto& row : tx.exec("SELECT shard_count FROM " + t.s + "cluster_meta"))
          v.shard_count = row[0].as<std::uint32_t>();
        for (const auto& row : tx.exec("SELECT " + t.member_columns("m") + " FROM " + t.s +
                                       "cluster_members m ORDER BY m.node_id")) {
          auto m = decode_member(row);
          if (!m) return std::move(m).err();
          v.members.push_back(std::move(*m));
        }
        for (const auto& row : tx.exec("SELECT l.shard, " + lease_columns() + " FROM " + t.s +
                                       "cluster_shard_leases l ORDER BY l.shard"))
          v.shard_leases.emplace_back(row[0].as<std::uint32_t>(), decode_lease(row, 1));
        for (const auto& row : tx.exec("SELECT l.name, " + lease_columns() + " FROM " + t.s +
                                       "cluster_named_leases l ORDER BY l.name"))
          v.named_leases.emplace_back(row[0].as<std::string>(), decode_lease(row, 1));
        tx.commit();
        return v;
      });
}

}  // namespace strata::persistence
