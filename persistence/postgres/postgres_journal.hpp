#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "strata/domain/kernel/result.hpp"
#include "strata/persistence/journal.hpp"

namespace strata::persistence {

/// Settings of a PostgreSQL journal.
struct postgres_journal_options {
  /// A libpq connection string, e.g. "host=127.0.0.1 port=5432 user=strata dbname=strata".
  std::string conninfo;
  /// The schema holding the journal's tables; created on first use.
  /// REQUIRES: a lower-case SQL identifier ([a-z_][a-z0-9_]*, at most 48 characters).
  std::string schema = "strata";
  /// Events per write statement on the append path: a batch's streams are written in groups
  /// of whole streams holding at most this many events (a larger stream is a group of its
  /// own), one statement per group. REQUIRES: 1..1000.
  std::size_t insert_chunk_rows = 1000;
  /// When not 0, every connection sets `idle_in_transaction_session_timeout` to it: the server
  /// ends a transaction whose client stopped between two of its statements (a process frozen
  /// with SIGSTOP, a paused VM) after this time, releasing the counter row and stream heads
  /// it held, which every other writer of the journal would otherwise wait for. The runtime
  /// of a cluster node sets it to `cluster.lease_duration_ms`. 0: the server's setting.
  std::uint32_t idle_in_transaction_timeout_ms = 0;
  /// Streams whose head (version, chain hash) an instance remembers from its own appends, at
  /// most; when full, a new stream takes the place of an arbitrary other. An append whose
  /// streams are all remembered at the version it expects, with at most insert_chunk_rows events,
  /// is one statement that commits on its own (one round trip instead of four); any other append,
  /// or one whose stream moved since (a write by another instance), takes the usual transaction. 0:
  /// always the usual transaction.
  std::size_t known_heads = 16384;
};

/// The journal on PostgreSQL: events in a table with a JSONB `data` column, a hash chain per
/// stream and gap-free global positions that no reader ever sees out of order.
///
/// Global order: every appending transaction first locks its streams' rows (inserting the rows
/// of new streams first), then takes its positions in the statement that writes its events, by
/// updating the journal's single counter row, which it then holds until it commits. Writers are
/// therefore serialised from the moment they take positions until their commit, so positions
/// become visible exactly in position order, and a stream whose append conflicts hands its
/// positions back (gap-free). Everything before the write (the head locks, the conflict checks,
/// the hash chain) runs outside that section, side by side with other writers. An append to
/// streams this instance wrote last is all of that in one statement (`known_heads`). A sequence
/// would not do: its values are taken before commit, and a transaction holding a smaller value can
/// commit after one holding a larger value, so a reader polling `read_all` would skip the
/// smaller one.
///
/// JSON text and the hash chain: JSONB rewrites the text (key order, whitespace, duplicate
/// keys), while the audit chain is over the text exactly as the writer gave it (the same hash
/// as every other backend computes). The table therefore keeps the original text in
/// `data_text`, which reads return and the chain covers, and derives `data` from it as a
/// generated column (`data_text::jsonb`, stored) for queries and indexes. `data` cannot be
/// updated on its own, so it always matches the verified text.
///
/// Thread-safety: an instance is used by one thread at a time; any number of instances (in any
/// number of processes) may use the same schema at once.
///
/// Errors: `unavailable` when the server cannot be reached, the connection was lost, or a lock or
/// resource limit was hit (the instance reconnects on its next call; an append that lost its
/// connection during COMMIT, or during the one statement of an append to known heads, says that its
/// outcome is unknown); `conflict` per stream as the journal contract says; `invalid_argument` for
/// a batch that breaks a REQUIRES, or for a stream whose event data is not valid JSON (that stream
/// only); `corrupted` for a stored row that cannot be read back, naming its position; `internal`
/// for anything unexpected. No method throws.
class postgres_journal final : public journal {
 public:
  /// Connects and creates the schema and its tables when they do not exist yet (safe against
  /// concurrent creators: an advisory lock serialises them). A schema without the commands
  /// table (the unique index of command ids) gets it, filled from its events.
  /// Errors: `invalid_argument` for bad options, `unavailable` when the server is unreachable.
  static result<std::unique_ptr<postgres_journal>> open(postgres_journal_options options);

  ~postgres_journal() override;
  postgres_journal(const postgres_journal&) = delete;
  postgres_journal& operator=(const postgres_journal&) = delete;

  result<std::vector<stream_outcome>> append(const std::vector<stream_append>& batch) override;
  result<std::vector<event_record>> read_stream(const stream_id& stream,
                                                const stream_range& range) override;
  /// One lookup in the schema's commands table, then the command's events.
  result<std::vector<event_record>> find_command(const stream_id& stream,
                                                 std::string_view command_id) override;
  result<std::vector<event_record>> read_all(global_position after, std::size_t limit) override;
  result<version> head(const stream_id& stream) override;
  result<global_position> last_position() override;
  result<std::optional<stream_anchor>> anchor(const stream_id& stream) override;
  result<std::vector<stream_anchor>> anchors() override;
  result<std::optional<archive_mark>> archived() override;
  /// One transaction, holding the position counter's row lock like an append.
  result<std::uint64_t> cut(const std::vector<stream_cut>& cuts,
                            const std::string& archive) override;
  /// Read at open from table `journal_meta` of the schema (created with an id when missing).
  const std::string& id() const noexcept override;
  /// Appends of this instance that took the one-statement path (`known_heads`), for tests
  /// and tuning.
  std::uint64_t one_statement_appends() const noexcept;

  struct impl;

 private:
  explicit postgres_journal(std::unique_ptr<impl> state);
  std::unique_ptr<impl> impl_;
};

/// Opens `postgres_journal` instances (one connection each) on one schema.
/// Thread-safety: `open` may be called from any thread.
class postgres_journal_factory final : public journal_factory {
 public:
  explicit postgres_journal_factory(postgres_journal_options options);
  result<std::unique_ptr<journal>> open() override;

 private:
  postgres_journal_options options_;
};

}  // namespace strata::persistence
