#pragma once

// Archival of old events to cold storage (docs/ARCHIVE.md).
//
// `plan_archive` chooses, per stream, the oldest events that can leave the hot journal;
// `run_archive` copies them to an archive file, makes the copy durable, reads it back and
// re-hashes it, and only then removes them from the journal (`journal::cut`), leaving an
// anchor per stream so that its audit chain verifies across hot and cold storage.
//
// Where a stream is cut: just below its newest snapshot at or before the cut-off. A stream
// is cut through version S - 1 where S is the version of a snapshot whose event S is still in
// the journal and whose events 1..S-1 are all at or before the cut-off; rehydration then
// starts from that snapshot and never needs an archived event. A stream without such a
// snapshot keeps all its events (the plan lists it as skipped, with the reason). No decider
// is needed, so the command line can archive any journal.
//
// The archive file (format version 1) is an SQLite database, self-describing and verifiable
// on its own (`archive_reader::verify`); its tables are described at the top of archive.cpp
// and in docs/ARCHIVE.md.
//
// Thread-safety: every function uses the journal and stores it is given for the whole call,
// like any other user of those instances; an `archive_reader` is used by one thread at a time.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/domain/kernel/ids.hpp"
#include "strata/domain/kernel/result.hpp"
#include "strata/domain/kernel/time.hpp"
#include "strata/persistence/audit_chain.hpp"
#include "strata/persistence/event_record.hpp"
#include "strata/persistence/forwarding_journal.hpp"
#include "strata/persistence/journal.hpp"
#include "strata/persistence/projection_runner.hpp"
#include "strata/persistence/snapshot_store.hpp"

namespace strata {

/// The version of the archive format this code writes and reads.
inline constexpr int archive_format_version = 1;

/// What to archive.
struct archive_options {
  timestamp cut_off{};  ///< Only events at or before this time leave the journal.
  timestamp now{};      ///< The caller's clock: recorded as the archive's creation time.
  /// Streams cut per journal transaction (the copy is one archive transaction); progress is
  /// reported after each such group.
  std::size_t streams_per_transaction = 256;
};

/// One stream's part of a plan: versions `from`..`through` move to the archive.
struct archive_stream_plan {
  stream_id stream;
  version from;              ///< The first version moved (the anchor's + 1, or 1).
  version through;           ///< The last version moved; the journal keeps through + 1 on.
  std::string anchor_hash;   ///< The hash the moved part's chain continues from ("" at v1).
  std::string through_hash;  ///< The hash of the event at `through`.
  version snapshot;          ///< The snapshot rehydration starts from (through + 1).
  global_position first_position;
  global_position last_position;
  timestamp first_time{};
  timestamp last_time{};
  std::uint64_t events = 0;
  std::uint64_t bytes = 0;  ///< Bytes of the events' data and metadata text.
};

/// A stream with events older than the cut-off that the plan leaves in the journal.
struct archive_skip {
  stream_id stream;
  std::uint64_t old_events = 0;  ///< Its events at or before the cut-off (not yet archived).
  std::string reason;
};

/// What `run_archive` would do (a dry run's answer).
struct archive_plan {
  std::string journal_id;
  timestamp cut_off{};
  std::vector<archive_stream_plan> streams;  ///< In stream-name order.
  std::vector<archive_skip> skipped;         ///< In stream-name order.
  std::uint64_t events = 0;
  std::uint64_t bytes = 0;
};

/// Reads the journal once (in global order) and the snapshots of the streams with old events,
/// and chooses what to move (see the top of this file). Changes nothing.
/// Errors: the journal's and the snapshot store's.
result<archive_plan> plan_archive(persistence::journal& j, persistence::snapshot_store& snapshots,
                                  const archive_options& options);

/// Where `run_archive` is; `done` of `total` events in the current phase.
struct archive_progress {
  std::string_view phase;  ///< "copy", "verify" or "delete".
  std::uint64_t done = 0;
  std::uint64_t total = 0;
};

/// Optional observers of `run_archive`.
struct archive_hooks {
  std::function<void(const archive_progress&)> progress;
  /// Called at "after_copy" (the copy is durable), "after_verify" (it was read back and
  /// re-hashed) and "mid_delete" (after the first of several cut transactions). Tests use it
  /// to stop the process there.
  std::function<void(std::string_view point)> at;
};

/// What `run_archive` did.
struct archive_outcome {
  std::uint64_t streams = 0;
  std::uint64_t copied = 0;   ///< Events written to the archive by this run (not already there).
  std::uint64_t removed = 0;  ///< Events removed from the journal by this run.
};

/// Carries out `plan` into the archive file at `archive_path` (created when missing; an
/// existing archive of the same journal is continued). Order: copy in one transaction with
/// the manifest's count and digest, made durable (SQLite synchronous=FULL); re-read every moved
/// event from a fresh connection and re-hash its chain against the plan; only then cut the
/// journal, `options.streams_per_transaction` streams per transaction (each one transaction
/// with its anchors). Killed at any point it leaves both sides consistent, and running it
/// again (a new plan) completes the work without duplicating an event in the archive.
/// The journal records the archive by its file name (`journal::cut`).
/// Errors: `invalid_argument` when the archive is of another journal or does not continue a
/// stream where the journal's anchor says; `corrupted` when the read-back does not match (the
/// journal is left untouched); `conflict` when the journal moved under the plan; the journal's
/// and the archive file's errors (`unavailable`, `unsupported` for a newer format).
result<archive_outcome> run_archive(persistence::journal& j, const archive_plan& plan,
                                    const std::string& archive_path,
                                    const archive_options& options = {},
                                    const archive_hooks& hooks = {});

/// The manifest of an archive file.
struct archive_manifest {
  int format_version = 0;
  std::string archive_id;  ///< Made when the file was created.
  std::string journal_id;  ///< The journal its events came from.
  timestamp created{};
  timestamp cut_off{};  ///< The cut-off of the newest run that wrote to it.
  std::uint64_t events = 0;
  std::string digest;  ///< Hex SHA-256 over every event's hash, in global-position order.
};

/// One stream as an archive holds it: versions `first`..`last`, chained from `anchor_hash`.
struct archived_stream {
  stream_id stream;
  version first;
  version last;
  std::string anchor_hash;  ///< Hash of version first - 1 ("" when first is 1).
  std::string last_hash;
  std::uint64_t events = 0;
};

/// Reads an archive file (read-only). One thread at a time.
/// Errors of every method: `not_found` (no such file), `invalid_argument` (not an archive),
/// `unsupported` (a newer format), `corrupted` (an unreadable row), `unavailable` (I/O).
class archive_reader {
 public:
  static result<std::unique_ptr<archive_reader>> open(const std::string& path);
  ~archive_reader();
  archive_reader(const archive_reader&) = delete;
  archive_reader& operator=(const archive_reader&) = delete;

  const archive_manifest& manifest() const noexcept;
  const std::string& path() const noexcept;

  /// Every stream the archive holds, in stream-name order.
  result<std::vector<archived_stream>> streams();

  /// The archived events of `stream` within `range` (as `journal::read_stream`).
  result<std::vector<persistence::event_record>> read_stream(
      const stream_id& stream, const persistence::stream_range& range);

  /// Up to `limit` archived events with position greater than `after`, in global order.
  result<std::vector<persistence::event_record>> read_all(global_position after, std::size_t limit);

  /// Verifies the archive alone: every stream's chain from its anchor hash, its first/last
  /// versions, last hash and count against the manifest rows, the event count and the digest.
  /// nullopt when intact, else the first problem.
  result<std::optional<chain_violation>> verify();

  struct impl;

 private:
  explicit archive_reader(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

/// Several archive files of one journal, read as one: e.g. one file per year
/// (`cold-2025.db`, `cold-2026.db`), each holding the parts of streams archived by the runs
/// that wrote to it. The files are ordered by their manifests (creation time, then cut-off,
/// then archive id), whatever order they were named in. One thread at a time.
class archive_set {
 public:
  /// Opens every file of `paths` (at least one).
  /// Errors: `archive_reader::open`'s; `invalid_argument` when `paths` is empty, names one
  /// archive twice (by its archive id), or holds archives of different journals.
  static result<archive_set> open(const std::vector<std::string>& paths);

  /// A set of one archive the caller keeps open. REQUIRES: `archive` outlives the set.
  static archive_set of(archive_reader& archive);

  archive_set(archive_set&&) noexcept;
  archive_set& operator=(archive_set&&) noexcept;
  ~archive_set();

  /// The archives, oldest first.
  const std::vector<archive_reader*>& archives() const noexcept { return order_; }

  /// The journal every archive of the set came from.
  const std::string& journal_id() const noexcept;

  /// The file names, in set order, comma-separated (for messages).
  std::string names() const;

  /// Every stream the set holds, its parts in all archives joined: `first` of its oldest
  /// part, `last` and `last_hash` of its newest, `anchor_hash` of its oldest, `events` summed.
  /// In stream-name order. (Whether the parts join without gap or overlap is `verify`'s.)
  result<std::vector<archived_stream>> streams();

  /// The archived events of `stream` within `range` from every archive, in version order (a
  /// version held twice, by overlapping archives, once).
  result<std::vector<persistence::event_record>> read_stream(
      const stream_id& stream, const persistence::stream_range& range);

  /// Up to `limit` archived events with position greater than `after`, from every archive, in
  /// global order (a position held twice once).
  result<std::vector<persistence::event_record>> read_all(global_position after, std::size_t limit);

  /// Verifies each archive alone (`archive_reader::verify`), then that every stream's parts
  /// continue each other across the archives: the next part starts at the version after the
  /// previous part's last, and its anchor hash is the previous part's last hash (the chain
  /// runs on from file to file). A version in two archives is reported as `inserted`
  /// (overlap), versions between two parts that no archive holds as `missing` (gap), a part
  /// that does not continue the previous part's chain as `altered`.
  /// nullopt when intact, else the first problem.
  result<std::optional<chain_violation>> verify();

 private:
  archive_set() = default;
  std::vector<std::unique_ptr<archive_reader>> owned_;
  std::vector<archive_reader*> order_;
};

/// A journal as it was before archival: `hot` with the archived prefix of its streams read
/// from `archives`. `read_stream` and `for_each_in_stream` give a stream's archived versions
/// from the archives and the rest from `hot`; `read_all` gives both in global order
/// (`read_all_with_archive`); `anchor`, `anchors` and `archived` report only what the set does
/// not hold, so a stream whose archived part the set holds from version 1 reads as if it had
/// never been cut. A read that needs archived versions the set does not hold fails with
/// `not_found`, naming the journal's archive and the files given. What `runtime::state_at`,
/// `strata state --archive` and `strata export --archive` read through: the runtime's own fold
/// (`actors::rehydrate`) runs over it unchanged. Read-only: `append` and `cut` fail with
/// `unsupported`. Thread-safety: as `hot`; one thread at a time.
/// REQUIRES: `hot` and `archives` outlive it.
class journal_with_archives final : public persistence::forwarding_journal {
 public:
  journal_with_archives(persistence::journal& hot, archive_set& archives) noexcept
      : forwarding_journal(hot), archives_(archives) {}

  result<std::vector<persistence::stream_outcome>> append(
      const std::vector<persistence::stream_append>& batch) override;
  result<std::vector<persistence::event_record>> read_stream(
      const stream_id& stream, const persistence::stream_range& range) override;
  result<std::size_t> for_each_in_stream(const stream_id& stream,
                                         const persistence::stream_range& range,
                                         const persistence::event_visitor& visit) override;
  result<std::vector<persistence::event_record>> read_all(global_position after,
                                                          std::size_t limit) override;
  result<std::optional<persistence::stream_anchor>> anchor(const stream_id& stream) override;
  result<std::vector<persistence::stream_anchor>> anchors() override;
  result<std::optional<persistence::archive_mark>> archived() override;
  result<std::uint64_t> cut(const std::vector<persistence::stream_cut>& cuts,
                            const std::string& archive) override;

 private:
  /// Whether the set holds versions 1..`a.at` of `a.stream` (its joined parts; read once).
  result<bool> covers(const persistence::stream_anchor& a);

  archive_set& archives_;
  std::optional<std::vector<archived_stream>> streams_;
};

/// Up to `limit` events with position greater than `after` from the journal and the archive
/// together, in global order: what `journal::read_all` gave before the archive's events were
/// cut (an event in both, copied by a run that did not cut yet, comes once).
/// Errors: the journal's and the archive's.
result<std::vector<persistence::event_record>> read_all_with_archive(persistence::journal& j,
                                                                     archive_reader& archive,
                                                                     global_position after,
                                                                     std::size_t limit);
/// As above, with the archived events of every archive of `archives`.
result<std::vector<persistence::event_record>> read_all_with_archive(persistence::journal& j,
                                                                     archive_set& archives,
                                                                     global_position after,
                                                                     std::size_t limit);

/// Catches `runner` up from the journal and the archive together (`read_all_with_archive`),
/// in batches of `batch` events, to the journal's head: how a projection is rebuilt from
/// position 0 over a journal whose prefix was archived (`projection_runner::catch_up` alone
/// refuses with `not_found` naming the archive). Errors: as `projection_runner::catch_up`.
result<persistence::apply_outcome> catch_up_with_archive(persistence::projection_runner& runner,
                                                         persistence::journal& j,
                                                         archive_reader& archive,
                                                         std::size_t batch = 1000);
/// As above, from the journal and every archive of `archives`.
result<persistence::apply_outcome> catch_up_with_archive(persistence::projection_runner& runner,
                                                         persistence::journal& j,
                                                         archive_set& archives,
                                                         std::size_t batch = 1000);

/// Verifies a journal together with one archive: the archive alone, the journal's chains from
/// their anchors, every anchor against the archive (the archive holds the stream up to the
/// anchor's version with the anchor's hash, from version 1 on), no event in both, and every
/// global position up to the journal's last present exactly once in one of them.
/// nullopt when everything is intact, else the first problem.
/// Errors: the journal's and the archive's.
result<std::optional<chain_violation>> verify_with_archive(persistence::journal& j,
                                                           archive_reader& archive);

/// Verifies a journal together with several archives of it (`archive_set`): the set
/// (`archive_set::verify`: each archive, and every stream's chain continuing from archive to
/// archive without overlap or gap), the journal's chains from their anchors, every anchor
/// against the set (it holds the stream from version 1 up to the anchor's version, ending on
/// the anchor's hash), no event in both, and every global position up to the journal's last
/// present exactly once. nullopt when everything is intact, else the first problem.
/// Errors: the journal's and the archives'.
result<std::optional<chain_violation>> verify_with_archive(persistence::journal& j,
                                                           archive_set& archives);

}  // namespace strata
