#include "runtime/runtime.hpp"

#include "persistence/memory_journal.hpp"
#include "persistence/sqlite_journal.hpp"

namespace strata {

timestamp system_clock::now() const {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}

namespace {

result<std::shared_ptr<persistence::journal_factory>> make_journal(const journal_config& c) {
  if (c.backend == "memory")
    return std::shared_ptr<persistence::journal_factory>{
        std::make_shared<persistence::memory_journal_factory>()};
  if (c.backend == "sqlite") {
    persistence::sqlite_journal_options o;
    o.path = c.sqlite.path;
    o.sync = c.sqlite.synchronous == "normal"
                 ? persistence::sqlite_journal_options::durability::normal
                 : persistence::sqlite_journal_options::durability::full;
    return std::shared_ptr<persistence::journal_factory>{
        std::make_shared<persistence::sqlite_journal_factory>(o)};
  }
  return error{errc::invalid_argument, "journal backend \"" + c.backend + "\" is not available"};
}

}  // namespace

result<std::unique_ptr<runtime>> runtime::start(const runtime_config& config,
                                                runtime_overrides overrides) {
  std::shared_ptr<persistence::journal_factory> journal = std::move(overrides.journal);
  if (!journal) {
    auto made = make_journal(config.journal);
    if (!made) return std::move(made).err();
    journal = std::move(*made);
  }
  std::shared_ptr<const clock> clk = std::move(overrides.clock);
  if (!clk) clk = std::make_shared<system_clock>();

  actors::engine_options o;
  o.scheduler_threads = config.scheduler_threads;
  o.reader_threads = config.journal.reader_threads;
  o.writer.max_batch_events = config.journal.max_batch_events;
  o.writer.max_wait = std::chrono::microseconds{config.journal.max_wait_us};
  o.max_in_flight_per_type = config.commands.max_in_flight_per_type;
  o.command_timeout = std::chrono::milliseconds{config.commands.timeout_ms};
  o.idle_timeout = std::chrono::milliseconds{config.aggregates.idle_timeout_ms};
  o.idempotency_window = config.commands.idempotency_window;
  auto eng = actors::engine::start(o, journal, std::move(clk));
  if (!eng) return std::move(eng).err();
  return std::unique_ptr<runtime>{new runtime{config, std::move(journal), std::move(*eng)}};
}

runtime::runtime(runtime_config config, std::shared_ptr<persistence::journal_factory> journal,
                 std::unique_ptr<actors::engine> engine)
    : config_(std::move(config)), journal_(std::move(journal)), engine_(std::move(engine)) {}

runtime::~runtime() {
  stop();
}

void runtime::stop(std::chrono::milliseconds drain_timeout) {
  engine_->stop(drain_timeout);
}

}  // namespace strata
