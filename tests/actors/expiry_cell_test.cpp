// The cell an armed command deadline reaches its aggregate through: it must not keep an
// actor's storage after the actor ended (CAF frees that storage with the last weak reference).

#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <chrono>
#include <memory>

#include "strata/actors/detail/expiry_cell.hpp"
#include "tests/support/wait_until.hpp"

using strata::actors::detail::expiry_cell;
using strata::actors::detail::expiry_cell_owner;

namespace {

struct owner_state {
  expiry_cell_owner expiry;
};

using stop_atom = caf::atom_constant<caf::atom("stop")>;

/// An actor whose state owns a cell, as an aggregate's does; `hand_out` receives the cell once
/// the actor runs. The actor ends on `stop`.
caf::behavior cell_owner(caf::stateful_actor<owner_state>* self,
                         std::shared_ptr<std::shared_ptr<expiry_cell>> hand_out) {
  *hand_out = self->state.expiry.cell(self->ctrl());
  return {
      [=](int x) { return x; },
      [=](stop_atom) { self->quit(); },
  };
}

}  // namespace

TEST_CASE("an expiry cell reaches its actor while it runs and keeps nothing of it after it ended") {
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  caf::actor_system sys{cfg};
  auto hand_out = std::make_shared<std::shared_ptr<expiry_cell>>();
  caf::weak_actor_ptr watch;
  {
    caf::scoped_actor me{sys};
    auto a = sys.spawn(cell_owner, hand_out);
    watch = caf::actor_cast<caf::weak_actor_ptr>(a);
    int answered = 0;
    // A round trip: the actor ran its initialisation, which handed out the cell, before it.
    me->request(a, std::chrono::seconds(10), 7)
        .receive([&](int x) { answered = x; },
                 [&](caf::error& e) { FAIL("no answer: " << sys.render(e)); });
    REQUIRE(answered == 7);
    const std::shared_ptr<expiry_cell> cell = *hand_out;
    REQUIRE(cell != nullptr);
    CHECK(cell->get() == a);  // what a deadline that fires now sends its expire to

    me->monitor(a);
    me->send(a, stop_atom::value);
    bool down = false;
    me->receive([&](caf::down_msg&) { down = true; },
                caf::after(std::chrono::seconds(10)) >> [] {});
    REQUIRE(down);
    a = caf::actor{};
  }
  const std::shared_ptr<expiry_cell> cell = *hand_out;
  // Only this test's own weak reference is left (the cell's went with the actor's state), so
  // CAF has freed the actor's storage although an entry could still hold the cell.
  CHECK(strata::testing::wait_until([&] { return watch->weak_refs.load() == 1; }));
  CHECK(watch->strong_refs.load() == 0);
  CHECK(cell->get() == caf::actor{});  // a deadline that fires late sends nothing
  cell->clear();                       // and a second clear is harmless
  CHECK(cell->get() == caf::actor{});
}

TEST_CASE("an expiry cell owner makes one cell and empties it when destroyed") {
  auto owner = std::make_unique<expiry_cell_owner>();
  const auto first = owner->cell(nullptr);
  const auto second = owner->cell(nullptr);
  CHECK(first == second);
  CHECK(first.use_count() == 3);  // the owner's and the two copies here
  owner.reset();
  CHECK(first.use_count() == 2);
  CHECK(first->get() == caf::actor{});
}
