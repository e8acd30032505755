// Faults beyond a crash, through strata::runtime: a full disk under the journal, the snapshot
// store and the read-model store (SQLite's page limit, which needs no root and no mount), and
// the fault-injecting snapshot and read-model stores (failing, torn and slow).

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "strata/domain/orders/order.hpp"
#include "strata/domain/orders/read_models/order_summary.hpp"
#include "strata/persistence/fault_injecting_projection_store.hpp"
#include "strata/persistence/fault_injecting_snapshot_store.hpp"
#include "strata/persistence/forwarding_journal.hpp"
#include "strata/persistence/sqlite_journal.hpp"
#include "strata/persistence/sqlite_projection_store.hpp"
#include "strata/persistence/sqlite_snapshot_store.hpp"
#include "strata/runtime/runtime.hpp"
#include "tests/runtime/temp_dir.hpp"
#include "tests/support/capture_log.hpp"
#include "tests/support/wait_until.hpp"

using namespace strata;

namespace {

template <class T>
T wait(std::future<T> f) {
  REQUIRE_MESSAGE(f.wait_for(std::chrono::seconds(20)) == std::future_status::ready,
                  "no answer within 20 s");
  return f.get();
}

orders::line line(std::string sku, std::int64_t qty) {
  return orders::line{std::move(sku), qty, money{100, "EUR"}};
}

/// A customer id long enough that a few orders fill a page.
std::string customer(int i) {
  return "customer-" + std::to_string(i) + "-" + std::string(1500, 'c');
}

constexpr std::int64_t no_cap = 1'000'000'000;

/// The free space of a pretend disk: the page cap the connections of one SQLite file take
/// (`PRAGMA max_page_count`, per connection). `fill` leaves no page to grow into (SQLite
/// keeps the cap at the file's current size), `free_up` gives space back.
struct pretend_disk {
  std::atomic<std::int64_t> cap{no_cap};
  void fill() { cap = 1; }
  void free_up() { cap = no_cap; }
};

/// An SQLite journal connection that takes the disk's cap before each append, on its own
/// thread (a connection is used by one thread at a time).
class capped_journal final : public persistence::forwarding_journal {
 public:
  capped_journal(std::unique_ptr<persistence::sqlite_journal> j, std::shared_ptr<pretend_disk> disk)
      : forwarding_journal(*j), owned_(std::move(j)), disk_(std::move(disk)) {}

  result<std::vector<persistence::stream_outcome>> append(
      const std::vector<persistence::stream_append>& batch) override {
    const std::int64_t want = disk_->cap.load();
    if (want != applied_) {
      if (auto set = owned_->set_max_page_count(want); !set) return std::move(set).err();
      applied_ = want;
    }
    return inner().append(batch);
  }

 private:
  std::unique_ptr<persistence::sqlite_journal> owned_;
  std::shared_ptr<pretend_disk> disk_;
  std::int64_t applied_ = 0;
};

class capped_journal_factory final : public persistence::journal_factory {
 public:
  capped_journal_factory(std::string path, std::shared_ptr<pretend_disk> disk)
      : disk_(std::move(disk)) {
    options_.path = std::move(path);
  }
  result<std::unique_ptr<persistence::journal>> open() override {
    auto j = persistence::sqlite_journal::open(options_);
    if (!j) return std::move(j).err();
    return std::unique_ptr<persistence::journal>{
        std::make_unique<capped_journal>(std::move(*j), disk_)};
  }

 private:
  persistence::sqlite_journal_options options_;
  std::shared_ptr<pretend_disk> disk_;
};

/// SQLite snapshot stores opened with the disk's cap: the snapshot writer opens a new one
/// after a failed save, which then sees the cap of the moment.
class capped_snapshots final : public persistence::snapshot_store_factory {
 public:
  capped_snapshots(std::string path, std::shared_ptr<pretend_disk> disk) : disk_(std::move(disk)) {
    options_.path = std::move(path);
  }
  result<std::unique_ptr<persistence::snapshot_store>> open() override {
    auto o = options_;
    o.max_page_count = disk_->cap.load();
    auto s = persistence::sqlite_snapshot_store::open(o);
    if (!s) return std::move(s).err();
    return std::unique_ptr<persistence::snapshot_store>{std::move(*s)};
  }

 private:
  persistence::sqlite_snapshot_store_options options_;
  std::shared_ptr<pretend_disk> disk_;
};

/// A read-model store whose connection takes the disk's cap at the start of each write
/// transaction, and that counts the writes the full disk refused.
class capped_read_store final : public persistence::projection_store {
 public:
  capped_read_store(std::unique_ptr<persistence::projection_store> inner,
                    std::shared_ptr<pretend_disk> disk)
      : inner_(std::move(inner)), disk_(std::move(disk)) {}
  result<std::unique_ptr<persistence::projection_transaction>> begin() override {
    auto tx = inner_->begin();
    if (!tx) return tx;
    const std::int64_t want = disk_->cap.load();
    if (want != applied_) {
      auto set = (*tx)->query("PRAGMA max_page_count = " + std::to_string(want));
      if (!set) return std::move(set).err();
      applied_ = want;
    }
    return tx;
  }
  result<std::vector<persistence::sql_row>> query(
      std::string_view sql, const std::vector<persistence::sql_value>& params) override {
    return inner_->query(sql, params);
  }
  result<persistence::checkpoint> load_checkpoint(std::string_view p) override {
    return inner_->load_checkpoint(p);
  }
  result<std::vector<dead_letter>> dead_letters(std::string_view p) override {
    return inner_->dead_letters(p);
  }

 private:
  std::unique_ptr<persistence::projection_store> inner_;
  std::shared_ptr<pretend_disk> disk_;
  std::int64_t applied_ = 0;
};

class capped_read_models final : public persistence::projection_store_factory {
 public:
  capped_read_models(std::string path, std::shared_ptr<pretend_disk> disk)
      : inner_(persistence::sqlite_projection_store_options{path}), disk_(std::move(disk)) {}
  result<std::unique_ptr<persistence::projection_store>> open() override {
    auto s = inner_.open();
    if (!s) return s;
    return std::unique_ptr<persistence::projection_store>{
        std::make_unique<capped_read_store>(std::move(*s), disk_)};
  }

 private:
  persistence::sqlite_projection_store_factory inner_;
  std::shared_ptr<pretend_disk> disk_;
};

std::shared_ptr<persistence::journal_factory> journal_at(const std::string& path) {
  persistence::sqlite_journal_options o;
  o.path = path;
  return std::make_shared<persistence::sqlite_journal_factory>(o);
}

std::shared_ptr<persistence::snapshot_store_factory> snapshots_at(const std::string& path) {
  persistence::sqlite_snapshot_store_options o;
  o.path = path;
  return std::make_shared<persistence::sqlite_snapshot_store_factory>(o);
}

runtime_config base_config(const strata::testing::temp_dir& dir) {
  runtime_config c;
  c.metrics.enabled = false;
  c.journal.sqlite.path = dir.file("strata.db");
  c.projections.path = dir.file("read.db");
  c.projections.retry_delay_ms = 10;
  c.aggregates.snapshot_every = 2;
  c.log.level = log_level::warning;
  return c;
}

std::unique_ptr<runtime> start(const runtime_config& c, runtime_overrides o) {
  auto rt = runtime::start(c, std::move(o));
  REQUIRE_MESSAGE(rt, (rt ? "" : to_string(rt.err())));
  REQUIRE((*rt)->register_aggregate<orders::order>());
  return std::move(*rt);
}

/// Every event of the file at `path`, read on a connection of its own.
std::vector<persistence::event_record> events_in(const std::string& path) {
  persistence::sqlite_journal_options o;
  o.path = path;
  auto j = persistence::sqlite_journal::open(o);
  REQUIRE(j);
  std::vector<persistence::event_record> all;
  for (;;) {
    auto batch = (*j)->read_all(all.empty() ? global_position{} : all.back().position, 500);
    REQUIRE(batch);
    if (batch->empty()) return all;
    all.insert(all.end(), batch->begin(), batch->end());
  }
}

/// Places order `id` and sends `items` more items to it (their skus `pad` characters longer),
/// expecting every command accepted; returns the position of the last.
global_position order_with_items(runtime& rt, const std::string& id, int items,
                                 std::size_t pad = 0) {
  auto placed = wait(rt.send<orders::order>(id, orders::place{"c-1", "EUR", {line("a", 1)}}));
  REQUIRE_MESSAGE(placed.is_accepted(), to_string(placed));
  global_position last = placed.position;
  for (int i = 0; i < items; ++i) {
    auto added = wait(rt.send<orders::order>(
        id, orders::add_item{line("s" + std::to_string(i) + std::string(pad, 's'), 1)}));
    REQUIRE_MESSAGE(added.is_accepted(), to_string(added));
    last = added.position;
  }
  return last;
}

std::vector<persistence::snapshot_record> snapshots_in(const std::string& path,
                                                       const stream_id& stream) {
  persistence::sqlite_snapshot_store_options o;
  o.path = path;
  auto s = persistence::sqlite_snapshot_store::open(o);
  REQUIRE(s);
  auto kept = (*s)->list(stream);
  REQUIRE(kept);
  return *kept;
}

std::int64_t count_rows(runtime& rt, const std::string& sql) {
  auto reader = rt.open_read_models();
  REQUIRE(reader);
  auto n = reader->query_one<std::int64_t>(sql);
  REQUIRE(n);
  REQUIRE(n->has_value());
  return **n;
}

const stream_id order_1{"Order", "o-1"};

}  // namespace

TEST_CASE(
    "a full journal disk answers unavailable saying so, keeps every accepted event once and "
    "nothing half-written, and the same runtime goes on once space returns") {
  strata::testing::temp_dir dir;
  auto disk = std::make_shared<pretend_disk>();
  auto c = base_config(dir);
  runtime_overrides o;
  o.journal = std::make_shared<capped_journal_factory>(c.journal.sqlite.path, disk);
  o.snapshots = snapshots_at(dir.file("snapshots.db"));
  auto rt = start(c, o);
  order_with_items(*rt, "o-1", 3);

  disk->fill();
  std::map<std::string, global_position> accepted;  // order id -> position of its one event
  std::set<std::string> refused;
  error full{errc::internal, "the disk never filled up"};
  for (int i = 0; i < 2000 && refused.empty(); ++i) {
    const std::string id = "big-" + std::to_string(i);
    auto r = wait(rt->send<orders::order>(id, orders::place{customer(i), "EUR", {line("a", 1)}}));
    if (r.is_accepted()) {
      accepted[id] = r.position;
    } else {
      REQUIRE_MESSAGE(r.status == command_status::unavailable, to_string(r));
      REQUIRE(r.failure);
      full = *r.failure;
      refused.insert(id);
    }
  }
  REQUIRE(refused.size() == 1);
  CHECK(full.code == errc::unavailable);
  CHECK(full.message.find("disk full") != std::string::npos);
  // Every accepted event is there once, in order and without a gap; the refused command left
  // nothing behind.
  const auto stored = events_in(c.journal.sqlite.path);
  std::map<std::string, int> per_order;
  for (std::size_t k = 0; k < stored.size(); ++k) {
    CHECK(stored[k].position.value == k + 1);
    ++per_order[stored[k].aggregate_id];
  }
  CHECK(per_order["o-1"] == 4);
  for (const auto& [id, position] : accepted) {
    CHECK(per_order[id] == 1);
    REQUIRE(position.value <= stored.size());
    CHECK(stored[position.value - 1].aggregate_id == id);
  }
  for (const auto& id : refused) CHECK(per_order.count(id) == 0);
  CHECK(stored.size() == 4 + accepted.size());

  disk->free_up();
  const std::string retried = *refused.begin();
  auto again =
      wait(rt->send<orders::order>(retried, orders::place{customer(9999), "EUR", {line("a", 1)}}));
  CHECK_MESSAGE(again.is_accepted(), to_string(again));
  auto added = wait(rt->send<orders::order>("o-1", orders::add_item{line("y", 2)}));
  REQUIRE_MESSAGE(added.is_accepted(), to_string(added));
  CHECK(added.at == version{5});
  auto view = wait(rt->current_state<orders::order>("o-1"));
  REQUIRE(view);
  CHECK(view->state.lines.size() == 5);
  auto chain = wait(rt->verify_audit_trail());
  REQUIRE(chain);
  CHECK_FALSE(chain->has_value());
}

TEST_CASE(
    "a full snapshot disk leaves commands accepted, and snapshots are saved again once space "
    "returns") {
  strata::testing::temp_dir dir;
  auto disk = std::make_shared<pretend_disk>();
  auto log = std::make_shared<strata::testing::capture_sink>();
  auto c = base_config(dir);
  const std::string snapshot_file = dir.file("snapshots.db");
  (void)snapshots_in(snapshot_file, order_1);  // creates the table while there is room
  disk->fill();
  runtime_overrides o;
  o.journal = journal_at(c.journal.sqlite.path);
  o.snapshots = std::make_shared<capped_snapshots>(snapshot_file, disk);
  o.log = log;
  auto rt = start(c, o);
  order_with_items(*rt, "o-1", 12, 5000);  // each snapshot needs pages of its own
  auto refused = log->first_of("snapshot_writer");
  REQUIRE(refused);
  CHECK(refused->message.find("disk full") != std::string::npos);
  CHECK(snapshots_in(snapshot_file, order_1).empty());

  disk->free_up();
  auto last = wait(rt->send<orders::order>("o-1", orders::add_item{line("z", 1)}));
  REQUIRE(last.is_accepted());
  CHECK(strata::testing::wait_until([&] {
    const auto kept = snapshots_in(snapshot_file, order_1);
    return !kept.empty() && kept.back().at == last.at;
  }));
  auto view = wait(rt->current_state<orders::order>("o-1"));
  REQUIRE(view);
  CHECK(view->at == version{14});
  CHECK(view->state.lines.size() == 14);
}

TEST_CASE(
    "a full read-model disk pauses the projection without parking events or losing its "
    "position, and it catches up once space returns") {
  strata::testing::temp_dir dir;
  auto disk = std::make_shared<pretend_disk>();
  auto c = base_config(dir);
  runtime_overrides o;
  o.read_models = std::make_shared<capped_read_models>(c.projections.path, disk);
  auto rt = start(c, o);
  const auto name = read_models::order_summary_projection::projection_name;
  REQUIRE(rt->add_projection(std::make_shared<read_models::order_summary_projection>()));
  auto first = wait(rt->send<orders::order>("o-0", orders::place{"c-0", "EUR", {line("a", 1)}}));
  REQUIRE(first.is_accepted());
  REQUIRE(rt->wait_for(name, first.position, std::chrono::seconds(20)));

  disk->fill();
  global_position last;
  constexpr int orders_placed = 40;
  for (int i = 1; i <= orders_placed; ++i) {
    auto r = wait(rt->send<orders::order>("o-" + std::to_string(i),
                                          orders::place{customer(i), "EUR", {line("a", 1)}}));
    REQUIRE_MESSAGE(r.is_accepted(), to_string(r));  // the journal has room
    last = r.position;
  }
  // The read model cannot hold forty long customer ids in the pages it has: the projection
  // stops short of the end and says why.
  std::optional<strata::projection_lag> lag;
  CHECK(strata::testing::wait_until([&] {
    auto now = rt->projection_lag(name);
    if (!now) return false;
    lag = *now;
    return lag->last_error && lag->last_error->message.find("disk full") != std::string::npos;
  }));
  REQUIRE(lag);
  CHECK(lag->position < last);
  CHECK(lag->position.value >= first.position.value);
  auto parked = rt->dead_letters(name);
  REQUIRE(parked);
  CHECK(parked->empty());

  disk->free_up();
  REQUIRE(rt->wait_for(name, last, std::chrono::seconds(20)));
  parked = rt->dead_letters(name);
  REQUIRE(parked);
  CHECK(parked->empty());
  CHECK(count_rows(*rt, "SELECT count(*) FROM order_summary") == orders_placed + 1);
  CHECK(count_rows(*rt, "SELECT count(*) FROM order_summary_lines") == orders_placed + 1);
}

// --- the fault-injecting snapshot store -----------------------------------------------------

namespace {

struct faulty_snapshots {
  strata::testing::temp_dir dir;
  runtime_config config = base_config(dir);
  std::shared_ptr<persistence::snapshot_fault_plan> plan =
      std::make_shared<persistence::snapshot_fault_plan>();
  std::string file = dir.file("snapshots.db");

  std::unique_ptr<runtime> start_runtime(std::shared_ptr<log_sink> log = nullptr) {
    runtime_overrides o;
    o.journal = journal_at(config.journal.sqlite.path);
    o.snapshots = std::make_shared<persistence::fault_injecting_snapshot_store_factory>(
        snapshots_at(file), plan);
    o.log = std::move(log);
    return start(config, std::move(o));
  }
};

void check_order_1(runtime& rt, std::uint64_t at) {
  auto view = wait(rt.current_state<orders::order>("o-1"));
  REQUIRE(view);
  CHECK(view->at == version{at});
  CHECK(view->state.lines.size() == at);
  CHECK(view->state.total_minor == static_cast<std::int64_t>(at) * 100);
}

}  // namespace

TEST_CASE("failing snapshot saves leave commands accepted and rehydration replays the events") {
  faulty_snapshots f;
  f.plan->fail_saves(error{errc::unavailable, "injected: snapshot store down"});
  {
    auto rt = f.start_runtime();
    order_with_items(*rt, "o-1", 9);
    CHECK(strata::testing::wait_until([&] { return f.plan->saves_failed() >= 1; }));
    rt->stop();
  }
  CHECK(snapshots_in(f.file, order_1).empty());
  f.plan->clear();
  auto rt = f.start_runtime();
  check_order_1(*rt, 10);
  auto next = wait(rt->send<orders::order>("o-1", orders::add_item{line("n", 1)}));
  REQUIRE(next.is_accepted());
  CHECK(next.at == version{11});
}

TEST_CASE(
    "a torn snapshot is found corrupted and ignored, and the aggregate rehydrates from its "
    "events to the right state") {
  faulty_snapshots f;
  f.plan->tear_saves(error{errc::unavailable, "injected: torn write"});
  {
    auto rt = f.start_runtime();
    order_with_items(*rt, "o-1", 9);
    CHECK(strata::testing::wait_until([&] { return f.plan->snapshots_torn() >= 1; }));
    rt->stop();
  }
  const auto kept = snapshots_in(f.file, order_1);
  REQUIRE_FALSE(kept.empty());  // torn, but stored
  f.plan->clear();
  auto log = std::make_shared<strata::testing::capture_sink>();
  auto rt = f.start_runtime(log);
  check_order_1(*rt, 10);
  auto ignored = log->first_of("rehydration");
  REQUIRE(ignored);
  CHECK(ignored->message.find("ignoring snapshot of Order-o-1") != std::string::npos);
  CHECK(ignored->message.find("decode") != std::string::npos);
}

TEST_CASE("a slow snapshot store does not hold commands back") {
  faulty_snapshots f;
  f.config.aggregates.snapshot_every = 1;
  auto rt = f.start_runtime();
  // Both aggregates live first: a load reads snapshots, which a held store would hold too.
  order_with_items(*rt, "o-1", 0);
  order_with_items(*rt, "o-2", 0);
  f.plan->hold();
  struct release_on_exit {
    std::shared_ptr<persistence::snapshot_fault_plan> plan;
    ~release_on_exit() { plan->release(); }
  } release{f.plan};
  auto added = wait(rt->send<orders::order>("o-1", orders::add_item{line("b", 1)}));
  REQUIRE(added.is_accepted());
  REQUIRE(f.plan->wait_held(1));
  // The snapshot writer waits inside the store; commands go on meanwhile.
  for (int i = 0; i < 30; ++i) {
    auto more =
        wait(rt->send<orders::order>("o-2", orders::add_item{line("s" + std::to_string(i), 1)}));
    REQUIRE_MESSAGE(more.is_accepted(), to_string(more));
    CHECK(more.at == version{static_cast<std::uint64_t>(i) + 2});
  }
  CHECK(f.plan->held() == 1);
  f.plan->release();
  auto last = wait(rt->send<orders::order>("o-2", orders::add_item{line("z", 1)}));
  REQUIRE(last.is_accepted());
  CHECK(strata::testing::wait_until([&] {
    const auto kept = snapshots_in(f.file, stream_id{"Order", "o-2"});
    return !kept.empty() && kept.back().at == last.at;
  }));
}

// --- the fault-injecting read-model store ---------------------------------------------------

namespace {

struct faulty_read_models {
  strata::testing::temp_dir dir;
  runtime_config config = base_config(dir);
  std::shared_ptr<persistence::projection_store_fault_plan> plan =
      std::make_shared<persistence::projection_store_fault_plan>();
  std::unique_ptr<runtime> rt;
  static constexpr std::string_view name = read_models::order_summary_projection::projection_name;

  faulty_read_models() {
    runtime_overrides o;
    o.read_models = std::make_shared<persistence::fault_injecting_projection_store_factory>(
        std::make_shared<persistence::sqlite_projection_store_factory>(
            persistence::sqlite_projection_store_options{config.projections.path}),
        plan);
    rt = start(config, std::move(o));
    REQUIRE(rt->add_projection(std::make_shared<read_models::order_summary_projection>()));
  }

  /// Places `n` orders o-1..o-n with two lines each; returns the last position.
  global_position place(int n) {
    global_position last;
    for (int i = 1; i <= n; ++i) {
      auto r = wait(rt->send<orders::order>(
          "o-" + std::to_string(i), orders::place{"c-1", "EUR", {line("a", 1), line("b", 2)}}));
      REQUIRE_MESSAGE(r.is_accepted(), to_string(r));
      last = r.position;
    }
    return last;
  }

  /// The read model after a healed fault: caught up, nothing parked, each row once.
  void check_caught_up(global_position last, int n) {
    REQUIRE(rt->wait_for(name, last, std::chrono::seconds(20)));
    auto parked = rt->dead_letters(name);
    REQUIRE(parked);
    CHECK(parked->empty());
    CHECK(count_rows(*rt, "SELECT count(*) FROM order_summary") == n);
    CHECK(count_rows(*rt, "SELECT count(*) FROM order_summary_lines") == 2 * n);
    CHECK(count_rows(*rt, "SELECT sum(total_minor) FROM order_summary") == 300 * n);
  }
};

}  // namespace

TEST_CASE(
    "failing read-model writes make the projection retry, and once healed it catches up with "
    "nothing parked and no row twice") {
  faulty_read_models f;
  f.plan->fail_writes(error{errc::unavailable, "injected: read-model database down"});
  const auto last = f.place(20);
  CHECK(strata::testing::wait_until([&] { return f.plan->writes_failed() >= 3; }));
  auto lag = f.rt->projection_lag(f.name);
  REQUIRE(lag);
  CHECK(lag->position.value == 0);
  f.plan->clear();
  f.check_caught_up(last, 20);
}

TEST_CASE(
    "read-model commits whose reply is lost are not applied twice: the projection reads its "
    "checkpoint back") {
  faulty_read_models f;
  f.plan->lose_commit_replies(error{errc::unavailable, "injected: connection lost at commit"});
  const auto last = f.place(10);
  CHECK(strata::testing::wait_until([&] { return f.plan->commits_failed() >= 3; }));
  f.plan->clear();
  f.check_caught_up(last, 10);
}

TEST_CASE("failing read-model commits are rolled back and retried until the store heals") {
  faulty_read_models f;
  f.plan->fail_commits(error{errc::unavailable, "injected: commit failed"});
  const auto last = f.place(10);
  CHECK(strata::testing::wait_until([&] { return f.plan->commits_failed() >= 3; }));
  CHECK(count_rows(*f.rt, "SELECT count(*) FROM order_summary") == 0);
  f.plan->clear();
  f.check_caught_up(last, 10);
}

TEST_CASE("a slow read-model store delays the projection, not the commands") {
  faulty_read_models f;
  f.place(1);
  REQUIRE(f.rt->wait_for(f.name, global_position{1}, std::chrono::seconds(20)));
  f.plan->hold();
  struct release_on_exit {
    std::shared_ptr<persistence::projection_store_fault_plan> plan;
    ~release_on_exit() { plan->release(); }
  } release{f.plan};
  auto r = wait(f.rt->send<orders::order>("o-2", orders::place{"c-1", "EUR", {line("a", 1)}}));
  REQUIRE(r.is_accepted());
  REQUIRE(f.plan->wait_held(1));
  global_position last = r.position;
  for (int i = 3; i <= 10; ++i) {
    auto more = wait(f.rt->send<orders::order>(
        "o-" + std::to_string(i), orders::place{"c-1", "EUR", {line("a", 1), line("b", 2)}}));
    REQUIRE(more.is_accepted());
    last = more.position;
  }
  CHECK(f.plan->held() == 1);
  f.plan->release();
  REQUIRE(f.rt->wait_for(f.name, last, std::chrono::seconds(20)));
  CHECK(count_rows(*f.rt, "SELECT count(*) FROM order_summary") == 10);
}
