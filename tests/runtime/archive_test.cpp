// Archival under a running application: after old events move to an archive, the runtime on
// the hot journal still rehydrates every stream, takes commands, and the chain verifies.

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <string>

#include "strata/domain/orders/order.hpp"
#include "strata/persistence/archive.hpp"
#include "strata/persistence/sqlite_journal.hpp"
#include "strata/persistence/sqlite_snapshot_store.hpp"
#include "strata/runtime/runtime.hpp"
#include "tests/runtime/stepping_clock.hpp"
#include "tests/runtime/temp_dir.hpp"
#include "tests/support/wait_until.hpp"

using namespace strata;

namespace {

using strata::testing::wait;

struct shop : strata::testing::clocked_orders {
  shop() : clocked_orders(5) {}
  void write(const std::string& id, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      orders::command c = i == 0 ? orders::command{orders::place{"c-1", "EUR", {}}}
                                 : orders::command{orders::add_item{orders::line{
                                       "sku-" + std::to_string(i % 3), 1, money{10, "EUR"}}}};
      auto r = wait(rt->send<orders::order>(id, c));
      REQUIRE(r.is_accepted());
    }
  }
  /// `n` more items on an order `id` that was placed.
  void write_more(const std::string& id, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      auto r = wait(rt->send<orders::order>(
          id, orders::add_item{orders::line{"sku-" + std::to_string(i % 3), 1, money{10, "EUR"}}}));
      REQUIRE(r.is_accepted());
    }
  }
  version newest_snapshot(const std::string& id) {
    persistence::sqlite_snapshot_store_options o;
    o.path = config.journal.sqlite.path;
    auto s = persistence::sqlite_snapshot_store::open(o);
    REQUIRE(s);
    auto l = (*s)->list(stream_id{"Order", id});
    REQUIRE(l);
    return l->empty() ? version{} : l->back().at;
  }
};

std::string render(const orders::state& s) {
  std::string out = std::to_string(static_cast<int>(s.current)) + " " + s.currency + " " +
                    std::to_string(s.total_minor);
  for (const auto& [sku, line] : s.lines) out += " " + sku + "x" + std::to_string(line.quantity);
  return out;
}

}  // namespace

TEST_CASE("after archiving, a runtime on the hot journal rehydrates every stream and goes on") {
  shop h;
  h.write("o-1", 23);
  h.write("o-2", 12);
  h.write("o-3", 3);
  REQUIRE(strata::testing::wait_until([&] {
    return h.newest_snapshot("o-1") == version{20} && h.newest_snapshot("o-2") == version{10};
  }));
  std::map<std::string, std::string> before;
  for (const char* id : {"o-1", "o-2", "o-3"}) {
    auto view = wait(h.rt->current_state<orders::order>(id));
    REQUIRE(view);
    before[id] = render(view->state) + " @" + std::to_string(view->at.value);
  }
  h.rt->stop();
  h.rt.reset();

  const std::string archive_path = h.dir.file("cold.db");
  {
    persistence::sqlite_journal_options jo;
    jo.path = h.config.journal.sqlite.path;
    auto j = persistence::sqlite_journal::open(jo);
    REQUIRE(j);
    persistence::sqlite_snapshot_store_options so;
    so.path = jo.path;
    auto snaps = persistence::sqlite_snapshot_store::open(so);
    REQUIRE(snaps);
    archive_options options;
    options.cut_off = from_unix_micros(1'000'000'000'000);  // everything is old
    options.streams_per_transaction = 1;
    auto plan = plan_archive(**j, **snaps, options);
    REQUIRE(plan);
    REQUIRE(plan->streams.size() == 2);
    CHECK(plan->streams[0].stream.str() == "Order-o-1");
    CHECK(plan->streams[0].through == version{19});
    CHECK(plan->streams[1].through == version{9});
    REQUIRE(plan->skipped.size() == 1);
    CHECK(plan->skipped[0].stream.str() == "Order-o-3");
    auto done = run_archive(**j, *plan, archive_path, options);
    REQUIRE_MESSAGE(done, to_string(done.err()));
    CHECK(done->removed == 28);
    CHECK((*j)->read_stream(stream_id{"Order", "o-1"}, {})->front().stream_version == version{20});
  }

  h.start();
  for (const char* id : {"o-1", "o-2", "o-3"}) {
    auto view = wait(h.rt->current_state<orders::order>(id));
    REQUIRE_MESSAGE(view, to_string(view.err()));
    CHECK(render(view->state) + " @" + std::to_string(view->at.value) == before[id]);
    auto r = wait(h.rt->send<orders::order>(
        id, orders::add_item{orders::line{"sku-new", 2, money{5, "EUR"}}}));
    CHECK(r.is_accepted());
  }
  auto verified = wait(h.rt->verify_audit_trail());
  REQUIRE(verified);
  CHECK_FALSE(verified->has_value());

  // Reads that need archived events say so and name the archive, never a partial answer.
  auto history = wait(h.rt->history<orders::order>("o-1", version{1}, version{30}));
  REQUIRE_FALSE(history);
  CHECK(history.err().code == errc::not_found);
  CHECK(history.err().message.find("cold.db") != std::string::npos);
  auto old_state = wait(h.rt->state_at<orders::order>("o-1", version{5}));
  REQUIRE_FALSE(old_state);
  CHECK(old_state.err().code == errc::not_found);
  CHECK(old_state.err().message.find("cold.db") != std::string::npos);
  auto early = wait(h.rt->state_as_of<orders::order>("o-1", from_unix_micros(3'000'000)));
  REQUIRE_FALSE(early);
  CHECK(early.err().code == errc::not_found);
  auto hot_history = wait(h.rt->history<orders::order>("o-1", version{20}, version{24}));
  REQUIRE(hot_history);
  CHECK(hot_history->size() == 5);
  h.rt->stop();

  persistence::sqlite_journal_options jo;
  jo.path = h.config.journal.sqlite.path;
  jo.read_only = true;
  auto j = persistence::sqlite_journal::open(jo);
  REQUIRE(j);
  auto archive = archive_reader::open(archive_path);
  REQUIRE(archive);
  auto alone = (*archive)->verify();
  REQUIRE(alone);
  CHECK_FALSE(alone->has_value());
  auto both = verify_with_archive(**j, **archive);
  REQUIRE(both);
  CHECK_MESSAGE(!both->has_value(), (*both ? (*both)->kind + ": " + (*both)->detail : ""));
}

TEST_CASE("a command retried after its events were archived is answered with its first outcome") {
  shop h;
  command_metadata meta;
  meta.command_id = "place-o-9";
  auto placed = wait(h.rt->send<orders::order>("o-9", orders::place{"c-9", "EUR", {}}, meta));
  REQUIRE(placed.is_accepted());
  REQUIRE(placed.records.size() == 1);
  h.write_more("o-9", 11);
  REQUIRE(strata::testing::wait_until([&] { return h.newest_snapshot("o-9") == version{10}; }));
  h.rt->stop();
  h.rt.reset();
  {
    persistence::sqlite_journal_options jo;
    jo.path = h.config.journal.sqlite.path;
    auto j = persistence::sqlite_journal::open(jo);
    REQUIRE(j);
    persistence::sqlite_snapshot_store_options so;
    so.path = jo.path;
    auto snaps = persistence::sqlite_snapshot_store::open(so);
    REQUIRE(snaps);
    archive_options options;
    options.cut_off = from_unix_micros(1'000'000'000'000);
    auto plan = plan_archive(**j, **snaps, options);
    REQUIRE(plan);
    auto done = run_archive(**j, *plan, h.dir.file("cold.db"), options);
    REQUIRE_MESSAGE(done, to_string(done.err()));
    REQUIRE(done->removed == 9);
    auto found = (*j)->find_command(stream_id{"Order", "o-9"}, "place-o-9");
    REQUIRE_MESSAGE(found, to_string(found.err()));
    REQUIRE(found->size() == 1);
    CHECK(found->front().event_id == placed.records[0].event_id);
  }
  // Right after the restart (the snapshot's window remembers it) and after the aggregate was
  // evicted and reloaded (the window forgot it: the journal's command index answers).
  for (int round = 0; round < 2; ++round) {
    CAPTURE(round);
    if (round == 1) h.config.commands.idempotency_window = 0;
    h.start();
    auto retried = wait(h.rt->send<orders::order>("o-9", orders::place{"c-9", "EUR", {}}, meta));
    CHECK_MESSAGE(retried.is_accepted(), to_string(retried));
    CHECK(retried.duplicate);
    CHECK(retried.at == placed.at);
    CHECK(retried.position == placed.position);
    REQUIRE(retried.records.size() == 1);
    CHECK(retried.records[0].event_id == placed.records[0].event_id);
    CHECK(retried.records[0].stream_version == version{1});
    CHECK(retried.records[0].data.empty());  // the body is in the archive
    h.rt->stop();
    h.rt.reset();
  }
}
