// The cluster's membership and lease tables against the test PostgreSQL server: every "node"
// is a pair of instances with connections of its own, all in this one process. Timeouts are
// short and every wait is a bounded poll of the table by the database's clock.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "strata/persistence/postgres/cluster_store.hpp"
#include "tests/cluster/cluster_support.hpp"
#include "tests/persistence/postgres_support.hpp"
#include "tests/support/wait_until.hpp"

namespace strata::persistence {
namespace {

using namespace std::chrono_literals;

/// A fresh schema for one test, dropped at its end, and options for its nodes.
struct cluster_schema {
  std::string conninfo;
  std::string schema;
  testing::schema_guard guard;
  cluster_store_options base;

  explicit cluster_schema(std::string c)
      : conninfo(std::move(c)), schema(testing::unique_schema("cluster")), guard(conninfo, schema) {
    base.conninfo = conninfo;
    base.schema = schema;
    base.shard_count = 16;
    base.dead_timeout_ms = 1500;
    base.lease_duration_ms = 400;
  }

  cluster_store_options options(const std::string& node) const {
    auto o = base;
    o.node_id = node;
    return o;
  }
};

/// One node: its membership and, once joined, its leases.
struct node {
  std::unique_ptr<cluster_membership> membership;
  std::unique_ptr<cluster_leases> leases;

  node(const cluster_schema& schema, const std::string& id, std::uint16_t port = 4000) {
    auto opened = cluster_membership::open(schema.options(id));
    REQUIRE_MESSAGE(opened, to_string(opened.err()));
    membership = std::move(*opened);
    auto joined = membership->join({"127.0.0.1", port});
    REQUIRE_MESSAGE(joined, to_string(joined.err()));
    auto beat = membership->heartbeat();
    REQUIRE_MESSAGE(beat, to_string(beat.err()));
    auto l = cluster_leases::open(schema.options(id), membership->epoch());
    REQUIRE_MESSAGE(l, to_string(l.err()));
    leases = std::move(*l);
  }
};

std::optional<member> find(const std::vector<member>& members, const std::string& id) {
  for (const auto& m : members)
    if (m.node_id == id) return m;
  return std::nullopt;
}

/// `who`'s row as `viewer` reads it. REQUIRES: it exists.
member row_of(cluster_membership& viewer, const std::string& who) {
  auto all = viewer.members();
  REQUIRE_MESSAGE(all, to_string(all.err()));
  auto m = find(*all, who);
  REQUIRE_MESSAGE(m, who << " is not in the membership table");
  return *m;
}

/// Waits (bounded) until `who`'s heartbeat is older than the dead timeout by the database's
/// clock, while `alive` keep heartbeating.
void wait_until_stale(const cluster_schema& schema, cluster_membership& viewer,
                      const std::string& who, const std::vector<cluster_membership*>& alive) {
  const std::int64_t timeout_us = std::int64_t{schema.base.dead_timeout_ms} * 1000;
  const bool stale = strata::testing::wait_until(
      [&] {
        for (auto* a : alive) REQUIRE(a->heartbeat());
        return row_of(viewer, who).heartbeat_age_us > timeout_us;
      },
      10s);
  REQUIRE_MESSAGE(stale, who << "'s heartbeat never got older than the dead timeout");
  for (auto* a : alive) REQUIRE(a->heartbeat());
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_CASE("every join of a node gives it a higher epoch") {
  STRATA_CLUSTER_SERVER(conninfo);
  cluster_schema schema{conninfo};
  auto opened = cluster_membership::open(schema.options("node-a"));
  REQUIRE_MESSAGE(opened, to_string(opened.err()));
  auto& a = **opened;
  CHECK(a.epoch() == 0);
  std::uint64_t last = 0;
  for (int i = 0; i < 3; ++i) {
    auto joined = a.join({"127.0.0.1", 4000});
    REQUIRE_MESSAGE(joined, to_string(joined.err()));
    CHECK(joined->epoch > last);
    CHECK(joined->status == member_status::joining);
    CHECK(a.epoch() == joined->epoch);
    last = joined->epoch;
  }
  CHECK(last == 3);
  auto other = cluster_membership::open(schema.options("node-b"));
  REQUIRE(other);
  auto b = (*other)->join({"127.0.0.1", 4001});
  REQUIRE(b);
  CHECK(b->epoch == 1);  // epochs count per node id
}

TEST_CASE("two nodes with their own connections see each other alive") {
  STRATA_CLUSTER_SERVER(conninfo);
  cluster_schema schema{conninfo};
  node a{schema, "node-a", 4000};
  node b{schema, "node-b", 4001};
  for (auto* viewer : {a.membership.get(), b.membership.get()}) {
    auto all = viewer->members();
    REQUIRE_MESSAGE(all, to_string(all.err()));
    REQUIRE(all->size() == 2);
    CHECK((*all)[0].node_id == "node-a");
    CHECK((*all)[0].address.port == 4000);
    CHECK((*all)[1].node_id == "node-b");
    CHECK((*all)[1].address.host == "127.0.0.1");
    CHECK((*all)[1].address.port == 4001);
    for (const auto& m : *all) {
      CHECK(m.status == member_status::alive);
      CHECK(m.epoch == 1);
      CHECK(m.suspected_by.empty());
      CHECK(m.heartbeat_age_us < std::int64_t{schema.base.dead_timeout_ms} * 1000);
    }
  }
}

TEST_CASE("a silent node is declared dead only after the timeout, by a quorum, and only once") {
  STRATA_CLUSTER_SERVER(conninfo);
  cluster_schema schema{conninfo};
  node a{schema, "node-a"};
  node b{schema, "node-b"};
  node c{schema, "node-c"};

  // While its heartbeat is recent, no one may declare it dead, suspected or not.
  REQUIRE(a.membership->suspect("node-c", 1));
  REQUIRE(b.membership->suspect("node-c", 1));
  auto fresh = row_of(*a.membership, "node-c");
  CHECK(fresh.status == member_status::suspect);
  CHECK(fresh.suspected_by == std::vector<std::string>{"node-a", "node-b"});
  auto early = a.membership->declare_dead("node-c", 1, fresh.row_version);
  REQUIRE_FALSE(early);
  CHECK(early.err().code == errc::rejected);
  CHECK_MESSAGE(contains(early.err().message, "dead timeout"), early.err().message);

  // node-c heartbeats once more (that clears the suspicions), then falls silent.
  REQUIRE(c.membership->heartbeat());
  CHECK(row_of(*a.membership, "node-c").suspected_by.empty());
  wait_until_stale(schema, *a.membership, "node-c", {a.membership.get(), b.membership.get()});

  // Timed out, but one node's view alone is no quorum of the two live members.
  auto unsuspected = row_of(*a.membership, "node-c");
  auto alone = a.membership->declare_dead("node-c", 1, unsuspected.row_version);
  REQUIRE_FALSE(alone);
  CHECK(alone.err().code == errc::rejected);
  CHECK_MESSAGE(contains(alone.err().message, "suspected by 0 of 2"), alone.err().message);
  REQUIRE(a.membership->suspect("node-c", 1));
  auto one = row_of(*a.membership, "node-c");
  auto half = a.membership->declare_dead("node-c", 1, one.row_version);
  REQUIRE_FALSE(half);
  CHECK(half.err().code == errc::rejected);
  CHECK_MESSAGE(contains(half.err().message, "suspected by 1 of 2"), half.err().message);
  REQUIRE(b.membership->suspect("node-c", 1));

  // A stale row version is refused: the update is optimistic.
  auto suspected = row_of(*a.membership, "node-c");
  CHECK(suspected.suspected_by == std::vector<std::string>{"node-a", "node-b"});
  auto stale = a.membership->declare_dead("node-c", 1, suspected.row_version - 1);
  REQUIRE_FALSE(stale);
  CHECK(stale.err().code == errc::conflict);
  CHECK_MESSAGE(contains(stale.err().message, "row version"), stale.err().message);

  // Both survivors declare at once: exactly one update wins.
  for (auto* m : {a.membership.get(), b.membership.get()}) REQUIRE(m->heartbeat());
  std::atomic<bool> go{false};
  std::optional<result<member>> by_a;
  std::optional<result<member>> by_b;
  std::thread ta{[&] {
    while (!go.load()) std::this_thread::yield();
    by_a.emplace(a.membership->declare_dead("node-c", 1, suspected.row_version));
  }};
  std::thread tb{[&] {
    while (!go.load()) std::this_thread::yield();
    by_b.emplace(b.membership->declare_dead("node-c", 1, suspected.row_version));
  }};
  go = true;
  ta.join();
  tb.join();
  REQUIRE(by_a);
  REQUIRE(by_b);
  CHECK(by_a->has_value() != by_b->has_value());
  const auto& winner = by_a->has_value() ? *by_a : *by_b;
  const auto& loser = by_a->has_value() ? *by_b : *by_a;
  REQUIRE(winner);
  CHECK(winner->status == member_status::dead);
  CHECK(winner->row_version == suspected.row_version + 1);
  REQUIRE_FALSE(loser);
  CHECK(loser.err().code == errc::conflict);
  CHECK(row_of(*b.membership, "node-c").status == member_status::dead);
}

TEST_CASE("a dead epoch's heartbeat is refused and the restarted node gets a new epoch") {
  STRATA_CLUSTER_SERVER(conninfo);
  cluster_schema schema{conninfo};
  node a{schema, "node-a"};
  node c{schema, "node-c"};
  wait_until_stale(schema, *a.membership, "node-c", {a.membership.get()});

  // node-a is the only live member besides the silent one: the timeout alone decides.
  auto declared =
      a.membership->declare_dead("node-c", 1, row_of(*a.membership, "node-c").row_version);
  REQUIRE_MESSAGE(declared, to_string(declared.err()));

  for (int i = 0; i < 3; ++i) {
    auto beat = c.membership->heartbeat();
    REQUIRE_FALSE(beat);
    CHECK(beat.err().code == errc::conflict);
    CHECK_MESSAGE(contains(beat.err().message, "fenced: node node-c epoch 1 is dead"),
                  beat.err().message);
  }
  CHECK(row_of(*a.membership, "node-c").status == member_status::dead);
  // A dead member can neither suspect nor take a lease.
  CHECK(c.membership->suspect("node-a", 1).err().code == errc::conflict);
  auto take = c.leases->acquire(shard_id{1});
  REQUIRE_FALSE(take);
  CHECK_MESSAGE(contains(take.err().message, "fenced"), take.err().message);

  // The same node id started again: epoch 2, alive; the old process stays fenced.
  auto restarted = cluster_membership::open(schema.options("node-c"));
  REQUIRE(restarted);
  auto rejoined = (*restarted)->join({"127.0.0.1", 4002});
  REQUIRE_MESSAGE(rejoined, to_string(rejoined.err()));
  CHECK(rejoined->epoch == 2);
  REQUIRE((*restarted)->heartbeat());
  auto row = row_of(*a.membership, "node-c");
  CHECK(row.epoch == 2);
  CHECK(row.status == member_status::alive);
  CHECK(row.address.port == 4002);
  auto old = c.membership->heartbeat();
  REQUIRE_FALSE(old);
  CHECK_MESSAGE(contains(old.err().message, "superseded by epoch 2"), old.err().message);
  // The new epoch cannot be declared dead with the old one's number.
  auto wrong = a.membership->declare_dead("node-c", 1, row.row_version);
  REQUIRE_FALSE(wrong);
  CHECK(wrong.err().code == errc::conflict);
}

TEST_CASE("a node that leaves frees its leases and is fenced") {
  STRATA_CLUSTER_SERVER(conninfo);
  cluster_schema schema{conninfo};
  node a{schema, "node-a"};
  node b{schema, "node-b"};
  auto held = a.leases->acquire(shard_id{2});
  REQUIRE(held);
  auto named = a.leases->acquire("relay:rabbitmq");
  REQUIRE(named);
  REQUIRE(a.membership->leave());
  CHECK(row_of(*b.membership, "node-a").status == member_status::left);
  CHECK_FALSE(a.leases->owner_of(shard_id{2})->is_held());
  auto taken = b.leases->acquire(shard_id{2});
  REQUIRE_MESSAGE(taken, to_string(taken.err()));
  CHECK(taken->lease_epoch == held->lease_epoch + 1);
  REQUIRE(b.leases->acquire("relay:rabbitmq"));
  auto beat = a.membership->heartbeat();
  REQUIRE_FALSE(beat);
  CHECK_MESSAGE(contains(beat.err().message, "left"), beat.err().message);
}

TEST_CASE("two nodes racing for the same shard: exactly one gets it") {
  STRATA_CLUSTER_SERVER(conninfo);
  cluster_schema schema{conninfo};
  node a{schema, "node-a"};
  node b{schema, "node-b"};
  for (std::uint32_t shard = 0; shard < schema.base.shard_count; ++shard) {
    CAPTURE(shard);
    std::atomic<int> ready{0};
    std::optional<result<lease>> by_a;
    std::optional<result<lease>> by_b;
    auto race = [&](node& n, std::optional<result<lease>>& out) {
      ++ready;
      while (ready.load() < 2) std::this_thread::yield();
      out.emplace(n.leases->acquire(shard_id{shard}));
    };
    std::thread ta{[&] { race(a, by_a); }};
    std::thread tb{[&] { race(b, by_b); }};
    ta.join();
    tb.join();
    REQUIRE(by_a);
    REQUIRE(by_b);
    REQUIRE(by_a->has_value() != by_b->has_value());
    const auto& won = by_a->has_value() ? *by_a : *by_b;
    const auto& lost = by_a->has_value() ? *by_b : *by_a;
    CHECK(won->lease_epoch == 1);
    CHECK(won->is_held());
    CHECK(lost.err().code == errc::conflict);
    CHECK_MESSAGE(contains(lost.err().message, "is taken: lease epoch 1, held by " + won->owner),
                  lost.err().message);
    auto stored = a.leases->owner_of(shard_id{shard});
    REQUIRE(stored);
    CHECK(stored->owner == won->owner);
  }
}

TEST_CASE("an expired lease goes to another node with a higher epoch and the old owner is fenced") {
  STRATA_CLUSTER_SERVER(conninfo);
  cluster_schema schema{conninfo};
  node a{schema, "node-a"};
  node b{schema, "node-b"};
  auto first = a.leases->acquire(shard_id{3});
  REQUIRE_MESSAGE(first, to_string(first.err()));
  CHECK(first->lease_epoch == 1);
  CHECK(first->owner == "node-a");
  CHECK(first->remaining_us == std::int64_t{schema.base.lease_duration_ms} * 1000);
  auto renewed = a.leases->renew(shard_id{3}, 1);
  REQUIRE_MESSAGE(renewed, to_string(renewed.err()));
  CHECK(renewed->lease_epoch == 1);
  auto busy = b.leases->acquire(shard_id{3});
  REQUIRE_FALSE(busy);
  CHECK(busy.err().code == errc::conflict);

  const bool expired = strata::testing::wait_until(
      [&] {
        auto l = b.leases->owner_of(shard_id{3});
        REQUIRE(l);
        return !l->is_held();
      },
      10s);
  REQUIRE_MESSAGE(expired, "the lease never expired");
  auto second = b.leases->acquire(shard_id{3});
  REQUIRE_MESSAGE(second, to_string(second.err()));
  CHECK(second->owner == "node-b");
  CHECK(second->lease_epoch == 2);

  for (int i = 0; i < 3; ++i) {
    auto stale = a.leases->renew(shard_id{3}, 1);
    REQUIRE_FALSE(stale);
    CHECK(stale.err().code == errc::conflict);
    CHECK_MESSAGE(contains(stale.err().message,
                           "shard 3: fenced: lease epoch 1 is not this "
                           "node's; now lease epoch 2, held by node-b"),
                  stale.err().message);
  }
  auto late_release = a.leases->release(shard_id{3}, 1);
  REQUIRE_FALSE(late_release);
  CHECK(contains(late_release.err().message, "fenced"));
  CHECK(b.leases->owner_of(shard_id{3})->owner == "node-b");
  REQUIRE(b.leases->renew(shard_id{3}, 2));
}

TEST_CASE("a released lease is free and the next owner gets the next epoch") {
  STRATA_CLUSTER_SERVER(conninfo);
  cluster_schema schema{conninfo};
  node a{schema, "node-a"};
  node b{schema, "node-b"};
  auto held = a.leases->acquire(shard_id{0});
  REQUIRE(held);
  REQUIRE(a.leases->release(shard_id{0}, held->lease_epoch));
  auto free = b.leases->owner_of(shard_id{0});
  REQUIRE(free);
  CHECK(free->owner.empty());
  CHECK(free->lease_epoch == 1);
  CHECK_FALSE(free->is_held());
  auto next = b.leases->acquire(shard_id{0});
  REQUIRE(next);
  CHECK(next->lease_epoch == 2);
  auto all = b.leases->shard_leases();
  REQUIRE(all);
  REQUIRE(all->size() == schema.base.shard_count);
  CHECK((*all)[0].owner == "node-b");
  CHECK((*all)[1].lease_epoch == 0);  // never granted
}

TEST_CASE("projection and relay leases are held by one node at a time like shard leases") {
  STRATA_CLUSTER_SERVER(conninfo);
  cluster_schema schema{conninfo};
  node a{schema, "node-a"};
  node b{schema, "node-b"};
  auto projection = a.leases->acquire("order_totals");
  REQUIRE_MESSAGE(projection, to_string(projection.err()));
  auto relay = b.leases->acquire(rabbitmq_relay_lease);
  REQUIRE_MESSAGE(relay, to_string(relay.err()));
  CHECK_FALSE(b.leases->acquire("order_totals"));
  CHECK_FALSE(a.leases->acquire("relay:rabbitmq"));
  CHECK(a.leases->owner_of("relay:rabbitmq")->owner == "node-b");
  REQUIRE(a.leases->renew("order_totals", projection->lease_epoch));
  auto wrong = b.leases->renew("order_totals", projection->lease_epoch);
  REQUIRE_FALSE(wrong);
  CHECK_MESSAGE(contains(wrong.err().message, "lease 'order_totals': fenced"), wrong.err().message);
  REQUIRE(a.leases->release("order_totals", projection->lease_epoch));
  auto moved = b.leases->acquire("order_totals");
  REQUIRE(moved);
  CHECK(moved->lease_epoch == 2);
  CHECK(a.leases->acquire("").err().code == errc::invalid_argument);
}

TEST_CASE("the shard count is fixed once stored, and a shard outside it is refused") {
  STRATA_CLUSTER_SERVER(conninfo);
  cluster_schema schema{conninfo};
  node a{schema, "node-a"};
  CHECK(a.leases->acquire(shard_id{schema.base.shard_count}).err().code == errc::invalid_argument);
  auto other = schema.options("node-b");
  other.shard_count = 32;
  auto refused = cluster_membership::open(other);
  REQUIRE_FALSE(refused);
  CHECK(refused.err().code == errc::invalid_argument);
  CHECK_MESSAGE(contains(refused.err().message, "shard_count 16"), refused.err().message);
  auto bad_id = schema.options("node b");
  CHECK(cluster_membership::open(bad_id).err().code == errc::invalid_argument);
}

#ifdef STRATA_CLUSTER_NODE
/// A node process (tests/cluster/cluster_node.cpp) on the schema; its "ready" line is read.
struct node_process {
  cluster_testing::child_process process;
  std::uint64_t epoch = 0;
  std::string lease_epoch;

  node_process(const cluster_schema& schema, const std::string& id, std::uint32_t shard)
      : process({STRATA_CLUSTER_NODE, schema.conninfo, schema.schema, id, std::to_string(shard)}) {
    const auto line = process.read_line();
    unsigned long long e = 0;
    char lease_text[32] = {};
    REQUIRE_MESSAGE(std::sscanf(line.c_str(), "ready %llu %31s", &e, lease_text) == 2, line);
    epoch = e;
    lease_epoch = lease_text;
  }

  /// kill -9, and the exit status seen.
  void kill_hard() { CHECK(WIFSIGNALED(process.kill_hard())); }
};

TEST_CASE("a node process killed with SIGKILL is declared dead and a survivor takes its lease") {
  STRATA_CLUSTER_SERVER(conninfo);
  cluster_schema schema{conninfo};
  node survivor{schema, "node-s"};
  node_process victim{schema, "node-p", 7};
  CHECK(victim.epoch == 1);
  CHECK(victim.lease_epoch == "1");

  // It heartbeats on its own: its row keeps changing, and it cannot be declared dead.
  const auto seen = row_of(*survivor.membership, "node-p");
  CHECK(strata::testing::wait_until(
      [&] { return row_of(*survivor.membership, "node-p").row_version >= seen.row_version + 2; }));
  auto alive = row_of(*survivor.membership, "node-p");
  CHECK(alive.status == member_status::alive);
  auto refused = survivor.membership->declare_dead("node-p", 1, alive.row_version);
  REQUIRE_FALSE(refused);  // its heartbeat is recent (or it moved the row on meanwhile)
  CHECK((refused.err().code == errc::rejected || refused.err().code == errc::conflict));
  CHECK(row_of(*survivor.membership, "node-p").status == member_status::alive);
  CHECK(survivor.leases->owner_of(shard_id{7})->owner == "node-p");
  CHECK_FALSE(survivor.leases->acquire(shard_id{7}));

  victim.kill_hard();
  wait_until_stale(schema, *survivor.membership, "node-p", {survivor.membership.get()});
  auto declared = survivor.membership->declare_dead(
      "node-p", 1, row_of(*survivor.membership, "node-p").row_version);
  REQUIRE_MESSAGE(declared, to_string(declared.err()));
  const bool expired = strata::testing::wait_until([&] {
    auto l = survivor.leases->owner_of(shard_id{7});
    REQUIRE(l);
    return !l->is_held();
  });
  REQUIRE(expired);
  auto taken = survivor.leases->acquire(shard_id{7});
  REQUIRE_MESSAGE(taken, to_string(taken.err()));
  CHECK(taken->lease_epoch == 2);

  // Started again, the node gets epoch 2 and finds its old shard taken. The survivor renews
  // its lease meanwhile, as a holder does: a process start on a loaded machine can take
  // longer than the 400 ms lease.
  std::atomic<bool> renewing{true};
  std::atomic<bool> renewed{true};
  std::thread renewer{[&] {
    while (renewing.load()) {
      if (!survivor.leases->renew(shard_id{7}, taken->lease_epoch)) renewed = false;
      std::this_thread::sleep_for(50ms);  // the holder's own cadence
    }
  }};
  struct joined_at_end {
    std::atomic<bool>& flag;
    std::thread& thread;
    ~joined_at_end() {
      flag = false;
      if (thread.joinable()) thread.join();
    }
  } renewer_guard{renewing, renewer};
  std::optional<node_process> restarted;
  restarted.emplace(schema, "node-p", 7);
  renewing = false;
  renewer.join();
  CHECK(renewed.load());
  CHECK(restarted->epoch == 2);
  CHECK(restarted->lease_epoch == "-");
  CHECK(row_of(*survivor.membership, "node-p").status == member_status::alive);
  restarted->kill_hard();
}
#endif

}  // namespace
}  // namespace strata::persistence
