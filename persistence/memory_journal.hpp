#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "strata/persistence/journal.hpp"

namespace strata::persistence {

/// A journal held in memory: the full journal contract (group commit, per-stream conflicts,
/// gap-free positions, audit hashes from `chain_hash`) without durability. For tests, for the
/// in-memory runtime and as the reference the conformance suite holds the other backends to.
///
/// Thread-safety: the store behind an instance is internally synchronised (one writer at a
/// time, readers in parallel), so instances sharing a store (see `memory_journal_factory`)
/// may be used from different threads at once. One instance is still meant for one thread at
/// a time, like every `journal`.
///
/// Command ids are kept per stream in a hash map (id -> first version), so `append` answers
/// `duplicate` and `find_command` finds a command without scanning.
///
/// Errors: `invalid_argument` when a batch breaks the REQUIRES of `journal::append` (nothing
/// is written then); `conflict` or `duplicate` per stream. It never returns `unavailable` or
/// `corrupted`.
class memory_journal final : public journal {
 public:
  /// A journal over a fresh, empty store of its own.
  memory_journal();
  ~memory_journal() override;

  result<std::vector<stream_outcome>> append(const std::vector<stream_append>& batch) override;
  result<std::vector<event_record>> read_stream(const stream_id& stream,
                                                const stream_range& range) override;
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
  /// The id of the store, made with it: shared by every instance over the same store.
  const std::string& id() const noexcept override;

  struct store;  ///< The shared state; opaque outside memory_journal.cpp.

  /// A journal over `s`, shared with other instances (used by `memory_journal_factory`).
  /// REQUIRES: `s` is non-null.
  explicit memory_journal(std::shared_ptr<store> s);

 private:
  std::shared_ptr<store> store_;
};

/// Opens `memory_journal` instances that all share one store, which lives as long as the
/// factory or any instance it opened. `open()` never fails.
/// Thread-safety: `open()` may be called from any thread.
class memory_journal_factory final : public journal_factory {
 public:
  memory_journal_factory();
  result<std::unique_ptr<journal>> open() override;
  bool blocks() const noexcept override { return false; }

 private:
  std::shared_ptr<memory_journal::store> store_;
};

}  // namespace strata::persistence
