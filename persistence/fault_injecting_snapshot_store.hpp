#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "strata/persistence/fault_injecting_journal.hpp"
#include "strata/persistence/snapshot_store.hpp"

namespace strata::persistence {

/// The faults a `fault_injecting_snapshot_store` injects, shared by every store (and the test)
/// that holds it. Switches may be flipped from any thread while stores are in use. Every call
/// first passes the gate (`hold` / `release`, see `call_gate`): a held snapshot save is a slow
/// snapshot store.
class snapshot_fault_plan : public call_gate {
 public:
  /// Fails every `save` and `save_all` with `e` while set, writing nothing; `std::nullopt`
  /// stops it.
  void fail_saves(std::optional<error> e);

  /// Tears every save while set: each snapshot is written with its state cut to half its
  /// length (a write the storage reported done but did not finish), then `e` is reported.
  /// A load must find such a snapshot corrupted and fall back. `std::nullopt` stops it.
  void tear_saves(std::optional<error> e);

  /// Fails every `load_latest` and `list` with `e` while set.
  void fail_loads(std::optional<error> e);

  /// Fails `snapshot_store_factory::open` of a `fault_injecting_snapshot_store_factory`.
  void fail_opens(std::optional<error> e);

  /// Clears every fault (the counters stay); does not release a hold.
  void clear();

  /// Save calls (`save` or `save_all`) seen, failed (or torn), and snapshots torn.
  std::uint64_t saves_seen() const noexcept { return saves_seen_.load(); }
  std::uint64_t saves_failed() const noexcept { return saves_failed_.load(); }
  std::uint64_t snapshots_torn() const noexcept { return snapshots_torn_.load(); }
  std::uint64_t loads_failed() const noexcept { return loads_failed_.load(); }

  /// What the decorator calls; not for tests.
  struct save_verdict {
    std::optional<error> fail;  ///< Report this.
    bool tear = false;          ///< Write torn snapshots first.
  };
  save_verdict on_save();
  std::optional<error> on_load();
  std::optional<error> on_open();
  void count_torn(std::uint64_t n) noexcept { snapshots_torn_.fetch_add(n); }

 private:
  mutable std::mutex mutex_;  // guards the error values
  std::optional<error> save_error_;
  std::optional<error> tear_error_;
  std::optional<error> load_error_;
  std::optional<error> open_error_;
  std::atomic<std::uint64_t> saves_seen_{0};
  std::atomic<std::uint64_t> saves_failed_{0};
  std::atomic<std::uint64_t> snapshots_torn_{0};
  std::atomic<std::uint64_t> loads_failed_{0};
};

/// A `snapshot_store` decorator that injects the faults of a `snapshot_fault_plan` in front of
/// another store; with no fault set it forwards every call unchanged. `remove_stream` passes
/// only the gate.
///
/// Thread-safety: as the inner store; the plan may be changed from any thread.
class fault_injecting_snapshot_store final : public snapshot_store {
 public:
  /// REQUIRES: `inner` and `plan` are non-null.
  fault_injecting_snapshot_store(std::unique_ptr<snapshot_store> inner,
                                 std::shared_ptr<snapshot_fault_plan> plan);

  result<void> save(const snapshot_record& s) override;
  result<void> save_all(const std::vector<snapshot_record>& batch) override;
  result<std::optional<snapshot_record>> load_latest(const stream_id& stream,
                                                     version at_or_below) override;
  result<std::vector<snapshot_record>> list(const stream_id& stream) override;
  result<void> remove_stream(const stream_id& stream) override;

  snapshot_store& inner() noexcept { return *inner_; }

 private:
  std::unique_ptr<snapshot_store> inner_;
  std::shared_ptr<snapshot_fault_plan> plan_;
};

/// Opens stores from `inner` and wraps each in a `fault_injecting_snapshot_store` sharing
/// `plan`. Thread-safety: as `inner`.
class fault_injecting_snapshot_store_factory final : public snapshot_store_factory {
 public:
  /// REQUIRES: `inner` and `plan` are non-null.
  fault_injecting_snapshot_store_factory(std::shared_ptr<snapshot_store_factory> inner,
                                         std::shared_ptr<snapshot_fault_plan> plan);
  result<std::unique_ptr<snapshot_store>> open() override;
  const std::shared_ptr<snapshot_fault_plan>& plan() const noexcept { return plan_; }

 private:
  std::shared_ptr<snapshot_store_factory> inner_;
  std::shared_ptr<snapshot_fault_plan> plan_;
};

}  // namespace strata::persistence
