#include "strata/persistence/fault_injecting_snapshot_store.hpp"

#include <cassert>
#include <utility>

namespace strata::persistence {

void snapshot_fault_plan::fail_saves(std::optional<error> e) {
  std::lock_guard lock{mutex_};
  save_error_ = std::move(e);
}

void snapshot_fault_plan::tear_saves(std::optional<error> e) {
  std::lock_guard lock{mutex_};
  tear_error_ = std::move(e);
}

void snapshot_fault_plan::fail_loads(std::optional<error> e) {
  std::lock_guard lock{mutex_};
  load_error_ = std::move(e);
}

void snapshot_fault_plan::fail_opens(std::optional<error> e) {
  std::lock_guard lock{mutex_};
  open_error_ = std::move(e);
}

void snapshot_fault_plan::clear() {
  std::lock_guard lock{mutex_};
  save_error_.reset();
  tear_error_.reset();
  load_error_.reset();
  open_error_.reset();
}

snapshot_fault_plan::save_verdict snapshot_fault_plan::on_save() {
  saves_seen_.fetch_add(1);
  std::lock_guard lock{mutex_};
  save_verdict v;
  if (save_error_) {
    v.fail = save_error_;
  } else if (tear_error_) {
    v.fail = tear_error_;
    v.tear = true;
  } else {
    return v;
  }
  saves_failed_.fetch_add(1);
  return v;
}

std::optional<error> snapshot_fault_plan::on_load() {
  std::lock_guard lock{mutex_};
  if (load_error_) loads_failed_.fetch_add(1);
  return load_error_;
}

std::optional<error> snapshot_fault_plan::on_open() {
  std::lock_guard lock{mutex_};
  return open_error_;
}

namespace {

// The snapshot as a torn write leaves it: the first half of its state.
snapshot_record torn(snapshot_record s) {
  s.state.resize(s.state.size() / 2);
  return s;
}

}  // namespace

fault_injecting_snapshot_store::fault_injecting_snapshot_store(
    std::unique_ptr<snapshot_store> inner, std::shared_ptr<snapshot_fault_plan> plan)
    : inner_(std::move(inner)), plan_(std::move(plan)) {
  assert(inner_ && plan_);
}

result<void> fault_injecting_snapshot_store::save(const snapshot_record& s) {
  plan_->pass();
  auto v = plan_->on_save();
  if (!v.fail) return inner_->save(s);
  if (v.tear) {
    if (auto written = inner_->save(torn(s)); !written) return written;
    plan_->count_torn(1);
  }
  return std::move(*v.fail);
}

result<void> fault_injecting_snapshot_store::save_all(const std::vector<snapshot_record>& batch) {
  plan_->pass();
  auto v = plan_->on_save();
  if (!v.fail) return inner_->save_all(batch);
  if (v.tear) {
    std::vector<snapshot_record> cut;
    cut.reserve(batch.size());
    for (const auto& s : batch) cut.push_back(torn(s));
    if (auto written = inner_->save_all(cut); !written) return written;
    plan_->count_torn(cut.size());
  }
  return std::move(*v.fail);
}

result<std::optional<snapshot_record>> fault_injecting_snapshot_store::load_latest(
    const stream_id& stream, version at_or_below) {
  plan_->pass();
  if (auto e = plan_->on_load()) return std::move(*e);
  return inner_->load_latest(stream, at_or_below);
}

result<std::vector<snapshot_record>> fault_injecting_snapshot_store::list(const stream_id& stream) {
  plan_->pass();
  if (auto e = plan_->on_load()) return std::move(*e);
  return inner_->list(stream);
}

result<void> fault_injecting_snapshot_store::remove_stream(const stream_id& stream) {
  plan_->pass();
  return inner_->remove_stream(stream);
}

fault_injecting_snapshot_store_factory::fault_injecting_snapshot_store_factory(
    std::shared_ptr<snapshot_store_factory> inner, std::shared_ptr<snapshot_fault_plan> plan)
    : inner_(std::move(inner)), plan_(std::move(plan)) {
  assert(inner_ && plan_);
}

result<std::unique_ptr<snapshot_store>> fault_injecting_snapshot_store_factory::open() {
  if (auto e = plan_->on_open()) return std::move(*e);
  auto s = inner_->open();
  if (!s) return std::move(s).err();
  return std::unique_ptr<snapshot_store>{
      std::make_unique<fault_injecting_snapshot_store>(std::move(*s), plan_)};
}

}  // namespace strata::persistence
