#pragma once

// The CAF side of `node_link` (actors/node_link.cpp), for the engine that owns it. Include
// only from actors/*.cpp.

#include <memory>

#include "strata/actors/node_link.hpp"
#include "strata/domain/kernel/result.hpp"

namespace caf {
class actor_system;
}  // namespace caf

namespace strata::actors::detail {

/// Publishes the endpoint on `options.host`/`port` in `sys` (whose configuration loaded the
/// middleman) and spawns the actor that connects to peers. Errors: `unavailable` when the
/// port cannot be bound (the message names host, port and CAF's reason).
result<std::unique_ptr<node_link>> start_node_link(caf::actor_system& sys,
                                                   node_link_options options,
                                                   node_request_handler handler);

}  // namespace strata::actors::detail
