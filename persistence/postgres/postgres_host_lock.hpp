#pragma once

// The host lock of a PostgreSQL journal (see strata/persistence/host_lock.hpp): a session-level
// advisory lock, pg_advisory_lock(key1, key2) (pg_try_advisory_lock without a wait), with key1 the
// constant 0x53545241 ("STRA") and key2 hashtext(schema), held by a connection of its own for as
// long as the lock lives. Advisory locks are per database, so two schemas of one database lock
// separately.

#include <chrono>
#include <memory>
#include <string>

#include "strata/domain/kernel/result.hpp"
#include "strata/persistence/host_lock.hpp"

namespace strata {

/// Takes the host lock of the PostgreSQL journal in `schema` of the database `conninfo` names,
/// waiting up to `wait` for a holder to let go (0: not at all). A process killed while it
/// held the lock keeps it until the server has ended its session, which takes a moment after
/// the kill: a restarted runtime waits for that (`runtime::start` waits up to 10 s).
/// With `shared`, the lock is taken in shared mode (pg_advisory_lock_shared): the nodes of a
/// cluster all hold it together, while a `strata rebuild` or a runtime that is not a cluster
/// node (both exclusive) is kept out, and kept out of them.
/// Errors: `conflict` when another session still holds it (a running runtime, or a `strata
/// rebuild`), with `host_lock_held_message`; `invalid_argument` for a schema that is not a
/// plain identifier; the connection's errors (`unavailable`).
result<std::unique_ptr<host_lock>> lock_postgres_host(const std::string& conninfo,
                                                      const std::string& schema,
                                                      std::chrono::milliseconds wait = {},
                                                      bool shared = false);

}  // namespace strata
