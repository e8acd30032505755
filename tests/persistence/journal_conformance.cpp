// The journal contract, written once and run against every backend in backends.hpp.

#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "strata/persistence/audit_chain.hpp"
#include "tests/persistence/backends.hpp"

namespace strata::persistence::testing {
namespace {

#define STRATA_REQUIRE_BACKEND(b)                                         \
  do {                                                                    \
    if (!(b).available()) {                                               \
      MESSAGE((b).name << " backend skipped: " << (b).why_unavailable()); \
      return;                                                             \
    }                                                                     \
  } while (false)

template <class B>
std::unique_ptr<journal> must_open(B& backend) {
  auto j = backend.open();
  if (!j) FAIL(backend.name << ": open failed: " << describe(j.err()));
  return std::move(*j);
}

const stream_id order_1{"Order", "1"};
const stream_id order_2{"Order", "2"};
const stream_id payment_1{"Payment", "1"};

TEST_CASE_TEMPLATE_DEFINE("an appended event reads back with every field intact", B, round_trip) {
  B backend;
  STRATA_REQUIRE_BACKEND(backend);
  auto j = must_open(backend);
  new_event e;
  e.event_id = "0190a5c8-0000-7000-8000-000000000001";
  e.event_type = "OrderPlaced";
  e.schema_version = 3;
  e.time = test_time(42);
  e.user_id = "user-7";
  e.command_id = "cmd-9";
  e.correlation_id = "corr-5";
  e.causation_id = "cause-4";
  e.data = R"({"customer_id":"c-1","total":{"amount":1250,"currency":"EUR"}})";

  auto written = append_one(*j, order_1, 0, {e});
  REQUIRE(written.has_value());
  REQUIRE(written->size() == 1);

  auto check = [&](const event_record& r) {
    CHECK(r.position == global_position{1});
    CHECK(r.event_id == e.event_id);
    CHECK(r.event_type == e.event_type);
    CHECK(r.schema_version == 3);
    CHECK(r.aggregate_type == "Order");
    CHECK(r.aggregate_id == "1");
    CHECK(r.stream_version == version{1});
    CHECK(to_iso8601(r.time) == to_iso8601(e.time));
    CHECK(r.user_id == e.user_id);
    CHECK(r.command_id == e.command_id);
    CHECK(r.correlation_id == e.correlation_id);
    CHECK(r.causation_id == e.causation_id);
    CHECK(r.data == e.data);
    CHECK(r.hash.size() == 64);
    CHECK(r.hash == chain_hash("", r));
  };
  check(written->front());

  auto by_stream = j->read_stream(order_1, {});
  REQUIRE(by_stream.has_value());
  REQUIRE(by_stream->size() == 1);
  check(by_stream->front());
  CHECK(by_stream->front().hash == written->front().hash);

  auto all = j->read_all(global_position{0}, 10);
  REQUIRE(all.has_value());
  REQUIRE(all->size() == 1);
  check(all->front());
}

TEST_CASE_TEMPLATE_DEFINE("a new stream appended with an expected version above zero conflicts", B,
                          new_stream_conflict) {
  B backend;
  STRATA_REQUIRE_BACKEND(backend);
  auto j = must_open(backend);
  auto out = append_one(*j, order_1, 2, {make_event("placed")});
  REQUIRE_FALSE(out.has_value());
  CHECK(out.err().code == errc::conflict);
  CHECK(out.err().message.find("Order-1") != std::string::npos);
  CHECK(j->head(order_1)->value == 0);
  CHECK(j->last_position()->value == 0);
}

TEST_CASE_TEMPLATE_DEFINE("an append on a stale expected version conflicts and names both versions",
                          B, stale_conflict) {
  B backend;
  STRATA_REQUIRE_BACKEND(backend);
  auto j = must_open(backend);
  REQUIRE(append_one(*j, order_1, 0, {make_event("placed"), make_event("confirmed")}).has_value());
  auto out = append_one(*j, order_1, 1, {make_event("shipped")});
  REQUIRE_FALSE(out.has_value());
  CHECK(out.err().code == errc::conflict);
  CHECK(out.err().message.find("Order-1") != std::string::npos);
  CHECK(out.err().message.find("expected version 1") != std::string::npos);
  CHECK(out.err().message.find("head is 2") != std::string::npos);
  CHECK(render(*j->read_stream(order_1, {})) == "placed@1 confirmed@2");
}

TEST_CASE_TEMPLATE_DEFINE("a stale writer on a second instance gets a conflict", B,
                          stale_second_instance) {
  B backend;
  STRATA_REQUIRE_BACKEND(backend);
  auto first = must_open(backend);
  auto second = must_open(backend);
  REQUIRE(first->head(order_1)->value == 0);
  REQUIRE(second->head(order_1)->value == 0);
  REQUIRE(append_one(*first, order_1, 0, {make_event("placed")}).has_value());
  auto out = append_one(*second, order_1, 0, {make_event("placed")});
  REQUIRE_FALSE(out.has_value());
  CHECK(out.err().code == errc::conflict);
  CHECK(second->head(order_1)->value == 1);
  CHECK(render(*second->read_stream(order_1, {})) == "placed@1");
}

TEST_CASE_TEMPLATE_DEFINE(
    "in one batch a conflicting stream writes nothing while the other streams commit", B,
    batch_atomicity) {
  B backend;
  STRATA_REQUIRE_BACKEND(backend);
  auto j = must_open(backend);
  REQUIRE(append_one(*j, order_2, 0, {make_event("placed")}).has_value());

  auto out = j->append({part(order_1, 0, {make_event("placed"), make_event("confirmed")}),
                        part(order_2, 0, {make_event("placed"), make_event("cancelled")}),
                        part(payment_1, 0, {make_event("authorized")})});
  REQUIRE(out.has_value());
  REQUIRE(out->size() == 3);
  REQUIRE((*out)[0].has_value());
  REQUIRE_FALSE((*out)[1].has_value());
  CHECK((*out)[1].err().code == errc::conflict);
  REQUIRE((*out)[2].has_value());

  CHECK(render(*j->read_stream(order_1, {})) == "placed@1 confirmed@2");
  CHECK(render(*j->read_stream(order_2, {})) == "placed@1");
  CHECK(render(*j->read_stream(payment_1, {})) == "authorized@1");
  CHECK((*out)[0]->at(0).position.value == 2);
  CHECK((*out)[0]->at(1).position.value == 3);
  CHECK((*out)[2]->at(0).position.value == 4);
  CHECK(j->last_position()->value == 4);
  CHECK(j->head(order_2)->value == 1);
}

TEST_CASE_TEMPLATE_DEFINE("a batch that names a stream twice is refused and writes nothing", B,
                          invalid_batch) {
  B backend;
  STRATA_REQUIRE_BACKEND(backend);
  auto j = must_open(backend);
  auto twice = j->append(
      {part(order_1, 0, {make_event("placed")}), part(order_1, 1, {make_event("confirmed")})});
  REQUIRE_FALSE(twice.has_value());
  CHECK(twice.err().code == errc::invalid_argument);
  auto empty = j->append({part(order_2, 0, {})});
  REQUIRE_FALSE(empty.has_value());
  CHECK(empty.err().code == errc::invalid_argument);
  CHECK(j->last_position()->value == 0);
}

TEST_CASE_TEMPLATE_DEFINE("read_stream honours from, to, until and limit", B, read_ranges) {
  B backend;
  STRATA_REQUIRE_BACKEND(backend);
  auto j = must_open(backend);
  std::vector<new_event> events;
  for (int i = 1; i <= 10; ++i) {
    events.push_back(make_event("e" + std::to_string(i), "{}", test_time(i * 60)));
  }
  REQUIRE(append_one(*j, order_1, 0, events).has_value());
  REQUIRE(append_one(*j, order_2, 0, {make_event("other")}).has_value());

  auto read = [&](stream_range r) {
    auto out = j->read_stream(order_1, r);
    REQUIRE(out.has_value());
    return render(*out);
  };
  stream_range r;
  CHECK(read(r) == "e1@1 e2@2 e3@3 e4@4 e5@5 e6@6 e7@7 e8@8 e9@9 e10@10");
  r.from = version{8};
  CHECK(read(r) == "e8@8 e9@9 e10@10");
  r = {};
  r.from = version{3};
  r.to = version{5};
  CHECK(read(r) == "e3@3 e4@4 e5@5");
  r = {};
  r.until = test_time(4 * 60);
  CHECK(read(r) == "e1@1 e2@2 e3@3 e4@4");
  r.until = test_time(4 * 60) - std::chrono::microseconds{1};
  CHECK(read(r) == "e1@1 e2@2 e3@3");
  r = {};
  r.from = version{2};
  r.limit = 2;
  CHECK(read(r) == "e2@2 e3@3");
  r.limit = 0;
  CHECK(read(r).empty());
  r = {};
  r.from = version{11};
  CHECK(read(r).empty());
  auto unknown = j->read_stream(stream_id{"Order", "nope"}, {});
  REQUIRE(unknown.has_value());
  CHECK(unknown->empty());
}

TEST_CASE_TEMPLATE_DEFINE("read_all returns every event in commit order without gaps", B,
                          read_all_order) {
  B backend;
  STRATA_REQUIRE_BACKEND(backend);
  auto j = must_open(backend);
  std::map<std::string, std::uint64_t> heads;
  std::vector<std::string> expected_ids;
  for (int batch = 0; batch < 40; ++batch) {
    std::vector<stream_append> parts;
    for (int s = 0; s <= batch % 4; ++s) {
      stream_id id{"Order", std::to_string((batch + s) % 7)};
      std::vector<new_event> events;
      for (int k = 0; k <= (batch + s) % 3; ++k) events.push_back(make_event("e"));
      for (const auto& e : events) expected_ids.push_back(e.event_id);
      parts.push_back(part(id, heads[id.str()], std::move(events)));
      heads[id.str()] += parts.back().events.size();
    }
    auto out = j->append(parts);
    REQUIRE(out.has_value());
    for (const auto& o : *out) REQUIRE(o.has_value());
  }
  std::vector<event_record> all;
  global_position after{};
  for (;;) {
    auto page = j->read_all(after, 7);
    REQUIRE(page.has_value());
    if (page->empty()) break;
    CHECK(page->size() <= 7);
    after = page->back().position;
    all.insert(all.end(), page->begin(), page->end());
  }
  REQUIRE(all.size() == expected_ids.size());
  std::map<std::string, std::uint64_t> seen;
  for (std::size_t i = 0; i < all.size(); ++i) {
    CHECK(all[i].position.value == i + 1);
    CHECK(all[i].event_id == expected_ids[i]);
    CHECK(all[i].stream_version.value == ++seen[all[i].stream().str()]);
  }
  CHECK(seen == heads);
  CHECK(j->last_position()->value == all.size());
  auto tail = j->read_all(global_position{all.size() - 3}, 100);
  REQUIRE(tail.has_value());
  CHECK(tail->size() == 3);
}

TEST_CASE_TEMPLATE_DEFINE("head and last_position follow the appends", B, head_and_last) {
  B backend;
  STRATA_REQUIRE_BACKEND(backend);
  auto j = must_open(backend);
  CHECK(j->head(order_1)->value == 0);
  CHECK(j->last_position()->value == 0);
  REQUIRE(append_one(*j, order_1, 0, {make_event("a"), make_event("b")}).has_value());
  REQUIRE(append_one(*j, order_2, 0, {make_event("a")}).has_value());
  REQUIRE(append_one(*j, order_1, 2, {make_event("c")}).has_value());
  CHECK(j->head(order_1)->value == 3);
  CHECK(j->head(order_2)->value == 1);
  CHECK(j->head(payment_1)->value == 0);
  CHECK(j->last_position()->value == 4);
  auto other = must_open(backend);
  CHECK(other->head(order_1)->value == 3);
  CHECK(other->last_position()->value == 4);
}

TEST_CASE_TEMPLATE_DEFINE("committed events survive closing and reopening the store", B,
                          reopen_durability) {
  B backend;
  STRATA_REQUIRE_BACKEND(backend);
  std::string hash;
  {
    auto j = must_open(backend);
    auto out = append_one(*j, order_1, 0, {make_event("placed"), make_event("confirmed")});
    REQUIRE(out.has_value());
    hash = out->back().hash;
  }
  auto reopened = backend.reopen();
  REQUIRE(reopened.has_value());
  journal& j = **reopened;
  auto events = j.read_stream(order_1, {});
  REQUIRE(events.has_value());
  CHECK(render(*events) == "placed@1 confirmed@2");
  CHECK(events->back().hash == hash);
  CHECK(j.head(order_1)->value == 2);
  auto next = append_one(j, order_1, 2, {make_event("shipped")});
  REQUIRE(next.has_value());
  CHECK(next->front().position.value == 3);
}

TEST_CASE_TEMPLATE_DEFINE(
    "a journal's id is the same on every instance and reopen of its store and differs between "
    "stores",
    B, journal_identity) {
  B backend;
  STRATA_REQUIRE_BACKEND(backend);
  std::string id;
  {
    auto first = must_open(backend);
    id = first->id();
    CHECK(id.size() == 36);
    auto second = must_open(backend);
    CHECK(second->id() == id);
    REQUIRE(append_one(*first, order_1, 0, {make_event("placed")}).has_value());
  }
  auto reopened = backend.reopen();
  REQUIRE(reopened.has_value());
  CHECK((*reopened)->id() == id);

  B other;
  auto elsewhere = must_open(other);
  CHECK_FALSE(elsewhere->id().empty());
  CHECK(elsewhere->id() != id);
}

TEST_CASE_TEMPLATE_DEFINE("two writers racing on one stream never both win a version", B,
                          concurrent_writers) {
  B backend;
  STRATA_REQUIRE_BACKEND(backend);
  constexpr int attempts = 60;
  auto a = must_open(backend);
  auto b = must_open(backend);
  struct tally {
    int wins = 0;
    int conflicts = 0;
    int failures = 0;
    std::set<std::string> ids;
  };
  auto run = [&](journal& j, const std::string& who, tally& t) {
    for (int i = 0; i < attempts; ++i) {
      auto head = j.head(order_1);
      if (!head) {
        ++t.failures;
        continue;
      }
      new_event e = make_event("by-" + who);
      e.event_id = who + "-" + std::to_string(i);
      auto out = j.append({part(order_1, head->value, {e})});
      if (!out) {
        ++t.failures;
      } else if (out->front().has_value()) {
        ++t.wins;
        t.ids.insert(e.event_id);
      } else if (out->front().err().code == errc::conflict) {
        ++t.conflicts;
      } else {
        ++t.failures;
      }
    }
  };
  tally ta;
  tally tb;
  std::thread other{[&] { run(*b, "b", tb); }};
  run(*a, "a", ta);
  other.join();

  CHECK(ta.failures == 0);
  CHECK(tb.failures == 0);
  CHECK(ta.wins + ta.conflicts == attempts);
  CHECK(tb.wins + tb.conflicts == attempts);
  auto events = a->read_stream(order_1, {});
  REQUIRE(events.has_value());
  REQUIRE(events->size() == static_cast<std::size_t>(ta.wins + tb.wins));
  for (std::size_t i = 0; i < events->size(); ++i) {
    const auto& r = (*events)[i];
    CHECK(r.stream_version.value == i + 1);
    const bool by_a = ta.ids.count(r.event_id) == 1;
    const bool by_b = tb.ids.count(r.event_id) == 1;
    CHECK(by_a != by_b);
  }
  CHECK(a->head(order_1)->value == events->size());
  auto broken = verify_journal(*a);
  REQUIRE(broken.has_value());
  CHECK_FALSE(broken->has_value());
}

TEST_CASE_TEMPLATE_DEFINE("readers on other instances see a gap-free prefix while a writer appends",
                          B, concurrent_readers) {
  B backend;
  STRATA_REQUIRE_BACKEND(backend);
  constexpr std::uint64_t batches = 80;
  auto writer = must_open(backend);
  std::vector<std::unique_ptr<journal>> readers;
  readers.push_back(must_open(backend));
  readers.push_back(must_open(backend));
  std::atomic<bool> done{false};
  std::vector<std::string> problems(readers.size());
  std::vector<std::uint64_t> seen(readers.size(), 0);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < readers.size(); ++i) {
    threads.emplace_back([&, i] {
      journal& j = *readers[i];
      bool last_round = false;
      while (problems[i].empty()) {
        last_round = done.load();
        auto all = j.read_all(global_position{}, 1'000'000);
        if (!all) {
          problems[i] = "read_all failed: " + describe(all.err());
          break;
        }
        for (std::size_t k = 0; k < all->size(); ++k) {
          if ((*all)[k].position.value != k + 1) {
            problems[i] = "gap before position " + std::to_string((*all)[k].position.value);
            break;
          }
        }
        if (all->size() < seen[i]) problems[i] = "the journal shrank";
        seen[i] = all->size();
        if (last_round) break;
      }
    });
  }
  for (std::uint64_t b = 0; b < batches; ++b) {
    auto out = writer->append({part(order_1, 2 * b, {make_event("a"), make_event("b")}),
                               part(order_2, b, {make_event("c")})});
    REQUIRE(out.has_value());
    REQUIRE((*out)[0].has_value());
    REQUIRE((*out)[1].has_value());
  }
  done.store(true);
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < readers.size(); ++i) {
    CHECK_MESSAGE(problems[i].empty(), problems[i]);
    CHECK(seen[i] == 3 * batches);
  }
}

TEST_CASE_TEMPLATE_DEFINE("a 1 MiB payload and unicode text round-trip unchanged", B,
                          huge_and_unicode) {
  B backend;
  STRATA_REQUIRE_BACKEND(backend);
  auto j = must_open(backend);
  const std::string big = "{\"blob\":\"" + std::string(1024 * 1024, 'x') + "\"}";
  const std::string unicode =
      u8"{\"note\":\"caf\u00e9 \u6ce8\u6587 \u3053\u3093\u306b\u3061\u306f \U0001F680\U0001F389\"}";
  new_event huge = make_event("huge", big);
  new_event text = make_event(u8"\u6ce8\u6587\u3055\u308c\u305f", unicode);
  text.user_id = u8"\u30e6\u30fc\u30b6\u30fc \U0001F464";
  const stream_id s{"Order", u8"\u00fc\u6ce8-\U0001F4E6"};
  auto out = append_one(*j, s, 0, {huge, text});
  REQUIRE(out.has_value());
  auto events = j->read_stream(s, {});
  REQUIRE(events.has_value());
  REQUIRE(events->size() == 2);
  CHECK(events->at(0).data.size() == big.size());
  CHECK(events->at(0).data == big);
  CHECK(events->at(1).data == unicode);
  CHECK(events->at(1).event_type == text.event_type);
  CHECK(events->at(1).user_id == text.user_id);
  CHECK(events->at(1).aggregate_id == s.aggregate_id());
  auto all = j->read_all(global_position{}, 10);
  REQUIRE(all.has_value());
  REQUIRE(all->size() == 2);
  CHECK(all->at(1).stream() == s);
  auto broken = verify_stream(*j, s);
  REQUIRE(broken.has_value());
  CHECK_FALSE(broken->has_value());
}

TEST_CASE_TEMPLATE_DEFINE("hashes link each stream and verify_journal passes when untampered", B,
                          hash_chain) {
  B backend;
  STRATA_REQUIRE_BACKEND(backend);
  auto j = must_open(backend);
  REQUIRE(append_one(*j, order_1, 0, {make_event("a"), make_event("b")}).has_value());
  auto out = j->append({part(order_1, 2, {make_event("c")}), part(order_2, 0, {make_event("a")})});
  REQUIRE(out.has_value());
  REQUIRE(append_one(*j, order_2, 1, {make_event("b")}).has_value());

  for (const auto& s : {order_1, order_2}) {
    auto events = j->read_stream(s, {});
    REQUIRE(events.has_value());
    std::string previous;
    for (const auto& r : *events) {
      CHECK(r.hash == chain_hash(previous, r));
      CHECK(r.hash != previous);
      previous = r.hash;
    }
    auto broken = verify_stream(*j, s);
    REQUIRE(broken.has_value());
    CHECK_FALSE(broken->has_value());
  }
  auto broken = verify_journal(*j);
  REQUIRE(broken.has_value());
  CHECK_FALSE(broken->has_value());
  auto empty_stream = verify_stream(*j, payment_1);
  REQUIRE(empty_stream.has_value());
  CHECK_FALSE(empty_stream->has_value());
}

TEST_CASE_TEMPLATE_DEFINE(
    "for_each_in_stream visits the events read_stream returns, field for field", B,
    visit_matches_read) {
  B backend;
  STRATA_REQUIRE_BACKEND(backend);
  auto j = must_open(backend);
  std::vector<new_event> events;
  for (int i = 1; i <= 10; ++i)
    events.push_back(make_event("e" + std::to_string(i), "{\"n\":" + std::to_string(i) + "}",
                                test_time(i * 60)));
  REQUIRE(append_one(*j, order_1, 0, events).has_value());
  REQUIRE(append_one(*j, order_2, 0, {make_event("other")}).has_value());

  auto visit_all = [&](const stream_id& s, const stream_range& r) {
    std::vector<event_record> seen;
    auto visited = j->for_each_in_stream(s, r, [&](const event_view& v) {
      seen.push_back(v.to_record(s));
      return result<visit_control>{visit_control::next};
    });
    REQUIRE_MESSAGE(visited.has_value(), (visited ? "" : describe(visited.err())));
    CHECK(*visited == seen.size());
    return seen;
  };
  std::vector<stream_range> ranges(6);
  ranges[1].from = version{8};
  ranges[2].from = version{3};
  ranges[2].to = version{5};
  ranges[3].until = test_time(4 * 60);
  ranges[4].from = version{2};
  ranges[4].limit = 2;
  ranges[5].limit = 0;
  // `got` holds the events of `want`, field for field; with `audit_may_be_empty` (a read of
  // the fields a fold needs) each audit field is the stored one or empty.
  auto check_same = [](const std::vector<event_record>& got, const std::vector<event_record>& want,
                       bool audit_may_be_empty) {
    REQUIRE(got.size() == want.size());
    auto audit = [&](const std::string& a, const std::string& b) {
      return a == b || (audit_may_be_empty && a.empty());
    };
    for (std::size_t i = 0; i < got.size(); ++i) {
      const auto& a = got[i];
      const auto& b = want[i];
      CHECK(a.position == b.position);
      CHECK(a.event_type == b.event_type);
      CHECK(a.schema_version == b.schema_version);
      CHECK(a.aggregate_type == b.aggregate_type);
      CHECK(a.aggregate_id == b.aggregate_id);
      CHECK(a.stream_version == b.stream_version);
      CHECK(a.time == b.time);
      CHECK(a.command_id == b.command_id);
      CHECK(a.data == b.data);
      CHECK(audit(a.event_id, b.event_id));
      CHECK(audit(a.user_id, b.user_id));
      CHECK(audit(a.correlation_id, b.correlation_id));
      CHECK(audit(a.causation_id, b.causation_id));
      CHECK(audit(a.hash, b.hash));
    }
  };
  for (const auto& r : ranges) {
    auto expected = j->read_stream(order_1, r);
    REQUIRE(expected.has_value());
    check_same(visit_all(order_1, r), *expected, false);
    stream_range fold = r;
    fold.fields = event_fields::fold;
    check_same(visit_all(order_1, fold), *expected, true);
    auto folded_records = j->read_stream(order_1, fold);
    REQUIRE(folded_records.has_value());
    check_same(*folded_records, *expected, true);
  }
  CHECK(render(visit_all(order_1, ranges[2])) == "e3@3 e4@4 e5@5");
  CHECK(visit_all(stream_id{"Order", "nope"}, {}).empty());

  // The visitor stops the visit, or ends it with its own error.
  std::string order;
  auto stopped = j->for_each_in_stream(order_1, {}, [&](const event_view& v) {
    order += std::string{v.event_type} + ' ';
    return result<visit_control>{v.stream_version == version{3} ? visit_control::stop
                                                                : visit_control::next};
  });
  REQUIRE(stopped.has_value());
  CHECK(*stopped == 3);
  CHECK(order == "e1 e2 e3 ");
  std::size_t calls = 0;
  auto failed = j->for_each_in_stream(order_1, {}, [&](const event_view&) -> result<visit_control> {
    ++calls;
    return error{errc::corrupted, "the visitor refuses"};
  });
  REQUIRE_FALSE(failed.has_value());
  CHECK(failed.err().code == errc::corrupted);
  CHECK(failed.err().message == "the visitor refuses");
  CHECK(calls == 1);
}

TEST_CASE_TEMPLATE_DEFINE(
    "two instances alternating appends to one stream detect every stale head and leave no gap", B,
    alternating_writers) {
  B backend;
  STRATA_REQUIRE_BACKEND(backend);
  auto a = must_open(backend);
  auto b = must_open(backend);
  std::uint64_t head = 0;
  std::string expected;
  for (int i = 0; i < 12; ++i) {
    journal& writer = i % 2 == 0 ? *a : *b;
    journal& other = i % 2 == 0 ? *b : *a;
    const std::string type = "e" + std::to_string(i);
    auto written = append_one(writer, order_1, head, {make_event(type)});
    REQUIRE_MESSAGE(written.has_value(),
                    "append " << i << ": " << (written ? "" : describe(written.err())));
    CHECK(written->front().stream_version.value == head + 1);
    ++head;
    expected += (expected.empty() ? "" : " ") + type + "@" + std::to_string(head);
    // The other instance last saw (or wrote) the head before this append: it is stale now,
    // while a stream it alone writes still commits in the same batch.
    auto stale = other.append({part(order_1, head - 1, {make_event("stale")}),
                               part(order_2, static_cast<std::uint64_t>(i), {make_event("side")})});
    REQUIRE(stale.has_value());
    REQUIRE_FALSE((*stale)[0].has_value());
    CHECK((*stale)[0].err().code == errc::conflict);
    REQUIRE_MESSAGE((*stale)[1].has_value(), "side stream " << i);
    CHECK((*stale)[1]->front().stream_version.value == static_cast<std::uint64_t>(i) + 1);
  }
  for (journal* j : {a.get(), b.get()}) {
    CHECK(render(*j->read_stream(order_1, {})) == expected);
    CHECK(j->head(order_1)->value == head);
    CHECK(j->head(order_2)->value == 12);
  }
  auto broken = verify_journal(*a);
  REQUIRE(broken.has_value());
  CHECK_FALSE(broken->has_value());
}

TEST_CASE_TEMPLATE_DEFINE(
    "archiving a stream's prefix keeps heads, positions and the chain, and appends continue", B,
    cut_prefix) {
  B backend;
  STRATA_REQUIRE_BACKEND(backend);
  std::string o1_v4;
  std::string o2_v1;
  {
    auto j = must_open(backend);
    REQUIRE(append_one(*j, order_1, 0, {make_event("a"), make_event("b"), make_event("c")}));
    auto o2 = append_one(*j, order_2, 0, {make_event("a"), make_event("b")});
    REQUIRE(o2.has_value());
    o2_v1 = o2->front().hash;
    auto o1 = append_one(*j, order_1, 3, {make_event("d")});
    REQUIRE(o1.has_value());
    o1_v4 = o1->front().hash;
    CHECK_FALSE(j->anchor(order_1)->has_value());
    CHECK_FALSE(j->archived()->has_value());

    auto removed = j->cut(
        {stream_cut{order_1, version{4}, o1_v4}, stream_cut{order_2, version{1}, o2_v1}}, "cold-1");
    REQUIRE_MESSAGE(removed.has_value(), describe(removed.err()));
    CHECK(*removed == 5);
    CHECK(j->head(order_1)->value == 4);
    CHECK(j->head(order_2)->value == 2);
    CHECK(j->last_position()->value == 6);
    CHECK(j->read_stream(order_1, {})->empty());
    CHECK(render(*j->read_stream(order_2, {})) == "b@2");
    auto all = j->read_all(global_position{}, 100);
    REQUIRE(all.has_value());
    REQUIRE(all->size() == 1);
    CHECK(all->front().position.value == 5);
  }
  auto reopened = backend.reopen();
  REQUIRE(reopened.has_value());
  journal& j = **reopened;
  auto a = j.anchor(order_1);
  REQUIRE(a.has_value());
  REQUIRE(a->has_value());
  CHECK((*a)->at.value == 4);
  CHECK((*a)->hash == o1_v4);
  CHECK((*a)->archive == "cold-1");
  CHECK(j.anchors()->size() == 2);
  auto mark = j.archived();
  REQUIRE(mark.has_value());
  REQUIRE(mark->has_value());
  CHECK((*mark)->through.value == 6);
  CHECK((*mark)->archives == std::vector<std::string>{"cold-1"});
  CHECK(j.last_position()->value == 6);

  auto hot = check_not_archived(j, order_1, version{1});
  REQUIRE_FALSE(hot.has_value());
  CHECK(hot.err().code == errc::not_found);
  CHECK(hot.err().message.find("cold-1") != std::string::npos);
  CHECK(check_not_archived(j, order_1, version{5}).has_value());

  auto verified = verify_journal(j);
  REQUIRE(verified.has_value());
  CHECK_FALSE(verified->has_value());
  auto next = append_one(j, order_1, 4, {make_event("e")});
  REQUIRE(next.has_value());
  CHECK(next->front().position.value == 7);
  CHECK(next->front().hash == chain_hash(o1_v4, next->front()));
  for (const stream_id& s : {order_1, order_2}) {
    auto one = verify_stream(j, s);
    REQUIRE(one.has_value());
    CHECK_FALSE(one->has_value());
  }
  verified = verify_journal(j);
  REQUIRE(verified.has_value());
  CHECK_FALSE(verified->has_value());
}

TEST_CASE_TEMPLATE_DEFINE(
    "a cut with a hash the journal does not hold removes nothing, and a repeated cut is a no-op", B,
    cut_checks) {
  B backend;
  STRATA_REQUIRE_BACKEND(backend);
  auto j = must_open(backend);
  auto o1 = append_one(*j, order_1, 0, {make_event("a"), make_event("b")});
  REQUIRE(o1.has_value());
  REQUIRE(append_one(*j, order_2, 0, {make_event("a")}));
  auto wrong = j->cut({stream_cut{order_2, version{1}, (*j->read_stream(order_2, {}))[0].hash},
                       stream_cut{order_1, version{1}, std::string(64, '0')}},
                      "cold");
  REQUIRE_FALSE(wrong.has_value());
  CHECK(wrong.err().code == errc::conflict);
  CHECK(j->read_all(global_position{}, 10)->size() == 3);
  CHECK_FALSE(j->anchor(order_2)->has_value());

  auto bad = j->cut({stream_cut{order_1, version{0}, ""}}, "cold");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.err().code == errc::invalid_argument);

  auto first = j->cut({stream_cut{order_1, version{1}, o1->front().hash}}, "cold");
  REQUIRE(first.has_value());
  CHECK(*first == 1);
  auto again = j->cut({stream_cut{order_1, version{1}, o1->front().hash}}, "cold");
  REQUIRE(again.has_value());
  CHECK(*again == 0);
  CHECK(render(*j->read_stream(order_1, {})) == "b@2");
  auto verified = verify_journal(*j);
  REQUIRE(verified.has_value());
  CHECK_FALSE(verified->has_value());
}

// Events of one command: `n` events carrying `command_id`.
std::vector<new_event> command_events(const std::string& command_id,
                                      std::initializer_list<const char*> types) {
  std::vector<new_event> out;
  for (const char* t : types) {
    new_event e = make_event(t);
    e.command_id = command_id;
    out.push_back(std::move(e));
  }
  return out;
}

TEST_CASE_TEMPLATE_DEFINE(
    "a command id appended again, however many commands later, is a duplicate and writes nothing",
    B, command_once) {
  B backend;
  STRATA_REQUIRE_BACKEND(backend);
  auto j = must_open(backend);
  auto first = append_one(*j, order_1, 0, command_events("cmd-a", {"placed", "confirmed"}));
  REQUIRE(first.has_value());
  for (std::uint64_t i = 0; i < 40; ++i) {
    REQUIRE(append_one(*j, order_1, 2 + i, command_events("later-" + std::to_string(i), {"noted"}))
                .has_value());
  }
  REQUIRE(append_one(*j, order_2, 0, command_events("cmd-a", {"placed"})).has_value());

  auto again = append_one(*j, order_1, 42, command_events("cmd-a", {"placed"}));
  REQUIRE_FALSE(again.has_value());
  CHECK(again.err().code == errc::duplicate);
  // A stale retry is a duplicate too, not a conflict.
  auto stale = append_one(*j, order_1, 1, command_events("cmd-a", {"placed"}));
  REQUIRE_FALSE(stale.has_value());
  CHECK(stale.err().code == errc::duplicate);
  CHECK(j->head(order_1)->value == 42);
  CHECK(j->last_position()->value == 43);

  auto found = j->find_command(order_1, "cmd-a");
  REQUIRE(found.has_value());
  CHECK(render(*found) == "placed@1 confirmed@2");
  CHECK(found->back().hash == first->back().hash);
  CHECK(found->back().position == first->back().position);
  CHECK(render(*j->find_command(order_1, "later-7")) == "noted@10");
  CHECK(j->find_command(order_1, "never")->empty());
  CHECK(j->find_command(order_1, "")->empty());
  CHECK(j->find_command(payment_1, "cmd-a")->empty());

  // Events without a command id are never duplicates of each other.
  new_event anonymous = make_event("noted");
  anonymous.command_id.clear();
  REQUIRE(append_one(*j, order_1, 42, {anonymous}).has_value());
  REQUIRE(append_one(*j, order_1, 43, {anonymous}).has_value());
  CHECK(j->head(order_1)->value == 44);
  // And the stream goes on after a duplicate: the head was left where it was.
  auto next = append_one(*j, order_1, 44, command_events("cmd-b", {"noted"}));
  REQUIRE(next.has_value());
  CHECK(next->front().hash == chain_hash((*j->read_stream(order_1, {}))[43].hash, next->front()));
}

TEST_CASE_TEMPLATE_DEFINE(
    "in one batch a duplicate command writes nothing while the other streams commit", B,
    batch_duplicate) {
  B backend;
  STRATA_REQUIRE_BACKEND(backend);
  auto j = must_open(backend);
  REQUIRE(append_one(*j, order_2, 0, command_events("batch-2", {"placed"})).has_value());

  auto out = j->append({part(order_1, 0, command_events("batch-1", {"placed", "confirmed"})),
                        part(order_2, 1, command_events("batch-2", {"placed"})),
                        part(payment_1, 0, command_events("batch-3", {"authorized"}))});
  REQUIRE(out.has_value());
  REQUIRE(out->size() == 3);
  REQUIRE((*out)[0].has_value());
  REQUIRE_FALSE((*out)[1].has_value());
  CHECK((*out)[1].err().code == errc::duplicate);
  REQUIRE((*out)[2].has_value());
  CHECK(render(*j->read_stream(order_1, {})) == "placed@1 confirmed@2");
  CHECK(render(*j->read_stream(order_2, {})) == "placed@1");
  CHECK(render(*j->read_stream(payment_1, {})) == "authorized@1");
  CHECK((*out)[2]->at(0).position.value == 4);
  CHECK(j->last_position()->value == 4);
  CHECK(j->head(order_2)->value == 1);
  CHECK(render(*j->find_command(order_1, "batch-1")) == "placed@1 confirmed@2");

  // A command id of the same batch, twice in one stream, is not; in two streams it is fine.
  auto twice = j->append({part(order_1, 2, command_events("batch-1", {"noted"})),
                          part(payment_1, 1, command_events("batch-1", {"captured"}))});
  REQUIRE(twice.has_value());
  CHECK((*twice)[0].err().code == errc::duplicate);
  REQUIRE((*twice)[1].has_value());
  CHECK((*twice)[1]->front().position.value == 5);
}

TEST_CASE_TEMPLATE_DEFINE("command ids stay unique after the store is reopened", B,
                          command_once_reopened) {
  B backend;
  STRATA_REQUIRE_BACKEND(backend);
  {
    auto j = must_open(backend);
    REQUIRE(append_one(*j, order_1, 0, command_events("cmd-a", {"placed"})).has_value());
  }
  auto reopened = backend.reopen();
  REQUIRE(reopened.has_value());
  auto& j = **reopened;
  auto again = append_one(j, order_1, 1, command_events("cmd-a", {"placed"}));
  REQUIRE_FALSE(again.has_value());
  CHECK(again.err().code == errc::duplicate);
  CHECK(render(*j.find_command(order_1, "cmd-a")) == "placed@1");
}

TEST_CASE_TEMPLATE_DEFINE(
    "a command whose events were archived is still found, with its versions, positions and ids", B,
    command_archived) {
  B backend;
  STRATA_REQUIRE_BACKEND(backend);
  std::vector<strata::persistence::event_record> original;
  std::vector<strata::persistence::event_record> spanning;
  {
    auto j = must_open(backend);
    auto first = append_one(*j, order_1, 0, command_events("cmd-a", {"placed", "confirmed"}));
    REQUIRE(first.has_value());
    original = *first;
    // A command whose events straddle the cut: v3 is archived, v4 stays.
    auto across = append_one(*j, order_1, 2, command_events("cmd-b", {"noted", "shipped"}));
    REQUIRE(across.has_value());
    spanning = *across;
    REQUIRE(append_one(*j, order_1, 4, command_events("cmd-c", {"noted"})).has_value());
    auto removed = j->cut({stream_cut{order_1, version{3}, spanning.front().hash}}, "cold-1");
    REQUIRE_MESSAGE(removed.has_value(), describe(removed.err()));
    CHECK(*removed == 3);
  }
  auto reopened = backend.reopen();
  REQUIRE(reopened.has_value());
  journal& j = **reopened;
  auto found = j.find_command(order_1, "cmd-a");
  REQUIRE_MESSAGE(found.has_value(), describe(found.err()));
  CHECK(render(*found) == "placed@1 confirmed@2");
  REQUIRE(found->size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK((*found)[i].position == original[i].position);
    CHECK((*found)[i].event_id == original[i].event_id);
    CHECK((*found)[i].hash == original[i].hash);
    CHECK((*found)[i].command_id == "cmd-a");
    CHECK((*found)[i].stream() == order_1);
    CHECK((*found)[i].data.empty());  // the body is in the archive
  }
  auto across = j.find_command(order_1, "cmd-b");
  REQUIRE(across.has_value());
  CHECK(render(*across) == "noted@3 shipped@4");
  REQUIRE(across->size() == 2);
  CHECK(across->front().data.empty());
  CHECK(across->back().data == spanning.back().data);
  CHECK(render(*j.find_command(order_1, "cmd-c")) == "noted@5");
  // Still a duplicate: the index row stays.
  auto again = append_one(j, order_1, 5, command_events("cmd-a", {"placed"}));
  REQUIRE_FALSE(again.has_value());
  CHECK(again.err().code == errc::duplicate);
}

TEST_CASE_TEMPLATE_APPLY(round_trip, journal_backends);
TEST_CASE_TEMPLATE_APPLY(new_stream_conflict, journal_backends);
TEST_CASE_TEMPLATE_APPLY(stale_conflict, journal_backends);
TEST_CASE_TEMPLATE_APPLY(stale_second_instance, journal_backends);
TEST_CASE_TEMPLATE_APPLY(batch_atomicity, journal_backends);
TEST_CASE_TEMPLATE_APPLY(invalid_batch, journal_backends);
TEST_CASE_TEMPLATE_APPLY(read_ranges, journal_backends);
TEST_CASE_TEMPLATE_APPLY(read_all_order, journal_backends);
TEST_CASE_TEMPLATE_APPLY(head_and_last, journal_backends);
TEST_CASE_TEMPLATE_APPLY(reopen_durability, journal_backends);
TEST_CASE_TEMPLATE_APPLY(journal_identity, journal_backends);
TEST_CASE_TEMPLATE_APPLY(concurrent_writers, journal_backends);
TEST_CASE_TEMPLATE_APPLY(concurrent_readers, journal_backends);
TEST_CASE_TEMPLATE_APPLY(huge_and_unicode, journal_backends);
TEST_CASE_TEMPLATE_APPLY(hash_chain, journal_backends);
TEST_CASE_TEMPLATE_APPLY(visit_matches_read, journal_backends);
TEST_CASE_TEMPLATE_APPLY(alternating_writers, journal_backends);
TEST_CASE_TEMPLATE_APPLY(cut_prefix, journal_backends);
TEST_CASE_TEMPLATE_APPLY(cut_checks, journal_backends);
TEST_CASE_TEMPLATE_APPLY(command_once, journal_backends);
TEST_CASE_TEMPLATE_APPLY(batch_duplicate, journal_backends);
TEST_CASE_TEMPLATE_APPLY(command_once_reopened, journal_backends);
TEST_CASE_TEMPLATE_APPLY(command_archived, journal_backends);

}  // namespace
}  // namespace strata::persistence::testing
