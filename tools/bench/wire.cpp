// The `wire` workload: what the wire form of a forwarded command costs the two nodes apart
// from the transport (actors/cluster_wire.hpp). An Order's add_item as the cluster workload
// forwards it, and the accepted result with the ItemAdded it committed (taken from a runtime
// on the in-memory journal, so every field is as a real one), each encoded and decoded
// `count` times on one thread; the figures are the median of `--repeat` such runs.

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "strata/actors/aggregate_model.hpp"
#include "strata/actors/cluster_wire.hpp"
#include "strata/runtime/runtime.hpp"
#include "tools/bench/common.hpp"

namespace strata::bench {

namespace {

/// Nanoseconds per call of `f`, over `count` calls.
template <class F>
double ns_per_call(std::size_t count, F&& f) {
  const auto start = clock_type::now();
  for (std::size_t i = 0; i < count; ++i) f();
  return std::chrono::duration<double, std::nano>(clock_type::now() - start).count() /
         static_cast<double>(count);
}

}  // namespace

void run_wire(const options& o, std::size_t count) {
  check(o.repeat >= 1, "wire: --repeat must be at least 1");
  std::fprintf(stderr, "[wire] %zu encodings and decodings of each, %d runs\n", count, o.repeat);
  const order_data data{o.seed};
  runtime_config config;
  config.journal.backend = journal_backend::memory;
  auto started = runtime::start(config);
  check(static_cast<bool>(started), "wire: the runtime did not start");
  auto& rt = **started;
  check(static_cast<bool>(rt.register_aggregate<orders::order>()), "wire: register failed");
  const auto id = data.order_id(0);
  command_metadata meta;
  meta.command_id = "cmd-0000000001";
  meta.user_id = "user-0001";
  meta.correlation_id = "corr-0000000001";
  meta.causation_id = "cause-0000000001";
  check(rt.send<orders::order>(id, data.place(0), {}).get().status == command_status::accepted,
        "wire: place was not accepted");
  const auto add = data.add(0);
  const command_result result = rt.send<orders::order>(id, add, meta).get();
  check(result.status == command_status::accepted && result.records.size() == 1,
        "wire: add_item was not accepted with one event");
  rt.stop();

  auto model = actors::model_of<orders::order>();
  auto command_text = model->encode_command(std::any{orders::order::command{add}});
  check(static_cast<bool>(command_text), "wire: the command did not encode");
  actors::forwarded_command forwarded;
  forwarded.type = std::string{orders::order::type};
  forwarded.aggregate_id = id;
  forwarded.command = *command_text;
  forwarded.meta = meta;
  forwarded.from_node = "node-1";

  const auto command_body = actors::encode_forwarded(forwarded);
  const auto result_body = actors::encode_result(result);
  auto back = actors::decode_result(result_body);
  check(back && back->records.size() == 1 && back->records[0].data == result.records[0].data &&
            back->records[0].hash == result.records[0].hash && back->at == result.at,
        "wire: the result did not read back as written");
  auto forwarded_back = actors::decode_forwarded(command_body);
  check(forwarded_back && forwarded_back->command == forwarded.command &&
            forwarded_back->meta.command_id == meta.command_id,
        "wire: the command did not read back as written");

  std::vector<double> encode_command, decode_command, encode_answer, decode_answer;
  std::size_t sink = 0;
  for (int run = 0; run < o.repeat; ++run) {
    encode_command.push_back(
        ns_per_call(count, [&] { sink += actors::encode_forwarded(forwarded).size(); }));
    decode_command.push_back(
        ns_per_call(count, [&] { sink += actors::decode_forwarded(command_body)->type.size(); }));
    encode_answer.push_back(
        ns_per_call(count, [&] { sink += actors::encode_result(result).size(); }));
    decode_answer.push_back(
        ns_per_call(count, [&] { sink += actors::decode_result(result_body)->records.size(); }));
  }
  // Every call's output is summed (so none can be left out), and the sum must be what the
  // bodies read above make it.
  const auto per_run = command_body.size() + forwarded.type.size() + result_body.size() + 1;
  check(sink == per_run * count * static_cast<std::size_t>(o.repeat),
        "wire: an encoding or decoding gave another size than the first");
  const double round_trip = median(encode_command) + median(decode_command) +
                            median(encode_answer) + median(decode_answer);
  auto r = result_line{};
  r.workload = "wire";
  r.name = "add_item, one event";
  r.param("count", static_cast<double>(count))
      .param("runs", static_cast<double>(o.repeat))
      .figure("command_bytes", static_cast<double>(command_body.size()))
      .figure("result_bytes", static_cast<double>(result_body.size()))
      .figure("encode_command_ns", median(encode_command))
      .figure("decode_command_ns", median(decode_command))
      .figure("encode_result_ns", median(encode_answer))
      .figure("decode_result_ns", median(decode_answer))
      .figure("round_trip_us", round_trip / 1000.0);
  emit(r);
}

}  // namespace strata::bench
