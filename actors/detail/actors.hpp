#pragma once

// Spawn functions of the actor layer. CAF inside: include only from actors/*.cpp.

#include <memory>
#include <string>

#include <caf/all.hpp>

#include "strata/actors/detail/messages.hpp"
#include "strata/actors/detail/services.hpp"

namespace strata::actors::detail {

/// The region of one aggregate type: routes commands to one actor per aggregate id, spawning
/// them on first use and passivating idle ones without losing or reordering a command.
caf::actor spawn_region(caf::actor_system& sys, std::shared_ptr<type_services> svc);

/// One live aggregate instance: rehydrates (or, given `from`, starts from what its hibernated
/// predecessor left), then decides commands strictly one at a time. Spawned by its region,
/// which it reports to.
caf::actor spawn_aggregate(caf::local_actor* region, std::shared_ptr<type_services> svc,
                           std::string id, dormant_ptr from = nullptr);

/// A result carrying only a failure.
command_result failure_result(error e, version at = {});

}  // namespace strata::actors::detail
