#include "strata/persistence/fault_injecting_journal.hpp"

#include <cassert>
#include <thread>
#include <utility>

namespace strata::persistence {

void fault_plan::fail_nth_append(std::uint64_t n, error e) {
  assert(n >= 1);
  std::lock_guard lock{mutex_};
  nth_error_ = std::move(e);
  fail_at_.store(appends_seen_.load() + n);
  any_append_fault_.store(true);
}

void fault_plan::fail_appends(std::optional<error> e) {
  std::lock_guard lock{mutex_};
  append_error_ = std::move(e);
  any_append_fault_.store(true);
}

void fault_plan::fail_appends_after_commit(std::optional<error> e) {
  std::lock_guard lock{mutex_};
  after_commit_error_ = std::move(e);
  any_append_fault_.store(true);
}

void fault_plan::fail_reads(std::optional<error> e) {
  std::lock_guard lock{mutex_};
  read_error_ = std::move(e);
  any_read_fault_.store(read_error_.has_value());
}

void fault_plan::fail_opens(std::optional<error> e) {
  std::lock_guard lock{mutex_};
  open_error_ = std::move(e);
}

void fault_plan::set_delay(std::chrono::microseconds d) {
  delay_us_.store(d.count());
}

void fault_plan::clear() {
  std::lock_guard lock{mutex_};
  nth_error_.reset();
  append_error_.reset();
  after_commit_error_.reset();
  read_error_.reset();
  open_error_.reset();
  fail_at_.store(0);
  any_append_fault_.store(false);
  any_read_fault_.store(false);
  delay_us_.store(0);
}

fault_plan::append_verdict fault_plan::on_append(std::optional<error>& e) {
  const std::uint64_t count = appends_seen_.fetch_add(1) + 1;
  if (!any_append_fault_.load()) return append_verdict::pass;
  std::lock_guard lock{mutex_};
  if (fail_at_.load() == count && nth_error_) {
    e = nth_error_;
    nth_error_.reset();
    fail_at_.store(0);
  } else if (append_error_) {
    e = append_error_;
  } else if (after_commit_error_) {
    e = after_commit_error_;
    appends_failed_.fetch_add(1);
    return append_verdict::fail_after;
  } else {
    return append_verdict::pass;
  }
  appends_failed_.fetch_add(1);
  return append_verdict::fail_before;
}

std::optional<error> fault_plan::on_read() {
  if (!any_read_fault_.load()) return std::nullopt;
  std::lock_guard lock{mutex_};
  if (read_error_) reads_failed_.fetch_add(1);
  return read_error_;
}

std::optional<error> fault_plan::on_open() {
  std::lock_guard lock{mutex_};
  return open_error_;
}

void call_gate::hold() {
  std::lock_guard lock{mutex_};
  holding_.store(true);
}

void call_gate::release() {
  {
    std::lock_guard lock{mutex_};
    holding_.store(false);
  }
  changed_.notify_all();
}

std::size_t call_gate::held() const {
  std::lock_guard lock{mutex_};
  return held_;
}

bool call_gate::wait_held(std::size_t n, std::chrono::milliseconds limit) const {
  std::unique_lock lock{mutex_};
  return changed_.wait_for(lock, limit, [&] { return held_ >= n; });
}

void call_gate::pass() {
  if (!holding_.load()) return;
  std::unique_lock lock{mutex_};
  if (!holding_.load()) return;
  ++held_;
  changed_.notify_all();
  changed_.wait(lock, [&] { return !holding_.load(); });
  --held_;
}

void fault_plan::pause() {
  pass();
  const std::int64_t us = delay_us_.load();
  if (us > 0) std::this_thread::sleep_for(std::chrono::microseconds{us});
}

fault_injecting_journal::fault_injecting_journal(std::unique_ptr<journal> inner,
                                                 std::shared_ptr<fault_plan> plan)
    : forwarding_journal(*inner), owned_(std::move(inner)), plan_(std::move(plan)) {
  assert(plan_);
}

template <class Fn>
auto fault_injecting_journal::read(Fn&& fn) -> decltype(fn()) {
  plan_->pause();
  if (auto e = plan_->on_read()) return std::move(*e);
  return fn();
}

result<std::vector<stream_outcome>> fault_injecting_journal::append(
    const std::vector<stream_append>& batch) {
  plan_->pause();
  std::optional<error> e;
  switch (plan_->on_append(e)) {
    case fault_plan::append_verdict::pass:
      return inner().append(batch);
    case fault_plan::append_verdict::fail_before:
      return std::move(*e);
    case fault_plan::append_verdict::fail_after: {
      auto written = inner().append(batch);
      if (!written) return std::move(written).err();
      return std::move(*e);
    }
  }
  return error{errc::internal, "unknown fault verdict"};
}

result<std::vector<event_record>> fault_injecting_journal::read_stream(const stream_id& stream,
                                                                       const stream_range& range) {
  return read([&] { return inner().read_stream(stream, range); });
}

result<std::size_t> fault_injecting_journal::for_each_in_stream(const stream_id& stream,
                                                                const stream_range& range,
                                                                const event_visitor& visit) {
  return read([&] { return inner().for_each_in_stream(stream, range, visit); });
}

result<std::vector<event_record>> fault_injecting_journal::find_command(
    const stream_id& stream, std::string_view command_id) {
  return read([&] { return inner().find_command(stream, command_id); });
}

result<std::vector<event_record>> fault_injecting_journal::read_all(global_position after,
                                                                    std::size_t limit) {
  return read([&] { return inner().read_all(after, limit); });
}

result<version> fault_injecting_journal::head(const stream_id& stream) {
  return read([&] { return inner().head(stream); });
}

result<global_position> fault_injecting_journal::last_position() {
  return read([&] { return inner().last_position(); });
}

result<std::optional<stream_anchor>> fault_injecting_journal::anchor(const stream_id& stream) {
  return read([&] { return inner().anchor(stream); });
}

result<std::vector<stream_anchor>> fault_injecting_journal::anchors() {
  return read([&] { return inner().anchors(); });
}

result<std::optional<archive_mark>> fault_injecting_journal::archived() {
  return read([&] { return inner().archived(); });
}

result<std::uint64_t> fault_injecting_journal::cut(const std::vector<stream_cut>& cuts,
                                                   const std::string& archive) {
  plan_->pause();
  return inner().cut(cuts, archive);
}

fault_injecting_journal_factory::fault_injecting_journal_factory(
    std::shared_ptr<journal_factory> inner, std::shared_ptr<fault_plan> plan)
    : inner_(std::move(inner)), plan_(std::move(plan)) {
  assert(inner_ && plan_);
}

result<std::unique_ptr<journal>> fault_injecting_journal_factory::open() {
  if (auto e = plan_->on_open()) return std::move(*e);
  auto j = inner_->open();
  if (!j) return std::move(j).err();
  return std::unique_ptr<journal>{std::make_unique<fault_injecting_journal>(std::move(*j), plan_)};
}

}  // namespace strata::persistence
