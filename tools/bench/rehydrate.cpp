// The `rehydrate` workload: one Order stream of N events in SQLite (half of the ItemAdded
// events stored as v1, so the upcaster runs), rebuilt through the runtime (`current_state`
// on a fresh runtime), through the model directly (journal read + decode/upcast/evolve),
// with a snapshot from the snapshot store, and against the raw row-read rate of the C API.

#include <sqlite3.h>

#include <cstdio>

#include "strata/actors/aggregate_model.hpp"
#include "strata/actors/rehydration.hpp"
#include "strata/persistence/sqlite_journal.hpp"
#include "strata/persistence/sqlite_snapshot_store.hpp"
#include "tools/bench/common.hpp"
#include "tools/bench/driver.hpp"

namespace strata::bench {
namespace {

const char* const stream_name = "rh-1";

void write_stream(persistence::journal& j, const order_data& data, std::size_t events,
                  const char* name = stream_name) {
  const auto placed = orders::order::events().encode(
      orders::event{orders::placed{"customer-rh", "USD", {}, money{0, "USD"}}});
  const timestamp t = from_unix_micros(1700000000000000);
  std::uint64_t head = 0;
  while (head < events) {
    persistence::stream_append part;
    part.stream = stream_id{"Order", name};
    part.expected = version{head};
    for (std::size_t k = 0; k < 1000 && head < events; ++k) {
      persistence::new_event ne;
      ne.event_id = std::string{name} + "-" + std::to_string(head);
      ne.time = t;
      ne.user_id = "bench";
      if (head == 0) {
        ne.event_type = placed.type;
        ne.schema_version = placed.schema_version;
        ne.data = placed.data;
      } else {
        const auto add = data.add(head - 1);
        if (head % 2 == 0) {  // ItemAdded v1: bare minor units, implicitly USD
          ne.event_type = "ItemAdded";
          ne.schema_version = 1;
          boost::json::object o;
          o["sku"] = add.item.sku;
          o["quantity"] = add.item.quantity;
          o["unit_price"] = add.item.unit_price.minor;
          ne.data = boost::json::serialize(o);
        } else {
          const auto enc =
              orders::order::events().encode(orders::event{orders::item_added{add.item}});
          ne.event_type = enc.type;
          ne.schema_version = enc.schema_version;
          ne.data = enc.data;
        }
      }
      ++head;
      part.events.push_back(std::move(ne));
    }
    auto r = j.append({part});
    check(r && (*r)[0], "rehydrate: writing the stream failed");
  }
}

void check_state(const orders::state& s, version at, const order_data& data, std::size_t events,
                 const std::string& how) {
  std::int64_t total = 0;
  for (std::size_t n = 0; n + 1 < events; ++n) total += data.add(n).item.unit_price.minor;
  check(at.value == events, how + ": state at version " + std::to_string(at.value) + ", expected " +
                                std::to_string(events));
  check(s.current == orders::status::open, how + ": order is not open");
  check(s.total_minor == total,
        how + ": total " + std::to_string(s.total_minor) + ", expected " + std::to_string(total));
  check(s.lines.size() == std::min<std::size_t>(events - 1, order_data::skus_per_order),
        how + ": wrong number of lines");
}

/// Rows per second of the C API reading the stream's rows: every column, or (`fold_only`)
/// only the seven a fold reads (persistence::event_fields::fold).
double raw_read_rate(const std::string& path, std::size_t events, bool fold_only = false) {
  sqlite3* db = nullptr;
  check(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK,
        "raw read: open");
  sqlite3_stmt* s = nullptr;
  const std::string columns = fold_only
                                  ? "e.global_position, e.version, e.event_type, e.schema_version, "
                                    "e.timestamp_us, e.command_id, e.data"
                                  : "e.global_position, e.version, e.event_id, e.event_type, "
                                    "e.schema_version, e.timestamp_us, e.user_id, e.command_id, "
                                    "e.correlation_id, e.causation_id, e.data, e.hash";
  const std::string sql = "SELECT " + columns +
                          " FROM events e "
                          "WHERE e.stream_key = (SELECT stream_key FROM streams WHERE name = ?1) "
                          "AND e.version >= 1 ORDER BY e.version";
  check(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK, "raw read: prepare");
  const int count = sqlite3_column_count(s);
  // The integer columns, by position (looking each column's type up would cost the loop).
  const int int_a = fold_only ? 3 : 4;  // schema_version
  const int int_b = fold_only ? 4 : 5;  // timestamp_us
  const std::string name = std::string{"Order-"} + stream_name;
  sqlite3_bind_text(s, 1, name.data(), static_cast<int>(name.size()), SQLITE_STATIC);
  const auto t0 = now_ns();
  std::size_t rows = 0;
  std::size_t bytes = 0;
  while (sqlite3_step(s) == SQLITE_ROW) {
    ++rows;
    for (int c = 0; c < count; ++c) {
      if (c == 0 || c == 1 || c == int_a || c == int_b) {
        bytes += static_cast<std::size_t>(sqlite3_column_int64(s, c) & 1);
      } else {
        const unsigned char* p = sqlite3_column_text(s, c);
        bytes += static_cast<std::size_t>(sqlite3_column_bytes(s, c)) + (p != nullptr ? 1 : 0);
      }
    }
  }
  const double seconds = static_cast<double>(now_ns() - t0) / 1e9;
  sqlite3_finalize(s);
  sqlite3_close(db);
  check(rows == events, "raw read: " + std::to_string(rows) + " rows");
  check(bytes > 0, "raw read: no bytes");
  return static_cast<double>(rows) / seconds;
}

/// A fresh runtime on `factory` (and `snapshots`, null: none) with Order registered.
std::unique_ptr<runtime> order_runtime(
    const std::shared_ptr<persistence::journal_factory>& factory,
    std::shared_ptr<persistence::snapshot_store_factory> snapshots, const std::string& what) {
  auto ov = with_journal(factory);
  ov.snapshots = std::move(snapshots);
  auto rt = runtime::start(bench_config(), ov);
  check(static_cast<bool>(rt), what + ": runtime start");
  check(static_cast<bool>((*rt)->register_aggregate<orders::order>()), "register Order");
  return std::move(*rt);
}

}  // namespace

void run_rehydrate(const options& o, std::size_t events) {
  if (o.quick) events = std::min<std::size_t>(events, 3000);
  const std::size_t tail = 100;
  check(events > 2 * tail, "rehydrate: --events must exceed 200");
  const order_data data{o.seed, "USD"};
  const std::string path = o.dir + "/rehydrate.db";
  auto factory = fresh_sqlite_journal(path, false);
  {
    auto j = factory->open();
    check(static_cast<bool>(j), "rehydrate: open journal");
    std::fprintf(stderr, "[rehydrate] writing one stream of %zu events\n", events);
    write_stream(**j, data, events - tail);
  }
  persistence::sqlite_snapshot_store_options runtime_snapshots_options;
  runtime_snapshots_options.path = path;
  auto runtime_snapshots =
      std::make_shared<persistence::sqlite_snapshot_store_factory>(runtime_snapshots_options);
  {
    // The last `tail` events go through a runtime with snapshots on (snapshot_every = 100), so
    // that the store holds a snapshot in the runtime's own format.
    auto rt = order_runtime(factory, runtime_snapshots, "rehydrate");
    auto out = drive(tail, 1, [&](std::size_t i, command_callback done) {
      rt->send<orders::order>(stream_name, data.add(events - tail - 1 + i), {}, std::move(done));
    });
    check(out.other == 0, "rehydrate: tail command not accepted: " + out.first_other);
  }
  const int reps = o.quick ? 1 : std::max(1, o.repeat);
  const stream_id stream{"Order", stream_name};
  auto model = actors::model_of<orders::order>();

  // Raw row reads (C API).
  double cpu0 = cpu_seconds();
  std::vector<double> raw, raw_fold;
  for (int i = 0; i < reps; ++i) raw.push_back(raw_read_rate(path, events));
  for (int i = 0; i < reps; ++i) raw_fold.push_back(raw_read_rate(path, events, true));
  const double raw_rate = median(raw);
  result_line rl;
  rl.workload = "rehydrate";
  rl.name = "raw row read (C API)";
  rl.param("events", static_cast<double>(events)).param("repeat", reps);
  rl.figure("events_s", raw_rate).figure("fold_columns_events_s", median(raw_fold)).process(cpu0);
  emit(rl);

  // Through the model: journal read, then decode + upcast + evolve.
  cpu0 = cpu_seconds();
  std::vector<double> total_rates, read_rates, fold_rates;
  for (int i = 0; i < reps; ++i) {
    auto j = factory->open();
    check(static_cast<bool>(j), "rehydrate: open");
    const auto t0 = now_ns();
    auto records = (*j)->read_stream(stream, {});
    const auto t1 = now_ns();
    check(records && records->size() == events, "rehydrate: read_stream");
    std::any state = model->initial();
    for (const auto& r : *records) check(static_cast<bool>(model->apply(state, r)), "apply");
    const auto t2 = now_ns();
    check_state(std::any_cast<const orders::state&>(state), records->back().stream_version, data,
                events, "model");
    total_rates.push_back(static_cast<double>(events) / (static_cast<double>(t2 - t0) / 1e9));
    read_rates.push_back(static_cast<double>(events) / (static_cast<double>(t1 - t0) / 1e9));
    fold_rates.push_back(static_cast<double>(events) / (static_cast<double>(t2 - t1) / 1e9));
  }
  result_line ml;
  ml.workload = "rehydrate";
  ml.name = "model, no snapshot";
  ml.param("events", static_cast<double>(events)).param("repeat", reps);
  ml.figure("events_s", median(total_rates))
      .figure("journal_read_events_s", median(read_rates))
      .figure("decode_evolve_events_s", median(fold_rates))
      .figure("of_raw", median(total_rates) / raw_rate)
      .process(cpu0);
  emit(ml);

  // `actors::rehydrate` (what an aggregate runs when it loads, without the actors): folds
  // views of the journal's rows, decode/upcast/evolve straight from them; and the visit
  // alone. Each on a fresh connection, like the reads above.
  cpu0 = cpu_seconds();
  std::vector<double> view_rates, visit_rates, fold_visit_rates;
  const auto rate = [&](std::int64_t from_ns, std::int64_t to_ns) {
    return static_cast<double>(events) / (static_cast<double>(to_ns - from_ns) / 1e9);
  };
  const std::size_t window = bench_config().commands.idempotency_window;
  for (int i = 0; i < reps; ++i) {
    auto j = factory->open();
    check(static_cast<bool>(j), "rehydrate: open");
    const auto t0 = now_ns();
    auto r = actors::rehydrate(**j, nullptr, *model, stream, {}, window, nullptr);
    const auto t1 = now_ns();
    check(r && r->events_replayed == events, "rehydrate: actors::rehydrate");
    check_state(std::any_cast<const orders::state&>(r->state), r->at, data, events,
                "actors::rehydrate");
    view_rates.push_back(rate(t0, t1));
    auto k = factory->open();
    check(static_cast<bool>(k), "rehydrate: open");
    std::size_t bytes = 0;
    const auto t2 = now_ns();
    auto visited = (*k)->for_each_in_stream(stream, {}, [&](const persistence::event_view& v) {
      bytes += v.data.size();
      return result<persistence::visit_control>{persistence::visit_control::next};
    });
    const auto t3 = now_ns();
    check(visited && *visited == events && bytes > 0, "rehydrate: for_each_in_stream");
    visit_rates.push_back(rate(t2, t3));
    persistence::stream_range fold_fields;
    fold_fields.fields = persistence::event_fields::fold;
    auto m = factory->open();  // a cold connection, as for the visit of every field
    check(static_cast<bool>(m), "rehydrate: open");
    std::size_t fold_bytes = 0;
    const auto t4 = now_ns();
    auto fold_visited =
        (*m)->for_each_in_stream(stream, fold_fields, [&](const persistence::event_view& v) {
          fold_bytes += v.data.size() + v.hash.size();
          return result<persistence::visit_control>{persistence::visit_control::next};
        });
    const auto t5 = now_ns();
    check(fold_visited && *fold_visited == events && fold_bytes == bytes,
          "rehydrate: for_each_in_stream of the fold's fields");
    fold_visit_rates.push_back(rate(t4, t5));
  }
  result_line vl;
  vl.workload = "rehydrate";
  vl.name = "actors::rehydrate (views), no snapshot";
  vl.param("events", static_cast<double>(events)).param("repeat", reps);
  vl.figure("events_s", median(view_rates))
      .figure("journal_visit_events_s", median(visit_rates))
      .figure("journal_visit_fold_events_s", median(fold_visit_rates))
      .figure("of_raw", median(view_rates) / raw_rate)
      .process(cpu0);
  emit(vl);

  // Through the runtime: current_state on a fresh runtime each time.
  cpu0 = cpu_seconds();
  std::vector<double> rt_rates;
  for (int i = 0; i < reps; ++i) {
    auto rt = order_runtime(factory, nullptr, "rehydrate");
    const auto t0 = now_ns();
    auto view = rt->current_state<orders::order>(stream_name).get();
    const auto t1 = now_ns();
    check(static_cast<bool>(view), "rehydrate: current_state failed");
    check_state(view->state, view->at, data, events, "runtime");
    rt_rates.push_back(static_cast<double>(events) / (static_cast<double>(t1 - t0) / 1e9));
  }
  result_line rtl;
  rtl.workload = "rehydrate";
  rtl.name = "runtime, no snapshot";
  rtl.param("events", static_cast<double>(events)).param("repeat", reps);
  rtl.figure("events_s", median(rt_rates))
      .figure("of_raw", median(rt_rates) / raw_rate)
      .process(cpu0);
  emit(rtl);

  // With a snapshot (the store exists; the model path loads it and replays the tail).
  {
    persistence::sqlite_snapshot_store_options sso;
    sso.path = path + ".model-snapshots";
    remove_db(sso.path);
    auto store = persistence::sqlite_snapshot_store::open(sso);
    check(static_cast<bool>(store), "snapshot store open");
    auto j = factory->open();
    check(static_cast<bool>(j), "rehydrate: open");
    // The state at the last multiple of 100 below the head, as snapshot_every=100 would keep.
    const std::uint64_t snap_at = ((events - 1) / 100) * 100;
    check(snap_at >= 1, "rehydrate: too few events for a snapshot");
    persistence::stream_range upto;
    upto.to = version{snap_at};
    auto head_part = (*j)->read_stream(stream, upto);
    check(head_part && head_part->size() == snap_at, "snapshot: read head part");
    std::any s = model->initial();
    for (const auto& r : *head_part) check(static_cast<bool>(model->apply(s, r)), "apply");
    persistence::snapshot_record rec;
    rec.stream = stream;
    rec.at = version{snap_at};
    rec.state_version = model->state_version();
    rec.last_event_hash = head_part->back().hash;
    rec.state = model->encode_state(s);
    check(static_cast<bool>((*store)->save(rec)), "snapshot save");
    cpu0 = cpu_seconds();
    std::vector<double> snap_rates;
    for (int i = 0; i < reps; ++i) {
      const auto t0 = now_ns();
      auto latest = (*store)->load_latest(stream, version{events});
      check(latest && latest->has_value(), "snapshot load");
      auto state = model->decode_state((*latest)->state);
      check(static_cast<bool>(state), "snapshot decode");
      persistence::stream_range after_snapshot;
      after_snapshot.from = (*latest)->at.next();
      auto rest = (*j)->read_stream(stream, after_snapshot);
      check(static_cast<bool>(rest), "snapshot tail read");
      for (const auto& r : *rest) check(static_cast<bool>(model->apply(*state, r)), "apply");
      const auto t1 = now_ns();
      const version at = rest->empty() ? (*latest)->at : rest->back().stream_version;
      check_state(std::any_cast<const orders::state&>(*state), at, data, events, "model+snapshot");
      snap_rates.push_back(static_cast<double>(t1 - t0) / 1e6);
    }
    result_line sl;
    sl.workload = "rehydrate";
    sl.name = "model, snapshot store";
    sl.param("events", static_cast<double>(events))
        .param("snapshot_at", static_cast<double>(snap_at))
        .param("repeat", reps);
    sl.figure("ms", median(snap_rates))
        .figure("effective_events_s", static_cast<double>(events) / (median(snap_rates) / 1e3))
        .process(cpu0);
    emit(sl);
  }
  // Through the runtime with the same snapshot store: a fresh runtime loads the snapshot and
  // replays the tail.
  {
    auto snapshots = runtime_snapshots;
    cpu0 = cpu_seconds();
    std::vector<double> ms;
    for (int i = 0; i < reps; ++i) {
      auto rt = order_runtime(factory, snapshots, "rehydrate");
      const auto t0 = now_ns();
      auto view = rt->current_state<orders::order>(stream_name).get();
      const auto t1 = now_ns();
      check(static_cast<bool>(view), "rehydrate: current_state with snapshots failed");
      check_state(view->state, view->at, data, events, "runtime+snapshot");
      ms.push_back(static_cast<double>(t1 - t0) / 1e6);
    }
    result_line sl;
    sl.workload = "rehydrate";
    sl.name = "runtime, snapshot store";
    sl.param("events", static_cast<double>(events)).param("repeat", reps);
    sl.figure("ms", median(ms))
        .figure("effective_events_s", static_cast<double>(events) / (median(ms) / 1e3))
        .process(cpu0);
    emit(sl);
  }
  if (!o.keep_files) {
    remove_db(path);
    remove_db(path + ".model-snapshots");
  }
}

void run_first_command(const options& o, std::size_t events) {
  if (o.quick) events = std::min<std::size_t>(events, 3000);
  const std::size_t tail = 100;
  check(events > 2 * tail, "first-command: --events must exceed 200");
  const char* const name = "ttfc-1";
  const order_data data{o.seed, "USD"};
  const std::string path = o.dir + "/first-command.db";
  auto factory = fresh_sqlite_journal(path, true);
  {
    auto j = factory->open();
    check(static_cast<bool>(j), "first-command: open journal");
    std::fprintf(stderr, "[rehydrate] first command: writing one stream of %zu events\n",
                 events - tail);
    write_stream(**j, data, events - tail, name);
  }
  persistence::sqlite_snapshot_store_options sso;
  sso.path = path;
  auto snapshots = std::make_shared<persistence::sqlite_snapshot_store_factory>(sso);
  std::size_t sent = 0;
  auto add_one = [&](runtime& r) {
    auto f = r.send<orders::order>(name, data.add(events - tail - 1 + sent));
    ++sent;
    return f.get();
  };
  // Without a snapshot: the first command of a fresh runtime rebuilds the whole stream. The
  // runtime has snapshots on (every 100 events), so the next 99 commands leave a snapshot at
  // version `events` in the store, in the runtime's own format.
  double no_snapshot_ms = 0;
  {
    auto rt = order_runtime(factory, snapshots, "first-command");
    const auto t0 = now_ns();
    const auto first = add_one(*rt);
    no_snapshot_ms = static_cast<double>(now_ns() - t0) / 1e6;
    check(first.is_accepted() && first.at.value == events - tail + 1,
          "first-command: first command without snapshot: " + to_string(first));
    while (sent < tail) {
      const auto res = add_one(*rt);
      check(res.is_accepted(), "first-command: tail command: " + to_string(res));
    }
  }
  // With the snapshot: a fresh runtime each time, the time from send to the accepted reply.
  const int reps = o.quick ? 1 : std::max(1, o.repeat);
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    auto rt = order_runtime(factory, snapshots, "first-command");
    const auto t0 = now_ns();
    const auto res = add_one(*rt);
    ms.push_back(static_cast<double>(now_ns() - t0) / 1e6);
    check(res.is_accepted() && res.at.value == events + 1 + static_cast<std::uint64_t>(i),
          "first-command: with snapshot: " + to_string(res));
  }
  // The state is still exact after all of it.
  {
    auto rt = order_runtime(factory, nullptr, "first-command");
    auto view = rt->current_state<orders::order>(name).get();
    check(static_cast<bool>(view), "first-command: current_state");
    check_state(view->state, view->at, data, events + static_cast<std::size_t>(reps),
                "first-command");
  }
  result_line line;
  line.workload = "rehydrate";
  line.name = "time to first command";
  line.param("events", static_cast<double>(events))
      .param("snapshot_every", 100)
      .param("journal", std::string{"sqlite-full"})
      .param("repeat", reps);
  line.figure("with_snapshot_ms", median(ms))
      .figure("without_snapshot_ms", no_snapshot_ms)
      .figure("without_snapshot_events", static_cast<double>(events - tail))
      .figure("speedup", no_snapshot_ms / median(ms));
  emit(line);
  if (!o.keep_files) remove_db(path);
}

}  // namespace strata::bench
