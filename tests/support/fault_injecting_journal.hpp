#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include "strata/persistence/journal.hpp"

namespace strata::persistence {

/// The faults a `fault_injecting_journal` injects, shared by every instance (and the test)
/// that holds it. Switches may be flipped from any thread while journals are in use.
///
/// Counting: every `append` call through any journal using this plan counts once, whether or
/// not it fails; `fail_nth_append(n, e)` fails the n-th call counted from the moment it is set.
class fault_plan {
 public:
  /// Fails the n-th append from now (1: the next one) with `e`; nothing reaches the inner
  /// journal for that call. REQUIRES: n >= 1.
  void fail_nth_append(std::uint64_t n, error e);

  /// Fails every append with `e` while set; `std::nullopt` stops it.
  void fail_appends(std::optional<error> e);

  /// Lets appends reach the inner journal and commit, then reports `e` anyway: the caller
  /// cannot tell whether its events were written (a lost reply). `std::nullopt` stops it.
  void fail_appends_after_commit(std::optional<error> e);

  /// Fails every read (read_stream, find_command, read_all, head, last_position) with `e` while
  /// set.
  void fail_reads(std::optional<error> e);

  /// Fails `journal_factory::open` of a `fault_injecting_journal_factory` with `e` while set.
  void fail_opens(std::optional<error> e);

  /// Delays every journal call by `d` before it runs (zero: no delay).
  void set_delay(std::chrono::microseconds d);

  /// Clears every fault and the delay (the counters stay); does not release a hold.
  void clear();

  /// Holds every journal call from now on at its start (before its delay and faults) until
  /// `release`: the test decides when a load or an append may go on, instead of guessing
  /// how long it takes.
  void hold();

  /// Lets every held call go on and stops holding new ones.
  void release();

  /// The journal calls waiting at the hold now.
  std::size_t held() const;

  /// Waits, at most `limit`, until at least `n` calls wait at the hold; false when the
  /// limit passed first.
  bool wait_held(std::size_t n, std::chrono::milliseconds limit = std::chrono::seconds(20)) const;

  std::uint64_t appends_seen() const noexcept { return appends_seen_.load(); }
  std::uint64_t appends_failed() const noexcept { return appends_failed_.load(); }
  std::uint64_t reads_failed() const noexcept { return reads_failed_.load(); }

  /// What the decorator calls; not for tests.
  enum class append_verdict { pass, fail_before, fail_after };
  append_verdict on_append(std::optional<error>& e);
  std::optional<error> on_read();
  std::optional<error> on_open();
  void pause();

 private:
  mutable std::mutex mutex_;  // guards the error values below
  std::optional<error> nth_error_;
  std::optional<error> append_error_;
  std::optional<error> after_commit_error_;
  std::optional<error> read_error_;
  std::optional<error> open_error_;

  std::atomic<std::uint64_t> appends_seen_{0};
  std::atomic<std::uint64_t> appends_failed_{0};
  std::atomic<std::uint64_t> reads_failed_{0};
  std::atomic<std::uint64_t> fail_at_{0};  // the appends_seen_ count to fail; 0: none
  std::atomic<bool> any_append_fault_{false};
  std::atomic<bool> any_read_fault_{false};
  std::atomic<std::int64_t> delay_us_{0};

  mutable std::mutex gate_mutex_;  // guards holding_ and held_ with gate_changed_
  mutable std::condition_variable gate_changed_;
  std::atomic<bool> holding_{false};  // read without the lock on the fast path
  std::size_t held_ = 0;
};

/// A `journal` decorator that injects the faults of a `fault_plan` in front of another
/// journal (LevelDB's fault-injecting Env, for the journal seam). With no fault set it
/// forwards every call unchanged.
///
/// Thread-safety: as the inner journal; the plan may be changed from any thread.
class fault_injecting_journal final : public journal {
 public:
  /// REQUIRES: `inner` and `plan` are non-null.
  fault_injecting_journal(std::unique_ptr<journal> inner, std::shared_ptr<fault_plan> plan);

  result<std::vector<stream_outcome>> append(const std::vector<stream_append>& batch) override;
  result<std::vector<event_record>> read_stream(const stream_id& stream,
                                                const stream_range& range) override;
  /// Forwarded; a read as far as faults go (`fail_reads`).
  result<std::vector<event_record>> find_command(const stream_id& stream,
                                                 std::string_view command_id) override;
  result<std::vector<event_record>> read_all(global_position after, std::size_t limit) override;
  result<version> head(const stream_id& stream) override;
  result<global_position> last_position() override;
  /// The inner journal's id (read at its open: no fault applies).
  const std::string& id() const noexcept override { return inner_->id(); }

  journal& inner() noexcept { return *inner_; }

 private:
  std::unique_ptr<journal> inner_;
  std::shared_ptr<fault_plan> plan_;
};

/// Opens journals from `inner` and wraps each in a `fault_injecting_journal` sharing `plan`.
/// Thread-safety: as `inner`.
class fault_injecting_journal_factory final : public journal_factory {
 public:
  /// REQUIRES: `inner` and `plan` are non-null.
  fault_injecting_journal_factory(std::shared_ptr<journal_factory> inner,
                                  std::shared_ptr<fault_plan> plan);
  result<std::unique_ptr<journal>> open() override;
  const std::shared_ptr<fault_plan>& plan() const noexcept { return plan_; }

 private:
  std::shared_ptr<journal_factory> inner_;
  std::shared_ptr<fault_plan> plan_;
};

}  // namespace strata::persistence
