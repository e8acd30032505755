#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "strata/persistence/fault_injecting_journal.hpp"
#include "strata/persistence/projection_store.hpp"

namespace strata::persistence {

/// The faults a `fault_injecting_projection_store` injects, shared by every store (and the
/// test) that holds it. Switches may be flipped from any thread while stores are in use.
/// `begin` and `commit` first pass the gate (`hold` / `release`, see `call_gate`): a held
/// transaction is a slow read-model store.
///
/// Counting: every `commit` through any store using this plan counts once, whether or not it
/// fails; `fail_nth_commit(n, e)` fails the n-th commit counted from the moment it is set.
class projection_store_fault_plan : public call_gate {
 public:
  /// Fails every `begin` with `e` while set (the database cannot be reached).
  void fail_begins(std::optional<error> e);

  /// Fails every write of a transaction (`execute`, `flush`, `save_checkpoint`, `park`,
  /// `unpark`, `forget`) with `e` while set: nothing of it reaches the database.
  void fail_writes(std::optional<error> e);

  /// Rolls back every commit and reports `e` while set.
  void fail_commits(std::optional<error> e);

  /// Rolls back the n-th commit from now (1: the next one) and reports `e`, as if the process
  /// died between applying a batch and storing its checkpoint. REQUIRES: n >= 1.
  void fail_nth_commit(std::uint64_t n, error e);

  /// Tears every commit while set: the transaction commits (read-model rows and checkpoint
  /// together), then `e` is reported, so the caller cannot tell whether it happened (a reply
  /// lost with the connection). `std::nullopt` stops it.
  void lose_commit_replies(std::optional<error> e);

  /// Clears every fault (the counters stay); does not release a hold.
  void clear();

  std::uint64_t commits_seen() const noexcept { return commits_seen_.load(); }
  /// Commits failed, rolled back or torn.
  std::uint64_t commits_failed() const noexcept { return commits_failed_.load(); }
  std::uint64_t writes_failed() const noexcept { return writes_failed_.load(); }

  /// What the decorator calls; not for tests.
  enum class commit_verdict { pass, fail_before, fail_after };
  commit_verdict on_commit(std::optional<error>& e);
  std::optional<error> on_write();
  std::optional<error> on_begin();

 private:
  mutable std::mutex mutex_;  // guards the error values
  std::optional<error> begin_error_;
  std::optional<error> write_error_;
  std::optional<error> commit_error_;
  std::optional<error> nth_error_;
  std::optional<error> lost_reply_error_;
  std::uint64_t fail_at_ = 0;  // the commits_seen_ count to fail; 0: none
  std::atomic<bool> any_write_fault_{false};
  std::atomic<std::uint64_t> commits_seen_{0};
  std::atomic<std::uint64_t> commits_failed_{0};
  std::atomic<std::uint64_t> writes_failed_{0};
};

/// A `projection_store` decorator that injects the faults of a `projection_store_fault_plan`
/// into the transactions it begins; with no fault set it forwards every call unchanged. Reads
/// outside a transaction (`query`, `load_checkpoint`, `dead_letters`) are forwarded as they
/// are, so a test can look at the read model while the writes fail.
///
/// Thread-safety: as the inner store; the plan may be changed from any thread.
class fault_injecting_projection_store final : public projection_store {
 public:
  /// REQUIRES: `inner` and `plan` are non-null.
  fault_injecting_projection_store(std::unique_ptr<projection_store> inner,
                                   std::shared_ptr<projection_store_fault_plan> plan);

  result<std::unique_ptr<projection_transaction>> begin() override;
  result<std::vector<sql_row>> query(std::string_view sql,
                                     const std::vector<sql_value>& params = {}) override;
  result<checkpoint> load_checkpoint(std::string_view projection) override;
  result<std::vector<dead_letter>> dead_letters(std::string_view projection) override;

  projection_store& inner() noexcept { return *inner_; }

 private:
  std::unique_ptr<projection_store> inner_;
  std::shared_ptr<projection_store_fault_plan> plan_;
};

/// Opens stores from `inner` and wraps each in a `fault_injecting_projection_store` sharing
/// `plan`. Thread-safety: as `inner`.
class fault_injecting_projection_store_factory final : public projection_store_factory {
 public:
  /// REQUIRES: `inner` and `plan` are non-null.
  fault_injecting_projection_store_factory(std::shared_ptr<projection_store_factory> inner,
                                           std::shared_ptr<projection_store_fault_plan> plan);
  result<std::unique_ptr<projection_store>> open() override;
  const std::shared_ptr<projection_store_fault_plan>& plan() const noexcept { return plan_; }

 private:
  std::shared_ptr<projection_store_factory> inner_;
  std::shared_ptr<projection_store_fault_plan> plan_;
};

}  // namespace strata::persistence
