#include "strata/persistence/sqlite_process_store.hpp"

#include "strata/persistence/projection_store.hpp"

namespace strata::persistence {
namespace {

constexpr std::string_view create_sql =
    "CREATE TABLE IF NOT EXISTS strata_process_instances (process TEXT NOT NULL, instance TEXT "
    "NOT NULL, cause TEXT NOT NULL, finished INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (process, "
    "instance))";
constexpr std::string_view insert_sql =
    "INSERT INTO strata_process_instances (process, instance, cause, finished) VALUES (?, ?, ?, "
    "0) ON CONFLICT (process, instance) DO NOTHING";
constexpr std::string_view finish_sql =
    "UPDATE strata_process_instances SET finished = 1 WHERE process = ? AND instance = ?";
constexpr std::string_view delete_sql = "DELETE FROM strata_process_instances WHERE process = ?";
constexpr std::string_view unfinished_sql =
    "SELECT instance, cause FROM strata_process_instances WHERE process = ? AND finished = 0 "
    "ORDER BY instance";

}  // namespace

result<void> sqlite_process_store::setup(projection_transaction& tx) {
  return tx.execute(create_sql);
}

result<void> sqlite_process_store::forget(projection_transaction& tx, std::string_view process) {
  return tx.execute(delete_sql, {std::string{process}});
}

result<void> sqlite_process_store::record_started(projection_transaction& tx,
                                                  std::string_view process,
                                                  std::string_view instance,
                                                  std::string_view cause) {
  return tx.execute(insert_sql, {std::string{process}, std::string{instance}, std::string{cause}});
}

result<void> sqlite_process_store::record_finished(projection_transaction& tx,
                                                   std::string_view process,
                                                   std::string_view instance) {
  return tx.execute(finish_sql, {std::string{process}, std::string{instance}});
}

result<std::vector<process_instance>> sqlite_process_store::unfinished(projection_store& store,
                                                                       std::string_view process) {
  auto rows = store.query(unfinished_sql, {std::string{process}});
  if (!rows) return std::move(rows).err();
  std::vector<process_instance> out;
  out.reserve(rows->size());
  for (const auto& row : *rows)
    if (row.size() == 2) out.push_back({as_text(row[0]), as_text(row[1])});
  return out;
}

}  // namespace strata::persistence
