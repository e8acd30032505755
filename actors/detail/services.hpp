#pragma once

#include <atomic>
#include <memory>

#include "strata/actors/aggregate_model.hpp"
#include "strata/actors/deadline_watch.hpp"
#include "strata/actors/engine.hpp"
#include "strata/actors/journal_writer.hpp"
#include "strata/domain/kernel/time.hpp"
#include "strata/metrics/metrics.hpp"

namespace strata::actors::detail {

/// What every actor of one aggregate type shares: the model, the engine's I/O and its
/// options. Immutable after construction except the admission counter; the pointed-to
/// objects are thread-safe.
struct type_services {
  std::shared_ptr<const aggregate_model> model;
  journal_writer* writer = nullptr;
  io_pool* readers = nullptr;
  snapshot_writer* snapshots = nullptr;  ///< Null when snapshots are off.
  deadline_watch* deadlines = nullptr;   ///< Expiry of commands waiting in an aggregate.
  const clock* clk = nullptr;
  engine_options options;
  metrics::aggregate_metrics* metrics = nullptr;  ///< Lives as long as the engine's registry.
  log_sink* log = nullptr;                        ///< `options.log`, never null.
  /// Commands admitted for this type and not yet answered (admission control).
  std::atomic<std::size_t> in_flight{0};
};

}  // namespace strata::actors::detail
