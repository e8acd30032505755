// The host the crash tests kill: a program of the public API that runs the shop (orders,
// payments, inventory, the fulfilment process and three read models) on the journal a
// configuration file names, and takes commands from a driver over its standard streams.
//
//   strata-crash-host serve   CONFIG [ARCHIVE]  commands on stdin, one answer per line on
//                                                stdout
//   strata-crash-host settle  CONFIG [ARCHIVE]  runs until the journal is quiet and every read
//                                                model and fulfilment has caught up, then
//                                                stops cleanly
//   strata-crash-host rebuild CONFIG [ARCHIVE]  builds the read models from position 0 into
//                                                the read-model store CONFIG names, then stops
//
// With ARCHIVE (an archive file beside the journal), the host archives as an operator's
// scheduled job would, on a thread of its own with its own journal and snapshot-store
// connections: once at start (completing a run a kill interrupted) once the read models have
// caught up, then every `archive_every` answers while it serves (at most `archive_runs_max`
// times per process), and once more when `settle` has settled. Each run cuts streams just
// below their newest snapshot, and only streams whose moved part every read model and the
// fulfilment process have applied (so that none of them is left below the archived part).
// `rebuild` then reads the archive and the journal together (`catch_up_with_archive`).
// Around each run it writes `archive start`, then `archive done COPIED REMOVED` or
// `archive failed MESSAGE`. STRATA_ARCHIVE_KILL_AT=after_copy|after_verify|mid_delete makes
// the process raise SIGKILL at that point of its first run that reaches it.
//
// A command line is `<command id> <kind> <aggregate id> [<argument>]`, with kinds
// `place ORDER SKU`, `add ORDER SKU`, `confirm ORDER` and `receive SKU QUANTITY`. Its answer
// is `<command id> <status> <duplicate 0|1> <event count> <event id>,...` (`-` for none).
// `ready` is written once the runtime is up; every line is flushed as it is written.
//
// Exit codes: 0 done, 2 bad usage or configuration, 3 the runtime could not start or settle.

#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "strata/domain/fulfilment/processes/fulfilment_process.hpp"
#include "strata/domain/inventory/inventory_item.hpp"
#include "strata/domain/inventory/read_models/inventory_levels.hpp"
#include "strata/domain/orders/order.hpp"
#include "strata/domain/orders/read_models/order_summary.hpp"
#include "strata/domain/payments/payment.hpp"
#include "strata/domain/payments/read_models/payments_ledger.hpp"
#include "strata/persistence/archive.hpp"
#include "strata/persistence/projection_runner.hpp"
#include "strata/persistence/read_model.hpp"
#include "strata/persistence/sqlite_journal.hpp"
#include "strata/persistence/sqlite_projection_store.hpp"
#include "strata/persistence/sqlite_snapshot_store.hpp"
#include "strata/runtime/runtime.hpp"
#if STRATA_WITH_POSTGRES
#include "strata/persistence/postgres/postgres_journal.hpp"
#include "strata/persistence/postgres/postgres_snapshot_store.hpp"
#endif

using namespace strata;

namespace {

std::mutex out_mutex;

/// Writes one line to stdout and flushes it.
void write_line(const std::string& line) {
  std::lock_guard<std::mutex> lock(out_mutex);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

/// Called after each answer (set while the archiver runs).
std::function<void()> on_answer;

void answer(const std::string& command_id, const command_result& r) {
  std::string line = command_id + " " + std::string{to_string(r.status)} + " " +
                     (r.duplicate ? "1" : "0") + " " + std::to_string(r.records.size()) + " ";
  if (r.records.empty()) line += "-";
  for (std::size_t i = 0; i < r.records.size(); ++i) {
    if (i > 0) line += ",";
    line += r.records[i].event_id;
  }
  write_line(line);
  if (on_answer) on_answer();
}

orders::line one_of(const std::string& sku) {
  return orders::line{sku, 1, money{100, "EUR"}};
}

/// Sends one command line; false for a line that names no known kind.
bool dispatch(runtime& rt, const std::string& text) {
  std::istringstream in{text};
  std::string id, kind, target, arg;
  in >> id >> kind >> target >> arg;
  if (id.empty() || target.empty()) return false;
  command_metadata m;
  m.command_id = id;
  m.user_id = "crash-driver";
  m.correlation_id = target;
  auto done = [id](command_result r) { answer(id, r); };
  if (kind == "place") {
    rt.send<orders::order>(target, orders::place{"c-" + target, "EUR", {one_of(arg)}}, m, done);
  } else if (kind == "add") {
    rt.send<orders::order>(target, orders::add_item{one_of(arg)}, m, done);
  } else if (kind == "confirm") {
    rt.send<orders::order>(target, orders::confirm{}, m, done);
  } else if (kind == "receive") {
    rt.send<inventory::inventory_item>(target, inventory::receive{std::stoi(arg)}, m, done);
  } else {
    return false;
  }
  return true;
}

result<void> add_read_models(runtime& rt, projection_start how) {
  if (auto r = rt.add_projection(std::make_shared<read_models::order_summary_projection>(), how);
      !r)
    return r;
  if (auto r = rt.add_projection(std::make_shared<read_models::inventory_levels_projection>(), how);
      !r)
    return r;
  return rt.add_projection(std::make_shared<read_models::payments_ledger_projection>(), how);
}

const std::vector<std::string_view> read_model_names = {
    read_models::order_summary_projection::projection_name,
    read_models::inventory_levels_projection::projection_name,
    read_models::payments_ledger_projection::projection_name,
};

/// Waits until every read model has applied the journal's last position, read through
/// `projection_lag`. Errors: `timeout` after `limit`.
result<global_position> wait_read_models(runtime& rt, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    global_position head{0};
    bool caught_up = true;
    for (auto name : read_model_names) {
      auto lag = rt.projection_lag(name);
      if (!lag) return std::move(lag).err();
      if (lag->head.value > head.value) head = lag->head;
      if (lag->position.value < lag->head.value) caught_up = false;
    }
    if (caught_up) {
      bool all = true;
      for (auto name : read_model_names)
        if (!rt.wait_for(name, head, std::chrono::milliseconds(100))) all = false;
      if (all) return head;
    }
    if (std::chrono::steady_clock::now() > deadline)
      return error{errc::timeout, "read models did not catch up"};
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll interval
  }
}

const std::vector<std::string_view> followers = {
    read_models::order_summary_projection::projection_name,
    read_models::inventory_levels_projection::projection_name,
    read_models::payments_ledger_projection::projection_name,
    "process:fulfilment",
};

/// The archiver's own connections to the store the configuration names.
struct store_connections {
  std::unique_ptr<persistence::journal> journal;
  std::unique_ptr<persistence::snapshot_store> snapshots;
};

result<store_connections> open_store(const runtime_config& c) {
  store_connections out;
  if (c.journal.backend == journal_backend::sqlite) {
    persistence::sqlite_journal_options jo;
    jo.path = c.journal.sqlite.path;
    auto j = persistence::sqlite_journal::open(jo);
    if (!j) return std::move(j).err();
    persistence::sqlite_snapshot_store_options so;
    so.path = c.journal.sqlite.path;
    auto s = persistence::sqlite_snapshot_store::open(so);
    if (!s) return std::move(s).err();
    out.journal = std::move(*j);
    out.snapshots = std::move(*s);
    return out;
  }
#if STRATA_WITH_POSTGRES
  if (c.journal.backend == journal_backend::postgres) {
    persistence::postgres_journal_options jo;
    jo.conninfo = c.journal.postgres.conninfo;
    jo.schema = c.journal.postgres.schema;
    auto j = persistence::postgres_journal::open(jo);
    if (!j) return std::move(j).err();
    persistence::postgres_snapshot_store_options so;
    so.conninfo = c.journal.postgres.conninfo;
    so.schema = c.journal.postgres.schema;
    auto s = persistence::postgres_snapshot_store::open(so);
    if (!s) return std::move(s).err();
    out.journal = std::move(*j);
    out.snapshots = std::move(*s);
    return out;
  }
#endif
  return error{errc::invalid_argument, "archival needs an SQLite or PostgreSQL journal"};
}

/// Archives the older part of streams into one archive file, continued by every run.
class archiver {
 public:
  static constexpr long archive_every = 120;  ///< Answers between two runs while serving.
  static constexpr int archive_runs_max = 3;  ///< Runs triggered by answers, per process.

  archiver(runtime& rt, const runtime_config& config, std::string path, bool announce)
      : rt_(rt), config_(config), path_(std::move(path)), announce_(announce) {
    if (const char* k = std::getenv("STRATA_ARCHIVE_KILL_AT"); k != nullptr) kill_at_ = k;
  }

  /// Waits (bounded) until every follower applied what the journal held, then runs once.
  result<archive_outcome> run_after_catch_up() {
    if (auto r = connect(); !r) return std::move(r).err();
    auto head = store_.journal->last_position();
    if (!head) return std::move(head).err();
    for (auto name : followers)
      if (auto r = rt_.wait_for(name, *head, std::chrono::seconds(60)); !r)
        return std::move(r).err();
    return run();
  }

  /// One run: plans with the cut-off now, keeps the streams every follower has applied
  /// through their moved part, and carries the plan out.
  result<archive_outcome> run() {
    if (announce_) write_line("archive start");
    auto out = run_unannounced();
    if (announce_)
      write_line(out ? "archive done " + std::to_string(out->copied) + " " +
                           std::to_string(out->removed)
                     : "archive failed " + to_string(out.err()));
    return out;
  }

  /// Starts the thread: a run after catch-up, then one per `archive_every` answers.
  void start() {
    on_answer = [this] {
      const long n = answers_.fetch_add(1) + 1;
      if (n % archive_every != 0 || n / archive_every > archive_runs_max) return;
      std::lock_guard<std::mutex> lock(mutex_);
      ++pending_;
      wake_.notify_one();
    };
    thread_ = std::thread{[this] {
      (void)run_after_catch_up();
      std::unique_lock<std::mutex> lock(mutex_);
      for (;;) {
        wake_.wait(lock, [this] { return stopping_ || pending_ > 0; });
        if (stopping_) return;
        --pending_;
        lock.unlock();
        (void)run();
        lock.lock();
      }
    }};
  }

  /// Stops the thread after the run under way, if any.
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      wake_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  result<void> connect() {
    if (store_.journal) return {};
    auto s = open_store(config_);
    if (!s) return std::move(s).err();
    store_ = std::move(*s);
    return {};
  }

  result<archive_outcome> run_unannounced() {
    if (auto r = connect(); !r) return std::move(r).err();
    global_position safe{~std::uint64_t{0}};
    for (auto name : followers) {
      auto lag = rt_.projection_lag(name);
      if (!lag) return std::move(lag).err();
      if (lag->position.value < safe.value) safe = lag->position;
    }
    archive_options options;
    options.now = options.cut_off = system_clock{}.now();
    options.streams_per_transaction = 2;  // several cut transactions per run
    auto plan = plan_archive(*store_.journal, *store_.snapshots, options);
    if (!plan) return std::move(plan).err();
    std::vector<archive_stream_plan> kept;
    plan->events = plan->bytes = 0;
    for (auto& s : plan->streams)
      if (s.last_position.value <= safe.value) {
        plan->events += s.events;
        plan->bytes += s.bytes;
        kept.push_back(std::move(s));
      }
    plan->streams = std::move(kept);
    archive_hooks hooks;
    if (!kill_at_.empty())
      hooks.at = [this](std::string_view point) {
        if (point == kill_at_) raise(SIGKILL);
      };
    return run_archive(*store_.journal, *plan, path_, options, hooks);
  }

  runtime& rt_;
  const runtime_config& config_;
  std::string path_;
  bool announce_;
  std::string kill_at_;
  store_connections store_;
  std::atomic<long> answers_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  int pending_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

/// Builds the read models from position 0 from the journal and the archive together, into
/// the read-model store `config` names; the journal's last position.
result<global_position> rebuild_with_archive(const runtime_config& config,
                                             const std::string& archive_path) {
  auto store = open_store(config);
  if (!store) return std::move(store).err();
  persistence::journal& j = *store->journal;
  auto archives = archive_set::open({archive_path});
  if (!archives) return std::move(archives).err();
  event_catalog catalog;
  catalog.add<orders::order>();
  catalog.add<payments::payment>();
  catalog.add<inventory::inventory_item>();
  const std::vector<std::shared_ptr<projection>> models = {
      std::make_shared<read_models::order_summary_projection>(),
      std::make_shared<read_models::inventory_levels_projection>(),
      std::make_shared<read_models::payments_ledger_projection>(),
  };
  for (const auto& model : models) {
    auto bound = bind_projection(model, catalog);
    if (!bound) return std::move(bound).err();
    persistence::sqlite_projection_store_options po;
    po.path = config.projections.path;
    auto ps = persistence::sqlite_projection_store::open(po);
    if (!ps) return std::move(ps).err();
    persistence::projection_runner runner{std::move(*bound), std::move(*ps),
                                          config.projections.on_poison,
                                          std::make_shared<system_clock>()};
    if (auto r = runner.start(j, projection_start::rebuild); !r) return std::move(r).err();
    if (auto r = catch_up_with_archive(runner, j, *archives); !r) return std::move(r).err();
  }
  return j.last_position();
}

int fail(const char* what, const error& e) {
  std::fprintf(stderr, "strata-crash-host: %s: %s\n", what, to_string(e).c_str());
  return 3;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: strata-crash-host serve|settle|rebuild CONFIG [ARCHIVE]\n");
    return 2;
  }
  const std::string mode = argv[1];
  const std::string archive_path = argc == 4 ? argv[3] : "";
  auto config = load_config(argv[2]);
  if (!config) {
    std::fprintf(stderr, "strata-crash-host: %s\n", to_string(config.err()).c_str());
    return 2;
  }
  if (mode == "rebuild" && !archive_path.empty()) {
    auto head = rebuild_with_archive(*config, archive_path);
    if (!head) return fail("rebuild", head.err());
    std::printf("rebuilt %llu\n", static_cast<unsigned long long>(head->value));
    return 0;
  }
  auto started = runtime::start(*config);
  if (!started) return fail("start", started.err());
  runtime& rt = **started;
  if (auto r = register_fulfilment_aggregates(rt); !r) return fail("register", r.err());

  if (mode == "rebuild") {
    if (auto r = add_read_models(rt, projection_start::rebuild); !r)
      return fail("add read models", r.err());
    auto head = wait_read_models(rt, std::chrono::seconds(120));
    if (!head) return fail("rebuild", head.err());
    std::printf("rebuilt %llu\n", static_cast<unsigned long long>(head->value));
    rt.stop();
    return 0;
  }

  if (auto r = add_read_models(rt, projection_start::resume); !r)
    return fail("add read models", r.err());
  auto pm = start_fulfilment(rt);
  if (!pm) return fail("start fulfilment", pm.err());

  if (mode == "settle") {
    // Quiet means: every read model at the journal's head, no fulfilment left in flight,
    // and the head unchanged across one more round of both.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    global_position last{~std::uint64_t{0}};
    for (;;) {
      auto head = wait_read_models(rt, std::chrono::seconds(60));
      if (!head) return fail("settle", head.err());
      if ((*pm)->active() == 0 && head->value == last.value) break;
      last = *head;
      if (std::chrono::steady_clock::now() > deadline)
        return fail("settle", error{errc::timeout, "fulfilments did not finish"});
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // poll interval
    }
    if (!archive_path.empty()) {
      // Completes any run a kill interrupted and moves what became old meanwhile.
      archiver a{rt, *config, archive_path, false};
      if (auto r = a.run_after_catch_up(); !r) return fail("archive", r.err());
    }
    (*pm)->stop();
    rt.stop();
    std::printf("settled %llu\n", static_cast<unsigned long long>(last.value));
    return 0;
  }

  if (mode != "serve") {
    std::fprintf(stderr, "strata-crash-host: unknown mode '%s'\n", mode.c_str());
    return 2;
  }
  write_line("ready");
  std::unique_ptr<archiver> archival;
  if (!archive_path.empty()) {
    archival = std::make_unique<archiver>(rt, *config, archive_path, true);
    archival->start();
  }
  std::string line;
  while (std::getline(std::cin, line)) {
    if (!dispatch(rt, line)) {
      std::fprintf(stderr, "strata-crash-host: malformed command line '%s'\n", line.c_str());
      if (archival) archival->stop();
      return 2;
    }
  }
  if (archival) archival->stop();
  (*pm)->stop();
  rt.stop();
  return 0;
}
