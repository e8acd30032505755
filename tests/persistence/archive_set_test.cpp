// Several archives of one journal read as one (archive_set, journal_with_archives), and the
// host lock that tells a running runtime from outside.

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "strata/persistence/archive.hpp"
#include "strata/persistence/host_lock.hpp"
#include "strata/persistence/sqlite_journal.hpp"
#include "strata/persistence/sqlite_snapshot_store.hpp"
#include "tests/persistence/support.hpp"

namespace {

using namespace strata;
using namespace strata::persistence;
using namespace strata::persistence::testing;

const stream_id order{"Order", "1"};

/// Order-1: v1..v4 at second 0, v5..v8 at second 100, v9..v10 at second 200; snapshots at 5
/// and 9. Archived at second 50 into `first` (v1..v4) and at second 150 into `second`
/// (v5..v8).
struct two_archives {
  temp_dir dir;
  std::string path = (dir.path() / "journal.db").string();
  std::string first = (dir.path() / "first.db").string();
  std::string second = (dir.path() / "second.db").string();
  std::unique_ptr<sqlite_journal> j;
  std::vector<event_record> written;

  two_archives() {
    sqlite_journal_options o;
    o.path = path;
    auto opened = sqlite_journal::open(o);
    REQUIRE(opened.has_value());
    j = std::move(*opened);
    sqlite_snapshot_store_options so;
    so.path = path;
    auto snaps = sqlite_snapshot_store::open(so);
    REQUIRE(snaps.has_value());
    for (std::uint64_t v = 0; v < 10; ++v) {
      auto out = append_one(*j, order, v,
                            {make_event("step", "{}",
                                        test_time(v < 4   ? 0
                                                  : v < 8 ? 100
                                                          : 200))});
      REQUIRE(out.has_value());
      written.push_back(out->front());
    }
    for (std::uint64_t at : {5, 9}) {
      snapshot_record rec;
      rec.stream = order;
      rec.at = version{at};
      rec.last_event_hash = written[at - 1].hash;
      rec.state = R"({"state":{},"recent":[]})";
      REQUIRE((*snaps)->save(rec).has_value());
    }
    for (const auto& [seconds, file] : {std::pair{50, first}, std::pair{150, second}}) {
      archive_options options;
      options.cut_off = test_time(seconds);
      options.now = test_time(seconds);
      auto plan = plan_archive(*j, **snaps, options);
      REQUIRE(plan.has_value());
      auto done = run_archive(*j, *plan, file, options);
      REQUIRE_MESSAGE(done.has_value(), to_string(done.err()));
    }
  }
};

}  // namespace

TEST_CASE("an archive set orders its files by their manifests and reads them as one") {
  two_archives a;
  auto set = archive_set::open({a.second, a.first});
  REQUIRE(set.has_value());
  REQUIRE(set->archives().size() == 2);
  CHECK(set->archives()[0]->path() == a.first);
  CHECK(set->archives()[1]->path() == a.second);
  CHECK(set->journal_id() == a.j->id());
  auto streams = set->streams();
  REQUIRE(streams.has_value());
  REQUIRE(streams->size() == 1);
  CHECK(streams->front().first == version{1});
  CHECK(streams->front().last == version{8});
  CHECK(streams->front().events == 8);
  CHECK(streams->front().last_hash == a.written[7].hash);
  CHECK(render(*set->read_stream(order, {})) ==
        "step@1 step@2 step@3 step@4 step@5 step@6 step@7 step@8");
  stream_range across;
  across.from = version{3};
  across.limit = 3;
  CHECK(render(*set->read_stream(order, across)) == "step@3 step@4 step@5");
  auto all = set->read_all(global_position{2}, 100);
  REQUIRE(all.has_value());
  REQUIRE(all->size() == 6);
  CHECK(all->front().position.value == 3);
  auto verified = set->verify();
  REQUIRE(verified.has_value());
  CHECK_FALSE(verified->has_value());
  auto both = verify_with_archive(*a.j, *set);
  REQUIRE(both.has_value());
  CHECK_MESSAGE(!both->has_value(), (*both ? (*both)->detail : ""));

  // One of them alone: the journal's anchor is not covered.
  auto newest = archive_set::open({a.second});
  REQUIRE(newest.has_value());
  auto short_of = verify_with_archive(*a.j, *newest);
  REQUIRE(short_of.has_value());
  REQUIRE(short_of->has_value());
  CHECK((*short_of)->kind == "missing");
  CHECK(archive_set::open({}).err().code == errc::invalid_argument);
  CHECK(archive_set::open({a.first, a.first}).err().code == errc::invalid_argument);
}

TEST_CASE("a journal read with its archives answers as before the cut, and names what is missing") {
  two_archives a;
  auto set = archive_set::open({a.first, a.second});
  REQUIRE(set.has_value());
  journal_with_archives view{*a.j, *set};
  auto whole = view.read_stream(order, {});
  REQUIRE(whole.has_value());
  REQUIRE(whole->size() == 10);
  for (std::size_t i = 0; i < 10; ++i) CHECK((*whole)[i].hash == a.written[i].hash);
  stream_range range;
  range.from = version{4};
  range.to = version{9};
  CHECK(render(*view.read_stream(order, range)) == "step@4 step@5 step@6 step@7 step@8 step@9");
  range.until = test_time(100);
  CHECK(render(*view.read_stream(order, range)) == "step@4 step@5 step@6 step@7 step@8");
  std::size_t visited = 0;
  auto each = view.for_each_in_stream(order, {}, [&](const event_view& e) -> result<visit_control> {
    CHECK(e.stream_version.value == ++visited);
    return visit_control::next;
  });
  REQUIRE(each.has_value());
  CHECK(*each == 10);
  CHECK_FALSE(view.anchor(order)->has_value());
  CHECK(view.anchors()->empty());
  CHECK_FALSE(view.archived()->has_value());
  CHECK(view.read_all(global_position{}, 100)->size() == 10);
  CHECK(check_not_archived(view, order, version{1}).has_value());
  CHECK(view.append({part(order, 10, {make_event("more")})}).err().code == errc::unsupported);

  // Without the oldest archive, reads that need it fail naming the files given.
  auto newest = archive_set::open({a.second});
  REQUIRE(newest.has_value());
  journal_with_archives partial{*a.j, *newest};
  auto missing = partial.read_stream(order, {});
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.err().code == errc::not_found);
  CHECK(missing.err().message.find("not all in the archives given") != std::string::npos);
  CHECK(missing.err().message.find("second.db") != std::string::npos);
  CHECK(partial.anchor(order)->has_value());
  stream_range hot;
  hot.from = version{9};
  CHECK(render(*partial.read_stream(order, hot)) == "step@9 step@10");  // the journal's part
}

TEST_CASE("the SQLite host lock excludes a second holder until the first releases it") {
  temp_dir dir;
  const std::string path = (dir.path() / "journal.db").string();
  auto first = lock_sqlite_host(path);
  REQUIRE(first.has_value());
  CHECK((*first)->what() == path + ".host-lock");
  auto second = lock_sqlite_host(path);
  REQUIRE_FALSE(second.has_value());
  CHECK(second.err().code == errc::conflict);
  CHECK(second.err().message.find("a runtime is running on this store") != std::string::npos);
  first->reset();
  auto third = lock_sqlite_host(path);
  CHECK(third.has_value());
  auto nowhere = lock_sqlite_host((dir.path() / "no-such-dir" / "journal.db").string());
  REQUIRE_FALSE(nowhere.has_value());
  CHECK(nowhere.err().code == errc::unavailable);
}
