#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <variant>

#include "strata/domain/orders/order.hpp"
#include "strata/domain/payments/payment.hpp"
#include "strata/runtime/runtime.hpp"
#include "tests/runtime/temp_dir.hpp"

using namespace strata;

namespace {

struct memory_runtime {
  strata::testing::temp_dir dir;
  std::unique_ptr<runtime> rt;

  memory_runtime() {
    runtime_config c;
    c.journal.backend = journal_backend::memory;
    c.metrics.enabled = false;
    c.projections.path = dir.file("read.db");
    auto started = runtime::start(c);
    REQUIRE_MESSAGE(started, (started ? "" : to_string(started.err())));
    rt = std::move(*started);
    REQUIRE(rt->register_aggregate<orders::order>());
  }
  runtime* operator->() const { return rt.get(); }
};

command_result answer(std::future<command_result> f) {
  REQUIRE_MESSAGE(f.wait_for(std::chrono::seconds(20)) == std::future_status::ready,
                  "no answer within 20 s");
  return f.get();
}

persistence::event_record order_record(std::string event_type, std::string data) {
  persistence::event_record r;
  r.position = global_position{7};
  r.event_id = "00000000-0000-7000-8000-000000000007";
  r.event_type = std::move(event_type);
  r.schema_version = 2;
  r.aggregate_type = "Order";
  r.aggregate_id = "o-7";
  r.stream_version = version{3};
  r.data = std::move(data);
  return r;
}

}  // namespace

TEST_CASE("a command's committed events decode as events of its aggregate, with their metadata") {
  auto rt = memory_runtime();
  command_metadata meta;
  meta.user_id = "bob";
  meta.command_id = "place-1";
  meta.correlation_id = "flow-1";
  auto r = answer(rt->send<orders::order>("o-1", orders::place{"c-1", "EUR", {}}, meta));
  REQUIRE_MESSAGE(r.is_accepted(), to_string(r));
  REQUIRE(r.records.size() == 1);

  auto typed = r.events<orders::order>();
  REQUIRE_MESSAGE(typed, (typed ? "" : to_string(typed.err())));
  REQUIRE(typed->size() == 1);
  const auto& e = typed->front();
  const auto* placed = std::get_if<orders::placed>(&e.event);
  REQUIRE(placed != nullptr);
  CHECK(placed->customer_id == "c-1");
  CHECK(placed->currency == "EUR");
  const auto& stored = r.records.front();
  CHECK(e.info.position == r.position);
  CHECK(e.info.stream_version == r.at);
  CHECK(e.info.time == stored.time);
  CHECK(e.info.aggregate_type == "Order");
  CHECK(e.info.aggregate_id == "o-1");
  CHECK(e.info.event_id == stored.event_id);
  CHECK(e.info.event_type == "OrderPlaced");
  CHECK(e.info.schema_version == stored.schema_version);
  CHECK(e.info.user_id == "bob");
  CHECK(e.info.command_id == "place-1");
  CHECK(e.info.correlation_id == "flow-1");
  CHECK(e.info.causation_id.empty());
}

TEST_CASE("a command that appended nothing has no events to decode") {
  auto rt = memory_runtime();
  auto r = answer(rt->send<orders::order>("o-1", orders::confirm{}));
  REQUIRE(r.status == command_status::rejected);
  auto typed = r.events<orders::order>();
  REQUIRE(typed);
  CHECK(typed->empty());
}

TEST_CASE("decoding a command's events as another aggregate's is an invalid argument") {
  auto rt = memory_runtime();
  auto r = answer(rt->send<orders::order>("o-1", orders::place{"c-1", "EUR", {}}));
  REQUIRE_MESSAGE(r.is_accepted(), to_string(r));
  auto wrong = r.events<payments::payment>();
  REQUIRE_FALSE(wrong);
  CHECK(wrong.err().code == errc::invalid_argument);
  CHECK(wrong.err().message.find("Order-o-1 v1 (OrderPlaced)") != std::string::npos);
  CHECK(wrong.err().message.find("Payment") != std::string::npos);
}

TEST_CASE("a record that does not decode gives the schema's error, naming stream and version") {
  command_result unknown;
  unknown.status = command_status::accepted;
  unknown.records.push_back(order_record("OrderTeleported", "{}"));
  auto u = unknown.events<orders::order>();
  REQUIRE_FALSE(u);
  CHECK(u.err().code == errc::corrupted);
  CHECK(u.err().message.find("Order-o-7 v3 (OrderTeleported)") != std::string::npos);

  command_result malformed;
  malformed.status = command_status::accepted;
  malformed.records.push_back(order_record("OrderPlaced", "{not json"));
  auto m = malformed.events<orders::order>();
  REQUIRE_FALSE(m);
  CHECK(m.err().code == errc::corrupted);
}
