#pragma once

// Journal helpers of the bench: a counting decorator that records the group-commit batch
// sizes the writer used, the end-of-run verification of a journal, and the bare-driver
// ceilings that strata's write rate is compared against.

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "strata/persistence/journal.hpp"
#include "tools/bench/common.hpp"

namespace strata::bench {

/// Forwards to another factory's journals and records the event count of every successful
/// append batch (the writer's group-commit sizes). Thread-safe.
class counting_factory final : public persistence::journal_factory {
 public:
  explicit counting_factory(std::shared_ptr<persistence::journal_factory> inner);
  result<std::unique_ptr<persistence::journal>> open() override;
  bool blocks() const noexcept override { return inner_->blocks(); }

  /// Batch sizes (events per append call) recorded so far, in order.
  std::vector<std::size_t> batches() const;
  void clear();
  void record(std::size_t events);

 private:
  std::shared_ptr<persistence::journal_factory> inner_;
  mutable std::mutex mutex_;
  std::vector<std::size_t> batches_;
};

/// Batch statistics: count, mean, median, max.
struct batch_summary {
  std::size_t count = 0;
  double mean = 0;
  std::size_t median = 0;
  std::size_t max = 0;
};
batch_summary summarize_batches(std::vector<std::size_t> b);

/// What a verified journal holds.
struct journal_census {
  std::uint64_t events = 0;
  std::uint64_t streams = 0;
};

/// Reads the whole journal in global order and fails the run unless positions are unique and
/// gap-free from 1 and every stream's versions run 1, 2, 3, ... without a gap.
journal_census verify_journal(persistence::journal& j, const std::string& label);

/// Reads every record of the journal (global order).
std::vector<persistence::event_record> read_everything(persistence::journal& j);

// The SQLite C API for the ceilings, failing the run on any error: `sq` runs a statement,
// `prep` prepares one, `step_done` steps it to its end and resets it, `text` binds a string
// (SQLITE_STATIC: `v` must outlive the step).
void sq(sqlite3* db, const char* sql);
sqlite3_stmt* prep(sqlite3* db, const char* sql);
void step_done(sqlite3* db, sqlite3_stmt* s);
void text(sqlite3_stmt* s, int i, const std::string& v);

/// Inserts `rows` into a fresh SQLite file at `path` with the journal's table shape and
/// pragmas (WAL, synchronous FULL or NORMAL, same cache size), `batch` events per
/// transaction, through the SQLite C API. Each transaction inserts the event rows and
/// updates or inserts the streams rows they belong to. Returns events per second.
/// When `untimed_source` is set, the file is first filled (untimed) with the chunks it returns
/// until it returns false: the preloaded case.
/// When `tx_latency_ns` is set, the duration of every timed transaction is appended to it.
double sqlite_ceiling(
    const std::string& path, bool full, const std::vector<persistence::event_record>& rows,
    std::size_t batch,
    const std::function<bool(std::vector<persistence::event_record>&)>& untimed_source = {},
    std::vector<std::int64_t>* tx_latency_ns = nullptr);

/// The same through libpq on PostgreSQL (the journal's tables, keys and constraints in schema
/// `schema`, dropped first, and dropped again at the end), `batch` events per transaction: each
/// transaction is one set-based statement (unnest of array parameters) that inserts the new
/// streams, moves the other streams' head and last_hash, sets the position counter and inserts
/// the events, as the journal's write does (without its locks; hashes and positions are the
/// rows'). Returns events per second; fails the run unless the tables hold exactly that.
double postgres_ceiling(const std::string& conninfo, const std::string& schema,
                        const std::vector<persistence::event_record>& rows, std::size_t batch,
                        std::vector<std::int64_t>* tx_latency_ns = nullptr);

/// Appends `events` valid Order events over `streams` streams ("Order-<prefix><k>", k from 0)
/// straight into `j`, about `per_tx` events per append (100 streams x per_tx/100 events each;
/// streams taken round-robin). Stream k's first event is OrderPlaced (customer
/// "customer-<k mod 997>", total 0), its n-th after that the ItemAdded of `data.add(n)`.
/// Returns the head version of every stream. Fails the run on any error.
std::vector<std::uint64_t> append_orders(persistence::journal& j, const order_data& data,
                                         std::uint64_t events, std::size_t streams,
                                         const std::string& prefix, std::size_t per_tx = 1000);

/// The sum of quantity x unit price over `data.add(first_n)` .. `data.add(first_n + count - 1)`:
/// the expected total of an order that received exactly those items.
std::int64_t added_total(const order_data& data, std::uint64_t first_n, std::uint64_t count);

/// Drops `schema` (CASCADE) if it exists, so a run starts on empty tables.
void postgres_drop_schema(const std::string& conninfo, const std::string& schema);

}  // namespace strata::bench
