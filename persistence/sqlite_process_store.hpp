#pragma once

#include "strata/persistence/process_store.hpp"

namespace strata::persistence {

/// The process store as one table of the read-model database, in SQL that the SQLite
/// read-model store runs:
///   strata_process_instances(process TEXT, instance TEXT, cause TEXT, finished INTEGER,
///                            PRIMARY KEY (process, instance))
/// A row is inserted (finished = 0) by the event that starts an instance and set to
/// finished = 1 by the event that finishes it.
///
/// Thread-safety and errors: as `process_store`.
class sqlite_process_store final : public process_store {
 public:
  result<void> setup(projection_transaction& tx) override;
  result<void> forget(projection_transaction& tx, std::string_view process) override;
  result<void> record_started(projection_transaction& tx, std::string_view process,
                              std::string_view instance, std::string_view cause) override;
  result<void> record_finished(projection_transaction& tx, std::string_view process,
                               std::string_view instance) override;
  result<std::vector<process_instance>> unfinished(projection_store& store,
                                                   std::string_view process) override;
};

}  // namespace strata::persistence
