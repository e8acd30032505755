#pragma once

// The host lock of a PostgreSQL journal (see strata/persistence/host_lock.hpp): a session-level
// advisory lock, pg_try_advisory_lock(key1, key2), with key1 the constant 0x53545241 ("STRA")
// and key2 hashtext(schema), held by a connection of its own for as long as the lock lives.
// Advisory locks are per database, so two schemas of one database lock separately.

#include <memory>
#include <string>

#include "strata/domain/kernel/result.hpp"
#include "strata/persistence/host_lock.hpp"

namespace strata {

/// Takes the host lock of the PostgreSQL journal in `schema` of the database `conninfo` names,
/// without waiting. Errors: `conflict` when another session holds it (a running runtime, or
/// a `strata rebuild`), with `host_lock_held_message`; `invalid_argument` for a schema that is
/// not a plain identifier; the connection's errors (`unavailable`).
result<std::unique_ptr<host_lock>> lock_postgres_host(const std::string& conninfo,
                                                      const std::string& schema);

}  // namespace strata
