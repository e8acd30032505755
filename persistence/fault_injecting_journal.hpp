#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/persistence/forwarding_journal.hpp"
#include "strata/persistence/journal.hpp"

namespace strata::persistence {

/// A gate that a fault-injecting decorator passes at the start of each call: while it holds,
/// every call waits there until `release`, so a test decides when a slow store goes on instead
/// of guessing how long it takes. Shared by the fault plans of the journal, the snapshot store
/// and the read-model store. Thread-safety: any thread.
class call_gate {
 public:
  /// Holds every call from now on at its start until `release`.
  void hold();

  /// Lets every held call go on and stops holding new ones.
  void release();

  /// The calls waiting at the hold now.
  std::size_t held() const;

  /// Waits, at most `limit`, until at least `n` calls wait at the hold; false when the
  /// limit passed first.
  bool wait_held(std::size_t n, std::chrono::milliseconds limit = std::chrono::seconds(20)) const;

  /// What a decorator calls at the start of each call: waits while the gate holds.
  void pass();

 private:
  mutable std::mutex mutex_;  // guards holding_ (for writers) and held_ with changed_
  mutable std::condition_variable changed_;
  std::atomic<bool> holding_{false};  // read without the lock on the fast path
  std::size_t held_ = 0;
};

/// The faults a `fault_injecting_journal` injects, shared by every instance (and the test)
/// that holds it. Switches may be flipped from any thread while journals are in use.
///
/// Counting: every `append` call through any journal using this plan counts once, whether or
/// not it fails; `fail_nth_append(n, e)` fails the n-th call counted from the moment it is set.
class fault_plan : public call_gate {
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

  // hold(), release(), held(), wait_held(): the `call_gate`, passed at the start of every
  // journal call (before its delay and faults).

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
};

/// A `journal` decorator that injects the faults of a `fault_plan` in front of another
/// journal (LevelDB's fault-injecting Env, for the journal seam). With no fault set it
/// forwards every call unchanged; a method it does not name (and one added to `journal`
/// later) is forwarded by `forwarding_journal`. Every call passes the plan's gate and delay;
/// reads (`read_stream`, `for_each_in_stream`, `find_command`, `read_all`, `head`,
/// `last_position`, `anchor`, `anchors`, `archived`) obey `fail_reads`, `append` the append
/// faults, `cut` only the gate and delay.
///
/// Thread-safety: as the inner journal; the plan may be changed from any thread.
class fault_injecting_journal final : public forwarding_journal {
 public:
  /// REQUIRES: `inner` and `plan` are non-null.
  fault_injecting_journal(std::unique_ptr<journal> inner, std::shared_ptr<fault_plan> plan);

  result<std::vector<stream_outcome>> append(const std::vector<stream_append>& batch) override;
  result<std::vector<event_record>> read_stream(const stream_id& stream,
                                                const stream_range& range) override;
  result<std::size_t> for_each_in_stream(const stream_id& stream, const stream_range& range,
                                         const event_visitor& visit) override;
  result<std::vector<event_record>> find_command(const stream_id& stream,
                                                 std::string_view command_id) override;
  result<std::vector<event_record>> read_all(global_position after, std::size_t limit) override;
  result<version> head(const stream_id& stream) override;
  result<global_position> last_position() override;
  result<std::optional<stream_anchor>> anchor(const stream_id& stream) override;
  result<std::vector<stream_anchor>> anchors() override;
  result<std::optional<archive_mark>> archived() override;
  result<std::uint64_t> cut(const std::vector<stream_cut>& cuts,
                            const std::string& archive) override;

  /// The decorated journal (a test reaches a backend's own methods through it).
  journal& inner() noexcept { return *owned_; }

 private:
  template <class Fn>
  auto read(Fn&& fn) -> decltype(fn());

  std::unique_ptr<journal> owned_;
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
