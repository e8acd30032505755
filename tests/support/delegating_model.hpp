#pragma once

// An aggregate model that hands each of its required calls to another model: a test derives
// from it and overrides only the call it changes. The optional calls (`apply_view`,
// `fields_read`, the command's wire form) keep `aggregate_model`'s defaults.

#include <memory>
#include <utility>

#include "strata/actors/aggregate_model.hpp"

namespace strata::testing {

class delegating_model : public actors::aggregate_model {
 public:
  explicit delegating_model(std::shared_ptr<const actors::aggregate_model> inner)
      : inner_(std::move(inner)) {}

  std::string_view type() const noexcept override { return inner_->type(); }
  std::uint32_t state_version() const noexcept override { return inner_->state_version(); }
  std::any initial() const override { return inner_->initial(); }
  result<actors::decided> decide(const std::any& s, const std::any& c,
                                 const context& ctx) const override {
    return inner_->decide(s, c, ctx);
  }
  void evolve(std::any& s, std::any& events) const noexcept override { inner_->evolve(s, events); }
  result<void> apply(std::any& s, const persistence::event_record& r) const override {
    return inner_->apply(s, r);
  }
  bool wants_snapshot(const std::any& s, version at, version last) const override {
    return inner_->wants_snapshot(s, at, last);
  }
  std::string encode_state(const std::any& s) const override { return inner_->encode_state(s); }
  result<std::any> decode_state(std::string_view t) const override {
    return inner_->decode_state(t);
  }

 private:
  std::shared_ptr<const actors::aggregate_model> inner_;
};

}  // namespace strata::testing
