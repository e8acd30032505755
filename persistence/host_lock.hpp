#pragma once

// The host lock: how a running runtime is seen from outside its process. A runtime takes it on
// its journal's store when it starts and releases it when it stops; `strata rebuild` and
// `strata retry`, which must not race a running runtime, take it too and refuse when another
// holder has it. A second runtime on the same store cannot start while one runs.
//
//   SQLite      an exclusive flock(2) on the file "<journal path>.host-lock" beside the
//               journal file (created when missing, never deleted). The OS releases it when
//               the holder's process ends, however it ends; two holders in one process
//               exclude each other too (the lock belongs to the open file, not the process).
//   PostgreSQL  a session-level advisory lock (pg_try_advisory_lock) on a key made of the
//               journal's schema name, held by a connection of its own, released when the
//               holder stops or its session ends (see postgres/postgres_host_lock.hpp).
//
// Thread-safety: a `host_lock` is released by its destructor, on any thread; the functions
// that take one may be called from any thread.

#include <memory>
#include <string>

#include "strata/domain/kernel/result.hpp"

namespace strata {

/// A held host lock; destroying it releases the lock.
class host_lock {
 public:
  virtual ~host_lock() = default;

  /// What is locked, for messages: the lock file, or the schema and its key.
  virtual const std::string& what() const noexcept = 0;
};

/// The message of a refused host lock: a runtime is running on the store `what` names.
std::string host_lock_held_message(const std::string& what);

/// Takes the host lock of the SQLite journal at `journal_path` ("<journal_path>.host-lock"),
/// without waiting. Errors: `conflict` when another holder (a running runtime, or a `strata
/// rebuild`) has it, with `host_lock_held_message`; `unavailable` when the lock file cannot be
/// created or locked (a read-only directory).
result<std::unique_ptr<host_lock>> lock_sqlite_host(const std::string& journal_path);

}  // namespace strata
