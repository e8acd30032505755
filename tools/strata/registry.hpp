#pragma once

// What a command line knows of its host: the deciders (for `state` and `diff`, which rebuild
// states with the runtime's own fold) and the projections (for `rebuild` and `retry`, which
// drive them with `persistence::projection_runner`). A host registers them on its `cli`.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "strata/actors/aggregate_model.hpp"
#include "strata/persistence/read_model.hpp"

namespace strata {

/// The deciders and projections a command line knows, by aggregate type and projection name.
/// Thread-safety: filled before `cli::run`, read-only afterwards.
class cli_registry {
 public:
  /// Adds decider `A`: its model (evolve, upcasters, state JSON) and its events in the
  /// catalog projections are bound against. Adding a type again replaces it.
  template <class A>
  void add_aggregate() {
    catalog_.add<A>();
    add_model(actors::model_of<A>());
  }

  /// Adds projection `p`; REQUIRES: non-null, and its events' aggregates are added (before
  /// a command binds it). Adding a name again replaces it.
  void add_projection(std::shared_ptr<projection> p);

  /// The model of aggregate type `type`, or null.
  const actors::aggregate_model* model(std::string_view type) const noexcept;
  /// The registered aggregate types, in registration order.
  std::vector<std::string> aggregate_types() const;

  /// The projection named `name`, or null.
  std::shared_ptr<projection> find_projection(std::string_view name) const;
  const std::vector<std::shared_ptr<projection>>& projections() const noexcept {
    return projections_;
  }

  const event_catalog& catalog() const noexcept { return catalog_; }

 private:
  void add_model(std::shared_ptr<const actors::aggregate_model> m);

  std::vector<std::shared_ptr<const actors::aggregate_model>> models_;
  std::vector<std::shared_ptr<projection>> projections_;
  event_catalog catalog_;
};

}  // namespace strata
