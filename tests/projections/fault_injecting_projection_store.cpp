#include "tests/projections/fault_injecting_projection_store.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace strata::testing {
namespace {

class faulty_transaction final : public persistence::projection_transaction {
 public:
  faulty_transaction(std::unique_ptr<persistence::projection_transaction> inner,
                     std::shared_ptr<projection_fault_plan> plan)
      : inner_(std::move(inner)), plan_(std::move(plan)) {}
  result<void> execute(std::string_view sql,
                       const std::vector<persistence::sql_value>& params) override {
    return inner_->execute(sql, params);
  }
  result<std::vector<persistence::sql_row>> query(
      std::string_view sql, const std::vector<persistence::sql_value>& params) override {
    return inner_->query(sql, params);
  }
  result<persistence::checkpoint> load_checkpoint(std::string_view p) override {
    return inner_->load_checkpoint(p);
  }
  result<void> save_checkpoint(std::string_view p, const persistence::checkpoint& c) override {
    return inner_->save_checkpoint(p, c);
  }
  result<void> park(const persistence::dead_letter& d) override { return inner_->park(d); }
  result<void> unpark(std::string_view p, global_position pos) override {
    return inner_->unpark(p, pos);
  }
  result<void> forget(std::string_view p) override { return inner_->forget(p); }
  result<void> commit() override {
    const auto n = plan_->commits.fetch_add(1) + 1;
    if (n == plan_->fail_commit_number.load()) {
      inner_.reset();  // rolls back
      plan_->failed.fetch_add(1);
      return error{errc::unavailable, "injected failure of commit #" + std::to_string(n)};
    }
    return inner_->commit();
  }

 private:
  std::unique_ptr<persistence::projection_transaction> inner_;
  std::shared_ptr<projection_fault_plan> plan_;
};

class faulty_store final : public persistence::projection_store {
 public:
  faulty_store(std::unique_ptr<persistence::projection_store> inner,
               std::shared_ptr<projection_fault_plan> plan)
      : inner_(std::move(inner)), plan_(std::move(plan)) {}
  result<std::unique_ptr<persistence::projection_transaction>> begin() override {
    auto tx = inner_->begin();
    if (!tx) return std::move(tx).err();
    return std::unique_ptr<persistence::projection_transaction>{
        std::make_unique<faulty_transaction>(std::move(*tx), plan_)};
  }
  result<std::vector<persistence::sql_row>> query(
      std::string_view sql, const std::vector<persistence::sql_value>& params) override {
    return inner_->query(sql, params);
  }
  result<persistence::checkpoint> load_checkpoint(std::string_view p) override {
    return inner_->load_checkpoint(p);
  }
  result<std::vector<persistence::dead_letter>> dead_letters(std::string_view p) override {
    return inner_->dead_letters(p);
  }

 private:
  std::unique_ptr<persistence::projection_store> inner_;
  std::shared_ptr<projection_fault_plan> plan_;
};

}  // namespace

fault_injecting_projection_store_factory::fault_injecting_projection_store_factory(
    std::shared_ptr<persistence::projection_store_factory> inner,
    std::shared_ptr<projection_fault_plan> plan)
    : inner_(std::move(inner)), plan_(std::move(plan)) {}

result<std::unique_ptr<persistence::projection_store>>
fault_injecting_projection_store_factory::open() {
  auto s = inner_->open();
  if (!s) return std::move(s).err();
  return std::unique_ptr<persistence::projection_store>{
      std::make_unique<faulty_store>(std::move(*s), plan_)};
}

}  // namespace strata::testing
