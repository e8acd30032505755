#include "strata/persistence/fault_injecting_projection_store.hpp"

#include <cassert>
#include <string>
#include <utility>

namespace strata::persistence {

void projection_store_fault_plan::fail_begins(std::optional<error> e) {
  std::lock_guard lock{mutex_};
  begin_error_ = std::move(e);
}

void projection_store_fault_plan::fail_writes(std::optional<error> e) {
  std::lock_guard lock{mutex_};
  any_write_fault_.store(e.has_value());
  write_error_ = std::move(e);
}

void projection_store_fault_plan::fail_commits(std::optional<error> e) {
  std::lock_guard lock{mutex_};
  commit_error_ = std::move(e);
}

void projection_store_fault_plan::fail_nth_commit(std::uint64_t n, error e) {
  assert(n >= 1);
  std::lock_guard lock{mutex_};
  nth_error_ = std::move(e);
  fail_at_ = commits_seen_.load() + n;
}

void projection_store_fault_plan::lose_commit_replies(std::optional<error> e) {
  std::lock_guard lock{mutex_};
  lost_reply_error_ = std::move(e);
}

void projection_store_fault_plan::clear() {
  std::lock_guard lock{mutex_};
  begin_error_.reset();
  write_error_.reset();
  commit_error_.reset();
  nth_error_.reset();
  lost_reply_error_.reset();
  fail_at_ = 0;
  any_write_fault_.store(false);
}

projection_store_fault_plan::commit_verdict projection_store_fault_plan::on_commit(
    std::optional<error>& e) {
  const std::uint64_t count = commits_seen_.fetch_add(1) + 1;
  std::lock_guard lock{mutex_};
  commit_verdict v = commit_verdict::fail_before;
  if (fail_at_ == count && nth_error_) {
    e = std::move(nth_error_);
    nth_error_.reset();
    fail_at_ = 0;
  } else if (commit_error_) {
    e = commit_error_;
  } else if (lost_reply_error_) {
    e = lost_reply_error_;
    v = commit_verdict::fail_after;
  } else {
    return commit_verdict::pass;
  }
  commits_failed_.fetch_add(1);
  return v;
}

std::optional<error> projection_store_fault_plan::on_write() {
  if (!any_write_fault_.load()) return std::nullopt;
  std::lock_guard lock{mutex_};
  if (write_error_) writes_failed_.fetch_add(1);
  return write_error_;
}

std::optional<error> projection_store_fault_plan::on_begin() {
  std::lock_guard lock{mutex_};
  return begin_error_;
}

namespace {

class fault_injecting_transaction final : public projection_transaction {
 public:
  fault_injecting_transaction(std::unique_ptr<projection_transaction> inner,
                              std::shared_ptr<projection_store_fault_plan> plan)
      : inner_(std::move(inner)), plan_(std::move(plan)) {}

  result<void> execute(std::string_view sql, const std::vector<sql_value>& params) override {
    return write([&] { return inner_->execute(sql, params); });
  }
  result<std::vector<sql_row>> query(std::string_view sql,
                                     const std::vector<sql_value>& params) override {
    return inner_->query(sql, params);
  }
  bool defer_writes(bool on) noexcept override { return inner_->defer_writes(on); }
  result<void> flush() override {
    return write([&] { return inner_->flush(); });
  }
  result<checkpoint> load_checkpoint(std::string_view projection) override {
    return inner_->load_checkpoint(projection);
  }
  result<void> save_checkpoint(std::string_view projection, const checkpoint& c) override {
    return write([&] { return inner_->save_checkpoint(projection, c); });
  }
  result<void> advance_checkpoint(std::string_view projection, global_position expected,
                                  const checkpoint& c) override {
    return write([&] { return inner_->advance_checkpoint(projection, expected, c); });
  }
  result<void> park(const dead_letter& d) override {
    return write([&] { return inner_->park(d); });
  }
  result<void> unpark(std::string_view projection, global_position position) override {
    return write([&] { return inner_->unpark(projection, position); });
  }
  result<void> unpark_once(std::string_view projection, global_position position) override {
    return write([&] { return inner_->unpark_once(projection, position); });
  }
  result<void> forget(std::string_view projection) override {
    return write([&] { return inner_->forget(projection); });
  }
  result<void> commit() override {
    plan_->pass();
    std::optional<error> e;
    switch (plan_->on_commit(e)) {
      case projection_store_fault_plan::commit_verdict::pass:
        return inner_->commit();
      case projection_store_fault_plan::commit_verdict::fail_before:
        inner_.reset();  // rolls back
        return std::move(*e);
      case projection_store_fault_plan::commit_verdict::fail_after:
        if (auto c = inner_->commit(); !c) return c;
        return std::move(*e);
    }
    return error{errc::internal, "unknown fault verdict"};
  }

 private:
  template <class Fn>
  result<void> write(Fn&& fn) {
    if (auto e = plan_->on_write()) return std::move(*e);
    return fn();
  }

  std::unique_ptr<projection_transaction> inner_;
  std::shared_ptr<projection_store_fault_plan> plan_;
};

}  // namespace

fault_injecting_projection_store::fault_injecting_projection_store(
    std::unique_ptr<projection_store> inner, std::shared_ptr<projection_store_fault_plan> plan)
    : inner_(std::move(inner)), plan_(std::move(plan)) {
  assert(inner_ && plan_);
}

result<std::unique_ptr<projection_transaction>> fault_injecting_projection_store::begin() {
  plan_->pass();
  if (auto e = plan_->on_begin()) return std::move(*e);
  auto tx = inner_->begin();
  if (!tx) return std::move(tx).err();
  return std::unique_ptr<projection_transaction>{
      std::make_unique<fault_injecting_transaction>(std::move(*tx), plan_)};
}

result<std::vector<sql_row>> fault_injecting_projection_store::query(
    std::string_view sql, const std::vector<sql_value>& params) {
  return inner_->query(sql, params);
}

result<checkpoint> fault_injecting_projection_store::load_checkpoint(std::string_view projection) {
  return inner_->load_checkpoint(projection);
}

result<std::vector<dead_letter>> fault_injecting_projection_store::dead_letters(
    std::string_view projection) {
  return inner_->dead_letters(projection);
}

fault_injecting_projection_store_factory::fault_injecting_projection_store_factory(
    std::shared_ptr<projection_store_factory> inner,
    std::shared_ptr<projection_store_fault_plan> plan)
    : inner_(std::move(inner)), plan_(std::move(plan)) {
  assert(inner_ && plan_);
}

result<std::unique_ptr<projection_store>> fault_injecting_projection_store_factory::open() {
  auto s = inner_->open();
  if (!s) return std::move(s).err();
  return std::unique_ptr<projection_store>{
      std::make_unique<fault_injecting_projection_store>(std::move(*s), plan_)};
}

}  // namespace strata::persistence
