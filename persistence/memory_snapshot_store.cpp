#include "strata/persistence/memory_snapshot_store.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace strata::persistence {

struct memory_snapshot_store_factory::storage {
  std::size_t keep_last;
  std::mutex mutex;
  std::unordered_map<stream_id, std::map<std::uint64_t, snapshot_record>> streams;
};

namespace {

class memory_snapshot_store final : public snapshot_store {
 public:
  explicit memory_snapshot_store(std::shared_ptr<memory_snapshot_store_factory::storage> s)
      : storage_(std::move(s)) {}

  result<void> save(const snapshot_record& s) override {
    if (auto checked = check_snapshot(s); !checked) return checked;
    std::lock_guard lock{storage_->mutex};
    auto& kept = storage_->streams[s.stream];
    kept.insert_or_assign(s.at.value, s);
    while (kept.size() > storage_->keep_last) kept.erase(kept.begin());
    return ok();
  }

  result<std::optional<snapshot_record>> load_latest(const stream_id& stream,
                                                     version at_or_below) override {
    std::lock_guard lock{storage_->mutex};
    auto found = storage_->streams.find(stream);
    if (found == storage_->streams.end()) return std::optional<snapshot_record>{};
    auto& kept = found->second;
    auto above = kept.upper_bound(at_or_below.value);
    if (above == kept.begin()) return std::optional<snapshot_record>{};
    return std::optional<snapshot_record>{std::prev(above)->second};
  }

  result<std::vector<snapshot_record>> list(const stream_id& stream) override {
    std::lock_guard lock{storage_->mutex};
    std::vector<snapshot_record> out;
    auto found = storage_->streams.find(stream);
    if (found == storage_->streams.end()) return out;
    for (const auto& [at, s] : found->second) out.push_back(s);
    return out;
  }

  result<void> remove_stream(const stream_id& stream) override {
    std::lock_guard lock{storage_->mutex};
    storage_->streams.erase(stream);
    return ok();
  }

 private:
  std::shared_ptr<memory_snapshot_store_factory::storage> storage_;
};

}  // namespace

memory_snapshot_store_factory::memory_snapshot_store_factory(memory_snapshot_store_options options)
    : storage_(std::make_shared<storage>()) {
  storage_->keep_last = std::max<std::size_t>(1, options.keep_last);
}

memory_snapshot_store_factory::~memory_snapshot_store_factory() = default;

result<std::unique_ptr<snapshot_store>> memory_snapshot_store_factory::open() {
  return std::unique_ptr<snapshot_store>{std::make_unique<memory_snapshot_store>(storage_)};
}

}  // namespace strata::persistence
