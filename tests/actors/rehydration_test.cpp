// Rehydration from snapshots plus the tail, for every aggregate type, without actors: the
// result must equal a full replay, and only the tail may be read.

#include <doctest/doctest.h>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "strata/actors/detail/event_page.hpp"
#include "strata/actors/rehydration.hpp"
#include "strata/domain/inventory/inventory_item.hpp"
#include "strata/domain/orders/order.hpp"
#include "strata/domain/payments/payment.hpp"
#include "strata/domain/users/user_activity.hpp"
#include "strata/persistence/forwarding_journal.hpp"
#include "strata/persistence/memory_journal.hpp"
#include "strata/persistence/memory_snapshot_store.hpp"
#include "tests/support/delegating_model.hpp"

using namespace strata;

namespace {

/// Counts the records read through it.
class counting_journal final : public persistence::journal {
 public:
  explicit counting_journal(std::unique_ptr<persistence::journal> inner)
      : inner_(std::move(inner)) {}
  result<std::vector<persistence::stream_outcome>> append(
      const std::vector<persistence::stream_append>& b) override {
    return inner_->append(b);
  }
  result<std::vector<persistence::event_record>> read_stream(
      const stream_id& s, const persistence::stream_range& r) override {
    auto out = inner_->read_stream(s, r);
    if (out) read += out->size();
    return out;
  }
  result<std::vector<persistence::event_record>> read_all(global_position a,
                                                          std::size_t l) override {
    return inner_->read_all(a, l);
  }
  result<version> head(const stream_id& s) override { return inner_->head(s); }
  result<global_position> last_position() override { return inner_->last_position(); }
  const std::string& id() const noexcept override { return inner_->id(); }
  std::size_t read = 0;

 private:
  std::unique_ptr<persistence::journal> inner_;
};

/// Reads through to another journal and records how it is used: the threads that read, and
/// whether two reads ever ran at once. It can fail every read from a version on, or leave one
/// version out of what it returns (a damaged journal).
class watching_journal final : public persistence::forwarding_journal {
 public:
  explicit watching_journal(std::unique_ptr<persistence::journal> inner)
      : forwarding_journal(*inner), owned_(std::move(inner)) {}
  result<std::vector<persistence::event_record>> read_stream(
      const stream_id& s, const persistence::stream_range& r) override {
    if (inside_.fetch_add(1) != 0) overlapped = true;
    {
      std::lock_guard<std::mutex> lock{mutex_};
      readers.insert(std::this_thread::get_id());
      fields.insert(r.fields);
    }
    auto out = read(s, r);
    inside_.fetch_sub(1);
    return out;
  }
  // Visits what read_stream returns (the journal's default), so every read is watched.
  result<std::size_t> for_each_in_stream(const stream_id& s, const persistence::stream_range& r,
                                         const persistence::event_visitor& visit) override {
    return journal::for_each_in_stream(s, r, visit);
  }

  std::optional<version> fail_from;  ///< Reads from this version on fail (`unavailable`).
  std::optional<version> drop;       ///< This version is left out of every read.
  std::atomic<bool> overlapped{false};
  std::set<std::thread::id> readers;
  std::set<persistence::event_fields> fields;  ///< What the reads asked for.

 private:
  result<std::vector<persistence::event_record>> read(const stream_id& s,
                                                      const persistence::stream_range& r) {
    if (fail_from && r.from >= *fail_from)
      return error{errc::unavailable, "injected: the journal is gone"};
    auto out = inner().read_stream(s, r);
    if (out && drop)
      out->erase(std::remove_if(out->begin(), out->end(),
                                [&](const auto& e) { return e.stream_version == *drop; }),
                 out->end());
    return out;
  }

  std::unique_ptr<persistence::journal> owned_;
  std::atomic<int> inside_{0};
  std::mutex mutex_;
};

/// The Order model seen as a model that folds whole records (`aggregate_model`'s defaults
/// for `apply_view` and `fields_read`); counts the records it saw with their event id.
class record_model final : public testing::delegating_model {
 public:
  record_model() : delegating_model(actors::model_of<orders::order>()) {}
  result<void> apply(std::any& s, const persistence::event_record& r) const override {
    if (!r.event_id.empty()) ++with_event_id;
    return delegating_model::apply(s, r);
  }

  mutable std::size_t with_event_id = 0;
};

// n events of each aggregate type, as its decider would have produced them.
std::vector<orders::event> history(orders::order*, std::size_t n) {
  std::vector<orders::event> out;
  out.push_back(orders::placed{"c-1", "EUR", {}, money{0, "EUR"}});
  for (std::size_t i = 1; i < n; ++i)
    out.push_back(
        orders::item_added{orders::line{"sku-" + std::to_string(i % 17), 1,
                                        money{100 + static_cast<std::int64_t>(i % 17), "EUR"}}});
  return out;
}
std::vector<payments::event> history(payments::payment*, std::size_t n) {
  std::vector<payments::event> out;
  out.push_back(payments::authorized{"o-1", money{1'000'000'000, "EUR"}, "card"});
  for (std::size_t i = 1; i < n; ++i)
    out.push_back(payments::captured{"cap-" + std::to_string(i), money{3, "EUR"}});
  return out;
}
std::vector<inventory::event> history(inventory::inventory_item*, std::size_t n) {
  std::vector<inventory::event> out;
  out.push_back(inventory::received{1'000'000});
  for (std::size_t i = 1; i < n; ++i) {
    const std::string order = "o-" + std::to_string(i / 2);
    if (i % 2 == 1)
      out.push_back(inventory::reserved{order, 2});
    else
      out.push_back(inventory::released{order, 2});
  }
  return out;
}
std::vector<users::event> history(users::user_activity*, std::size_t n) {
  std::vector<users::event> out;
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(users::action_recorded{i + 1,
                                         users::action_kind::viewed,
                                         "page-" + std::to_string(i % 31),
                                         {},
                                         static_cast<std::int64_t>(1'000'000 * i)});
  return out;
}

template <class A>
struct stored_history {
  std::shared_ptr<persistence::memory_journal_factory> journal =
      std::make_shared<persistence::memory_journal_factory>();
  persistence::memory_snapshot_store_factory snapshots{};
  stream_id stream{A::type, "x-1"};
  std::vector<typename A::event> events;

  explicit stored_history(std::size_t n) {
    events = history(static_cast<A*>(nullptr), n);
    auto j = journal->open();
    REQUIRE(j);
    std::uint64_t at = 0;
    for (std::size_t start = 0; start < events.size(); start += 1000) {
      persistence::stream_append a;
      a.stream = stream;
      a.expected = version{at};
      for (std::size_t i = start; i < std::min(events.size(), start + 1000); ++i) {
        auto enc = A::events().encode(events[i]);
        persistence::new_event e;
        e.event_id = "e-" + std::to_string(i);
        e.event_type = std::string{enc.type};
        e.schema_version = enc.schema_version;
        e.time = from_unix_micros(static_cast<std::int64_t>(i) * 1000);
        e.data = std::move(enc.data);
        a.events.push_back(std::move(e));
      }
      at += a.events.size();
      auto out = (*j)->append({a});
      REQUIRE(out);
      REQUIRE((*out)[0]);
    }
  }

  std::string hash_at(version v) {
    auto j = journal->open();
    persistence::stream_range r;
    r.from = v;
    r.to = v;
    auto rec = (*j)->read_stream(stream, r);
    REQUIRE(rec);
    REQUIRE(rec->size() == 1);
    return (*rec)[0].hash;
  }

  void snapshot(version at, std::uint32_t state_version = A::state_version, std::string hash = "") {
    std::vector<typename A::event> prefix(events.begin(),
                                          events.begin() + static_cast<std::ptrdiff_t>(at.value));
    auto state = fold<A>(A::initial(), prefix);
    persistence::snapshot_record s;
    s.stream = stream;
    s.at = at;
    s.state_version = state_version;
    s.last_event_hash = hash.empty() ? hash_at(at) : hash;
    s.state = actors::encode_snapshot_body(json::to_json(state), {});
    auto store = snapshots.open();
    REQUIRE(store);
    REQUIRE((*store)->save(s));
  }

  result<actors::rehydrated> rebuild(counting_journal& j, bool with_snapshots,
                                     actors::rehydration_target t = {},
                                     metrics::aggregate_metrics* m = nullptr) {
    auto store = snapshots.open();
    REQUIRE(store);
    auto model = actors::model_of<A>();
    return actors::rehydrate(j, with_snapshots ? store->get() : nullptr, *model, stream, t, 32, m);
  }

  watching_journal watching() {
    auto j = journal->open();
    REQUIRE(j);
    return watching_journal{std::move(*j)};
  }

  result<actors::rehydrated> rebuild(persistence::journal& j, actors::rehydration_target t = {}) {
    auto model = actors::model_of<A>();
    return actors::rehydrate(j, nullptr, *model, stream, t, 32, nullptr);
  }

  std::string state_after(std::uint64_t n) const {
    std::vector<typename A::event> prefix(events.begin(),
                                          events.begin() + static_cast<std::ptrdiff_t>(n));
    return json::to_json(fold<A>(A::initial(), prefix));
  }

  counting_journal counting() {
    auto j = journal->open();
    REQUIRE(j);
    return counting_journal{std::move(*j)};
  }
};

template <class A>
std::string state_json(const actors::rehydrated& r) {
  return json::to_json(std::any_cast<const typename A::state&>(r.state));
}

}  // namespace

TEST_CASE_TEMPLATE(
    "with a snapshot, rehydrating 10,000 events reads only the tail and equals a full replay", A,
    orders::order, payments::payment, inventory::inventory_item, users::user_activity) {
  stored_history<A> h{10'000};
  h.snapshot(version{9'900});
  auto full_journal = h.counting();
  auto full = h.rebuild(full_journal, false);
  REQUIRE_MESSAGE(full, (full ? "" : to_string(full.err())));
  CHECK(full->at == version{10'000});
  CHECK(full->events_replayed == 10'000);

  auto tail_journal = h.counting();
  auto tail = h.rebuild(tail_journal, true);
  REQUIRE(tail);
  CHECK(tail->snapshot == version{9'900});
  CHECK(tail->at == version{10'000});
  CHECK(tail->events_replayed == 100);
  CHECK(tail_journal.read <= 101);  // the snapshot's own event (its hash check) and the tail
  CHECK(state_json<A>(*tail) == state_json<A>(*full));
  CHECK(state_json<A>(*full) == json::to_json(fold<A>(A::initial(), h.events)));
}

TEST_CASE("a temporal query starts from the newest snapshot at or below its target") {
  stored_history<orders::order> h{1'000};
  h.snapshot(version{300});
  h.snapshot(version{600});
  h.snapshot(version{900});
  for (std::uint64_t target : {0u, 1u, 299u, 300u, 301u, 650u, 1000u, 5000u}) {
    CAPTURE(target);
    auto j = h.counting();
    actors::rehydration_target t;
    t.to = version{target};
    auto r = h.rebuild(j, true, t);
    REQUIRE(r);
    const std::uint64_t expected_at = std::min<std::uint64_t>(target, 1000);
    CHECK(r->at == version{expected_at});
    std::vector<orders::event> prefix(h.events.begin(),
                                      h.events.begin() + static_cast<std::ptrdiff_t>(expected_at));
    CHECK(state_json<orders::order>(*r) ==
          json::to_json(fold<orders::order>(orders::order::initial(), prefix)));
    const std::uint64_t snap = expected_at >= 900   ? 900
                               : expected_at >= 600 ? 600
                               : expected_at >= 300 ? 300
                                                    : 0;
    CHECK(r->snapshot.value_or(version{0}) == version{snap});
    CHECK(r->events_replayed == expected_at - snap);
  }
}

TEST_CASE("a query as of a time stops at the last event at or before it") {
  stored_history<orders::order> h{500};  // event i has time i ms
  h.snapshot(version{200});
  struct probe {
    std::int64_t micros;
    std::uint64_t at;
  };
  for (auto p : {probe{-1, 0}, probe{0, 1}, probe{999, 1}, probe{1000, 2}, probe{199'000, 200},
                 probe{250'500, 251}, probe{499'000, 500}, probe{10'000'000, 500}}) {
    CAPTURE(p.micros);
    auto j = h.counting();
    actors::rehydration_target t;
    t.until = from_unix_micros(p.micros);
    auto r = h.rebuild(j, true, t);
    REQUIRE(r);
    CHECK(r->at == version{p.at});
    if (p.at > 0) CHECK(r->time == from_unix_micros(static_cast<std::int64_t>(p.at - 1) * 1000));
  }
}

TEST_CASE(
    "a snapshot of another state version is ignored, counted, and replaced by a full replay") {
  stored_history<orders::order> h{400};
  h.snapshot(version{300}, orders::order::state_version + 1);
  auto reg = metrics::registry::create();
  auto& m = reg->for_aggregate("Order");
  auto j = h.counting();
  auto r = h.rebuild(j, true, {}, &m);
  REQUIRE(r);
  CHECK_FALSE(r->snapshot);
  CHECK(r->events_replayed == 400);
  CHECK(
      reg->scrape_text().find(
          "strata_snapshots_ignored_total{aggregate_type=\"Order\",reason=\"state_version\"} 1") !=
      std::string::npos);
}

TEST_CASE("a snapshot whose last-event hash does not match the journal is ignored") {
  stored_history<orders::order> h{400};
  h.snapshot(version{200});                                                      // valid, older
  h.snapshot(version{300}, orders::order::state_version, std::string(64, 'f'));  // forged
  auto reg = metrics::registry::create();
  auto& m = reg->for_aggregate("Order");
  auto j = h.counting();
  auto r = h.rebuild(j, true, {}, &m);
  REQUIRE(r);
  CHECK(r->snapshot == version{200});  // falls back to the older valid one
  CHECK(r->events_replayed == 200);
  CHECK(reg->scrape_text().find("reason=\"hash_mismatch\"} 1") != std::string::npos);
}

TEST_CASE("a snapshot body that does not decode is ignored") {
  stored_history<orders::order> h{50};
  persistence::snapshot_record s;
  s.stream = h.stream;
  s.at = version{40};
  s.state_version = orders::order::state_version;
  s.last_event_hash = h.hash_at(version{40});
  s.state = R"({"state":{"current":"no-such-status"},"recent":[]})";
  auto store = h.snapshots.open();
  REQUIRE((*store)->save(s));
  auto j = h.counting();
  auto r = h.rebuild(j, true);
  REQUIRE(r);
  CHECK_FALSE(r->snapshot);
  CHECK(r->at == version{50});
}

TEST_CASE("the snapshot body round-trips the idempotency window") {
  std::vector<actors::remembered_command> recent{
      {actors::hash_command_id("a"), version{1}, version{2}, global_position{7}},
      {18'446'744'073'709'551'615ULL, version{3}, version{3}, global_position{9}}};
  auto text = actors::encode_snapshot_body(R"({"x":1})", recent);
  auto back = actors::decode_snapshot_body(text);
  REQUIRE(back);
  CHECK(back->state_json == R"({"x":1})");
  REQUIRE(back->recent.size() == 2);
  CHECK(back->recent[1].id_hash == 18'446'744'073'709'551'615ULL);
  CHECK(back->recent[0].last == version{2});
  CHECK_FALSE(actors::decode_snapshot_body("[]"));
  CHECK_FALSE(actors::decode_snapshot_body(R"({"state":{},"recent":[[1,2]]})"));
}

// Found by fuzzing: Boost.JSON 1.81 reads an out-of-range literal as infinity and writes it
// back as `Infinity`, which is not JSON, so the body would not read back after a save.
TEST_CASE("a snapshot body whose state holds a number out of range is refused as corrupted") {
  for (const char* number : {"5888888888E8888888", "1e400", "-1e400"}) {
    const std::string text =
        std::string{R"({"state":{"total":)"} + number + R"(},"recent":[[1,1,1,1]]})";
    auto body = actors::decode_snapshot_body(text);
    REQUIRE_FALSE(body);
    CHECK(body.err().code == errc::corrupted);
    CHECK_MESSAGE(body.err().message.find("out of range") != std::string::npos, body.err().message);
  }
  auto in_range = actors::decode_snapshot_body(R"({"state":{"total":1.5e300},"recent":[]})");
  REQUIRE(in_range);
  CHECK(boost::json::parse(in_range->state_json).at("total").as_double() == 1.5e300);
}

TEST_CASE("an event page hands back every field of the views copied into it, and is reusable") {
  std::vector<persistence::event_record> records;
  for (std::uint64_t i = 1; i <= 3; ++i) {
    persistence::event_record r;
    r.position = global_position{100 + i};
    r.event_id = "id-" + std::to_string(i);
    r.event_type = "Type" + std::to_string(i);
    r.schema_version = static_cast<std::uint32_t>(i + 1);
    r.stream_version = version{i};
    r.time = from_unix_micros(static_cast<std::int64_t>(i) * 7);
    r.user_id = "user-" + std::to_string(i);
    r.command_id = i == 2 ? "" : "cmd-" + std::to_string(i);
    r.correlation_id = "corr-" + std::to_string(i);
    r.causation_id = "cause-" + std::to_string(i);
    r.data = "{\"n\":" + std::string(200 * i, '7') + "}";  // the buffer grows while it fills
    r.hash = std::string(64, static_cast<char>('a' + i));
    records.push_back(r);
  }
  actors::detail::event_page page;
  for (int round = 0; round < 2; ++round) {
    CAPTURE(round);
    page.clear();
    CHECK(page.empty());
    for (const auto& r : records) page.add(persistence::event_view::of(r));
    REQUIRE(page.size() == records.size());
    CHECK(page.last_version() == version{3});
    for (std::size_t i = 0; i < records.size(); ++i) {
      const auto back = page.view(i).to_record("Order", "o-1");
      const auto& e = records[i];
      CHECK(back.position == e.position);
      CHECK(back.event_id == e.event_id);
      CHECK(back.event_type == e.event_type);
      CHECK(back.schema_version == e.schema_version);
      CHECK(back.aggregate_type == "Order");
      CHECK(back.aggregate_id == "o-1");
      CHECK(back.stream_version == e.stream_version);
      CHECK(back.time == e.time);
      CHECK(back.user_id == e.user_id);
      CHECK(back.command_id == e.command_id);
      CHECK(back.correlation_id == e.correlation_id);
      CHECK(back.causation_id == e.causation_id);
      CHECK(back.data == e.data);
      CHECK(back.hash == e.hash);
    }
  }
}

TEST_CASE("a stream longer than a page is read ahead on a second thread, one read at a time") {
  stored_history<orders::order> h{10'000};  // pages of 4,096: the second and third read ahead
  auto j = h.watching();
  auto r = h.rebuild(j);
  REQUIRE_MESSAGE(r, (r ? "" : to_string(r.err())));
  CHECK(r->at == version{10'000});
  CHECK(r->events_replayed == 10'000);
  CHECK(r->time == from_unix_micros(9'999 * 1000));
  CHECK(state_json<orders::order>(*r) == h.state_after(10'000));
  CHECK_FALSE(j.overlapped.load());
  CHECK(j.readers.size() >= 2);
  CHECK(j.readers.count(std::this_thread::get_id()) == 1);  // the first page, on the caller
}

TEST_CASE("rehydration asks the journal for the fields its model reads, on every page") {
  stored_history<orders::order> h{10'000};  // three pages: the first and two read ahead
  auto j = h.watching();
  auto r = h.rebuild(j);
  REQUIRE_MESSAGE(r, (r ? "" : to_string(r.err())));
  CHECK(state_json<orders::order>(*r) == h.state_after(10'000));
  CHECK(j.fields == std::set<persistence::event_fields>{persistence::event_fields::fold});

  // A model that folds whole records gets every field of every event.
  auto k = h.watching();
  record_model m;
  auto whole = actors::rehydrate(k, nullptr, m, h.stream, {}, 32, nullptr);
  REQUIRE_MESSAGE(whole, (whole ? "" : to_string(whole.err())));
  CHECK(whole->at == version{10'000});
  CHECK(state_json<orders::order>(*whole) == h.state_after(10'000));
  CHECK(k.fields == std::set<persistence::event_fields>{persistence::event_fields::all});
  CHECK(m.with_event_id == 10'000);
}

TEST_CASE("targets inside a page read ahead stop there, at a version or at a time") {
  stored_history<orders::order> h{10'000};
  for (std::uint64_t target : {4'096u, 4'097u, 8'192u, 8'193u, 9'000u}) {
    CAPTURE(target);
    auto j = h.watching();
    actors::rehydration_target by_version;
    by_version.to = version{target};
    auto r = h.rebuild(j, by_version);
    REQUIRE(r);
    CHECK(r->at == version{target});
    CHECK(state_json<orders::order>(*r) == h.state_after(target));

    auto k = h.watching();
    actors::rehydration_target by_time;  // event i (version i + 1) has time i ms
    by_time.until = from_unix_micros(static_cast<std::int64_t>(target - 1) * 1000 + 500);
    auto t = h.rebuild(k, by_time);
    REQUIRE(t);
    CHECK(t->at == version{target});
    CHECK(state_json<orders::order>(*t) == h.state_after(target));
    CHECK_FALSE(j.overlapped.load());
    CHECK_FALSE(k.overlapped.load());
  }
}

TEST_CASE("a read ahead that fails, or finds a version missing, fails the rehydration") {
  stored_history<orders::order> h{10'000};
  {
    auto j = h.watching();
    j.fail_from = version{8'193};  // the third page
    auto r = h.rebuild(j);
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::unavailable);
    CHECK(r.err().message.find("injected") != std::string::npos);
  }
  {
    auto j = h.watching();
    j.drop = version{6'000};  // inside the second page
    auto r = h.rebuild(j);
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::corrupted);
    CHECK_MESSAGE(r.err().message.find("expected v6000, read v6001") != std::string::npos,
                  r.err().message);
    CHECK_FALSE(j.overlapped.load());
  }
}
