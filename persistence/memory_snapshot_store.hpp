#pragma once

#include <cstddef>
#include <memory>

#include "strata/persistence/snapshot_store.hpp"

namespace strata::persistence {

/// Options of the in-memory snapshot store.
struct memory_snapshot_store_options {
  std::size_t keep_last = default_snapshots_kept;  ///< REQUIRES: >= 1.
};

/// A snapshot storage in memory, shared by every store its factory opens (synchronised by a
/// mutex, so the instances may be used from different threads at once). Lives as long as the
/// factory or any store opened from it. Never fails except for broken REQUIRES.
class memory_snapshot_store_factory final : public snapshot_store_factory {
 public:
  explicit memory_snapshot_store_factory(memory_snapshot_store_options options = {});
  ~memory_snapshot_store_factory() override;

  result<std::unique_ptr<snapshot_store>> open() override;

  struct storage;

 private:
  std::shared_ptr<storage> storage_;
};

}  // namespace strata::persistence
