#include "strata/cli/registry.hpp"

#include <algorithm>

namespace strata {

void cli_registry::add_model(std::shared_ptr<const actors::aggregate_model> m) {
  auto same = [&](const auto& known) { return known->type() == m->type(); };
  models_.erase(std::remove_if(models_.begin(), models_.end(), same), models_.end());
  models_.push_back(std::move(m));
}

void cli_registry::add_projection(std::shared_ptr<projection> p) {
  auto same = [&](const auto& known) { return known->name() == p->name(); };
  projections_.erase(std::remove_if(projections_.begin(), projections_.end(), same),
                     projections_.end());
  projections_.push_back(std::move(p));
}

const actors::aggregate_model* cli_registry::model(std::string_view type) const noexcept {
  for (const auto& m : models_) {
    if (m->type() == type) return m.get();
  }
  return nullptr;
}

std::vector<std::string> cli_registry::aggregate_types() const {
  std::vector<std::string> types;
  for (const auto& m : models_) types.emplace_back(m->type());
  return types;
}

std::shared_ptr<projection> cli_registry::find_projection(std::string_view name) const {
  for (const auto& p : projections_) {
    if (p->name() == name) return p;
  }
  return nullptr;
}

}  // namespace strata
