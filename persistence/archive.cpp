// Archive files, format version 1: one SQLite database (rollback journal, synchronous=FULL),
// readable with any SQLite client.
//
//   CREATE TABLE manifest (key TEXT PRIMARY KEY, value TEXT NOT NULL);
//     'format'          'strata.archive'
//     'format_version'  '1'
//     'archive_id'      a random UUID made with the file
//     'journal_id'      journal::id of the journal the events came from
//     'created'         ISO 8601 UTC
//     'cut_off'         the cut-off of the newest run that wrote to the file (ISO 8601 UTC)
//     'events'          how many events the file holds
//     'digest'          lower-case hex SHA-256 over every event's hash (64 hex characters
//                       each), concatenated in global-position order
//   CREATE TABLE streams (                 -- one row per stream the file holds
//     stream TEXT PRIMARY KEY,             -- "<aggregate_type>-<aggregate_id>"
//     aggregate_type TEXT NOT NULL, aggregate_id TEXT NOT NULL,
//     first_version INTEGER NOT NULL, last_version INTEGER NOT NULL,
//     anchor_hash TEXT NOT NULL,           -- hash of first_version - 1 ('' when it is 1)
//     last_hash TEXT NOT NULL,             -- hash of last_version
//     events INTEGER NOT NULL);
//   CREATE TABLE events (                  -- every field of event_record
//     global_position INTEGER PRIMARY KEY, aggregate_type TEXT, aggregate_id TEXT,
//     version INTEGER, event_id TEXT, event_type TEXT, schema_version INTEGER,
//     timestamp_us INTEGER, user_id TEXT, command_id TEXT, correlation_id TEXT,
//     causation_id TEXT, data TEXT, hash TEXT,   -- all NOT NULL
//     UNIQUE (aggregate_type, aggregate_id, version));
//
// Each event's hash is the audit chain link of persistence/audit_chain.hpp, so a stream's
// chain is recomputed from anchor_hash over its events in version order.

#include "strata/persistence/archive.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <utility>

#include <SQLiteCpp/SQLiteCpp.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "strata/persistence/detail/sqlite_error.hpp"

namespace strata {
namespace {

using persistence::event_record;
using persistence::journal;
using persistence::stream_range;

constexpr std::size_t page_size = 1000;
constexpr const char* format_name = "strata.archive";

constexpr const char* schema_sql = R"sql(
CREATE TABLE IF NOT EXISTS manifest (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS streams (
  stream TEXT PRIMARY KEY, aggregate_type TEXT NOT NULL, aggregate_id TEXT NOT NULL,
  first_version INTEGER NOT NULL, last_version INTEGER NOT NULL, anchor_hash TEXT NOT NULL,
  last_hash TEXT NOT NULL, events INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (
  global_position INTEGER PRIMARY KEY, aggregate_type TEXT NOT NULL, aggregate_id TEXT NOT NULL,
  version INTEGER NOT NULL, event_id TEXT NOT NULL, event_type TEXT NOT NULL,
  schema_version INTEGER NOT NULL, timestamp_us INTEGER NOT NULL, user_id TEXT NOT NULL,
  command_id TEXT NOT NULL, correlation_id TEXT NOT NULL, causation_id TEXT NOT NULL,
  data TEXT NOT NULL, hash TEXT NOT NULL, UNIQUE (aggregate_type, aggregate_id, version));
)sql";

constexpr const char* event_columns =
    "global_position, aggregate_type, aggregate_id, version, event_id, event_type, "
    "schema_version, timestamp_us, user_id, command_id, correlation_id, causation_id, data, hash";

std::int64_t i64(std::uint64_t v) {
  return static_cast<std::int64_t>(std::min<std::uint64_t>(v, INT64_MAX));
}

std::uint64_t record_bytes(const event_record& r) {
  return r.event_id.size() + r.event_type.size() + r.aggregate_type.size() + r.aggregate_id.size() +
         r.user_id.size() + r.command_id.size() + r.correlation_id.size() + r.causation_id.size() +
         r.data.size() + r.hash.size() + 28;
}

/// Incremental SHA-256 in lower-case hex.
class sha256 {
 public:
  sha256() : ctx_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) {
    EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
  }
  void add(std::string_view bytes) { EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size()); }
  std::string hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(ctx_.get(), digest, &length);
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < length; ++i) {
      out += digits[digest[i] >> 4];
      out += digits[digest[i] & 0x0f];
    }
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

event_record read_event(const SQLite::Statement& s) {
  event_record r;
  r.position = global_position{static_cast<std::uint64_t>(s.getColumn(0).getInt64())};
  r.aggregate_type = s.getColumn(1).getString();
  r.aggregate_id = s.getColumn(2).getString();
  r.stream_version = version{static_cast<std::uint64_t>(s.getColumn(3).getInt64())};
  r.event_id = s.getColumn(4).getString();
  r.event_type = s.getColumn(5).getString();
  r.schema_version = static_cast<std::uint32_t>(s.getColumn(6).getInt64());
  r.time = from_unix_micros(s.getColumn(7).getInt64());
  r.user_id = s.getColumn(8).getString();
  r.command_id = s.getColumn(9).getString();
  r.correlation_id = s.getColumn(10).getString();
  r.causation_id = s.getColumn(11).getString();
  r.data = s.getColumn(12).getString();
  r.hash = s.getColumn(13).getString();
  return r;
}

std::map<std::string, std::string> read_manifest(SQLite::Database& db) {
  std::map<std::string, std::string> out;
  SQLite::Statement s(db, "SELECT key, value FROM manifest");
  while (s.executeStep()) out[s.getColumn(0).getString()] = s.getColumn(1).getString();
  return out;
}

void put_manifest(SQLite::Database& db, const std::string& key, const std::string& value) {
  SQLite::Statement s(db, "INSERT OR REPLACE INTO manifest (key, value) VALUES (?1, ?2)");
  s.bind(1, key);
  s.bind(2, value);
  s.exec();
}

/// The digest and count over the file's events (see the top).
std::pair<std::string, std::uint64_t> content_digest(SQLite::Database& db) {
  sha256 digest;
  std::uint64_t n = 0;
  SQLite::Statement s(db, "SELECT hash FROM events ORDER BY global_position");
  while (s.executeStep()) {
    digest.add(s.getColumn(0).getString());
    ++n;
  }
  return {digest.hex(), n};
}

chain_violation archive_violation(const stream_id& s, version at, global_position p,
                                  std::string kind, std::string detail) {
  return chain_violation{s, at, p, std::move(kind), "archive: " + std::move(detail)};
}

result<archive_manifest> parse_manifest(const std::map<std::string, std::string>& m,
                                        const std::string& path) {
  auto get = [&](const char* k) {
    auto it = m.find(k);
    return it == m.end() ? std::string{} : it->second;
  };
  if (get("format") != format_name)
    return error{errc::invalid_argument, path + " is not a strata archive"};
  archive_manifest out;
  try {
    out.format_version = std::stoi(get("format_version"));
    out.events = std::stoull(get("events").empty() ? "0" : get("events"));
  } catch (const std::exception&) {
    return error{errc::corrupted, path + ": the manifest's numbers cannot be read"};
  }
  if (out.format_version > archive_format_version)
    return error{errc::unsupported, path + " has archive format version " +
                                        std::to_string(out.format_version) + ", this code knows " +
                                        std::to_string(archive_format_version)};
  out.archive_id = get("archive_id");
  out.journal_id = get("journal_id");
  out.created = parse_iso8601(get("created")).value_or(timestamp{});
  out.cut_off = parse_iso8601(get("cut_off")).value_or(timestamp{});
  out.digest = get("digest");
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Planning

result<archive_plan> plan_archive(journal& j, persistence::snapshot_store& snapshots,
                                  const archive_options& options) {
  archive_plan plan;
  plan.journal_id = j.id();
  plan.cut_off = options.cut_off;
  struct old_part {
    stream_id stream;
    version newest_old;   // the last version of the stream's unbroken run of old events
    bool broken = false;  // a newer event came: later old events do not count
    std::uint64_t count = 0;
  };
  std::map<std::string, old_part> old;
  global_position after{};
  for (;;) {
    auto page = j.read_all(after, page_size);
    if (!page) return std::move(page).err();
    for (const event_record& r : *page) {
      after = r.position;
      auto [it, fresh] = old.try_emplace(r.stream().str());
      old_part& p = it->second;
      if (fresh) p.stream = r.stream();
      if (p.broken) continue;
      if (r.time > options.cut_off) {
        p.broken = true;
        continue;
      }
      p.newest_old = r.stream_version;
      ++p.count;
    }
    if (page->size() < page_size) break;
  }
  for (auto& [name, p] : old) {
    if (p.count == 0) continue;
    auto anchor = j.anchor(p.stream);
    if (!anchor) return std::move(anchor).err();
    const version base = *anchor ? (**anchor).at : version{};
    // The newest snapshot S with S - 1 <= newest old version whose event S is in the journal
    // with the snapshot's hash.
    auto kept = snapshots.list(p.stream);
    if (!kept) return std::move(kept).err();
    std::optional<persistence::snapshot_record> chosen;
    for (auto it = kept->rbegin(); it != kept->rend() && !chosen; ++it) {
      if (it->at.value > p.newest_old.value + 1 || it->at.value < base.value + 2) continue;
      stream_range at;
      at.from = it->at;
      at.to = it->at;
      auto event = j.read_stream(p.stream, at);
      if (!event) return std::move(event).err();
      if (!event->empty() && event->front().hash == it->last_event_hash) chosen = *it;
    }
    if (!chosen) {
      plan.skipped.push_back(
          archive_skip{p.stream, p.count,
                       kept->empty() ? "no snapshot: every event is needed to rehydrate it"
                                     : "no snapshot within its old events (newest old version " +
                                           std::to_string(p.newest_old.value) + ")"});
      continue;
    }
    archive_stream_plan s;
    s.stream = p.stream;
    s.from = base.next();
    s.through = version{chosen->at.value - 1};
    s.snapshot = chosen->at;
    s.anchor_hash = *anchor ? (**anchor).hash : std::string{};
    stream_range range;
    range.from = s.from;
    range.to = s.through;
    range.limit = page_size;
    for (;;) {
      auto page = j.read_stream(s.stream, range);
      if (!page) return std::move(page).err();
      for (const event_record& r : *page) {
        if (s.events == 0) {
          s.first_position = r.position;
          s.first_time = r.time;
        }
        s.first_position = std::min(s.first_position, r.position);
        s.last_position = std::max(s.last_position, r.position);
        s.last_time = r.time;
        s.through_hash = r.hash;
        s.bytes += record_bytes(r);
        ++s.events;
      }
      if (page->size() < page_size) break;
      range.from = page->back().stream_version.next();
    }
    if (s.events != s.through.value - s.from.value + 1)
      return error{errc::corrupted, s.stream.str() + ": versions " + std::to_string(s.from.value) +
                                        ".." + std::to_string(s.through.value) +
                                        " are not all in the journal"};
    plan.events += s.events;
    plan.bytes += s.bytes;
    plan.streams.push_back(std::move(s));
  }
  return plan;
}

// ---------------------------------------------------------------------------------------------
// Running

namespace {

/// Opens (creating) the archive for writing and checks it belongs to `journal_id`.
result<std::unique_ptr<SQLite::Database>> open_for_writing(const std::string& path,
                                                           const std::string& journal_id,
                                                           timestamp cut_off, timestamp created) {
  auto db =
      std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, 5000);
  db->exec("PRAGMA journal_mode=DELETE");
  db->exec("PRAGMA synchronous=FULL");
  db->exec("BEGIN IMMEDIATE");
  db->exec(schema_sql);
  auto m = read_manifest(*db);
  if (m.empty()) {
    put_manifest(*db, "format", format_name);
    put_manifest(*db, "format_version", std::to_string(archive_format_version));
    put_manifest(*db, "archive_id", persistence::make_journal_id());
    put_manifest(*db, "journal_id", journal_id);
    put_manifest(*db, "created", to_iso8601(created));
    put_manifest(*db, "events", "0");
    put_manifest(*db, "digest", sha256{}.hex());
  } else {
    auto parsed = parse_manifest(m, path);
    if (!parsed) {
      db->exec("ROLLBACK");
      return std::move(parsed).err();
    }
    if (parsed->journal_id != journal_id) {
      db->exec("ROLLBACK");
      return error{errc::invalid_argument, path + " archives journal " + parsed->journal_id +
                                               ", not this journal (" + journal_id + ")"};
    }
  }
  put_manifest(*db, "cut_off", to_iso8601(cut_off));
  db->exec("COMMIT");
  return db;
}

/// Copies one stream's planned events (a resumed run finds some already there).
/// Returns how many rows were new.
result<std::uint64_t> copy_stream(journal& j, SQLite::Database& db, const archive_stream_plan& s) {
  SQLite::Statement existing(db,
                             "SELECT first_version, last_version, anchor_hash FROM streams "
                             "WHERE stream = ?1");
  existing.bind(1, s.stream.str());
  if (existing.executeStep()) {
    const auto first = static_cast<std::uint64_t>(existing.getColumn(0).getInt64());
    const auto last = static_cast<std::uint64_t>(existing.getColumn(1).getInt64());
    if (last + 1 < s.from.value || first > s.from.value)
      return error{errc::invalid_argument, s.stream.str() + ": the archive holds versions " +
                                               std::to_string(first) + ".." + std::to_string(last) +
                                               ", which this run (from version " +
                                               std::to_string(s.from.value) +
                                               ") does not continue; archive to another file"};
  }
  SQLite::Statement ins(db, std::string{"INSERT OR IGNORE INTO events ("} + event_columns +
                                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
                                "?13, ?14)");
  std::uint64_t added = 0;
  stream_range range;
  range.from = s.from;
  range.to = s.through;
  range.limit = page_size;
  for (;;) {
    auto page = j.read_stream(s.stream, range);
    if (!page) return std::move(page).err();
    for (const event_record& r : *page) {
      ins.reset();
      ins.bind(1, i64(r.position.value));
      ins.bind(2, r.aggregate_type);
      ins.bind(3, r.aggregate_id);
      ins.bind(4, i64(r.stream_version.value));
      ins.bind(5, r.event_id);
      ins.bind(6, r.event_type);
      ins.bind(7, static_cast<std::int64_t>(r.schema_version));
      ins.bind(8, static_cast<std::int64_t>(to_unix_micros(r.time)));
      ins.bind(9, r.user_id);
      ins.bind(10, r.command_id);
      ins.bind(11, r.correlation_id);
      ins.bind(12, r.causation_id);
      ins.bind(13, r.data);
      ins.bind(14, r.hash);
      added += static_cast<std::uint64_t>(ins.exec());
    }
    if (page->size() < page_size) break;
    range.from = page->back().stream_version.next();
  }
  SQLite::Statement up(db,
                       "INSERT INTO streams (stream, aggregate_type, aggregate_id, first_version, "
                       "last_version, anchor_hash, last_hash, events) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0) ON CONFLICT (stream) DO UPDATE "
                       "SET last_version = max(last_version, excluded.last_version), "
                       "last_hash = CASE WHEN excluded.last_version >= last_version THEN "
                       "excluded.last_hash ELSE last_hash END");
  up.bind(1, s.stream.str());
  up.bind(2, std::string{s.stream.aggregate_type()});
  up.bind(3, std::string{s.stream.aggregate_id()});
  up.bind(4, i64(s.from.value));
  up.bind(5, i64(s.through.value));
  up.bind(6, s.anchor_hash);
  up.bind(7, s.through_hash);
  up.exec();
  SQLite::Statement count(db,
                          "UPDATE streams SET events = (SELECT count(*) FROM events e WHERE "
                          "e.aggregate_type = ?2 AND e.aggregate_id = ?3) WHERE stream = ?1");
  count.bind(1, s.stream.str());
  count.bind(2, std::string{s.stream.aggregate_type()});
  count.bind(3, std::string{s.stream.aggregate_id()});
  count.exec();
  return added;
}

/// Re-reads one stream's planned events from the file and re-hashes them from the plan's
/// anchor: the copy must end on the journal's hash at `through`.
result<void> verify_copy(SQLite::Database& db, const archive_stream_plan& s) {
  SQLite::Statement q(db, std::string{"SELECT "} + event_columns +
                              " FROM events WHERE aggregate_type = ?1 AND aggregate_id = ?2 AND "
                              "version >= ?3 AND version <= ?4 ORDER BY version");
  q.bind(1, std::string{s.stream.aggregate_type()});
  q.bind(2, std::string{s.stream.aggregate_id()});
  q.bind(3, i64(s.from.value));
  q.bind(4, i64(s.through.value));
  persistence::chain_hasher hasher;
  std::string previous = s.anchor_hash;
  version expected = s.from;
  while (q.executeStep()) {
    event_record r = read_event(q);
    if (r.stream_version != expected || hasher.link(previous, r) != r.hash)
      return error{errc::corrupted, s.stream.str() + " v" + std::to_string(expected.value) +
                                        ": the archived copy does not match the journal"};
    previous = std::move(r.hash);
    expected = expected.next();
  }
  if (expected != s.through.next() || previous != s.through_hash)
    return error{errc::corrupted, s.stream.str() + ": the archive does not hold versions " +
                                      std::to_string(s.from.value) + ".." +
                                      std::to_string(s.through.value) + " as the journal does"};
  return ok();
}

}  // namespace

result<archive_outcome> run_archive(journal& j, const archive_plan& plan,
                                    const std::string& archive_path, const archive_options& options,
                                    const archive_hooks& hooks) {
  archive_outcome out;
  const std::string name = std::filesystem::path{archive_path}.filename().string();
  const std::size_t per_tx = std::max<std::size_t>(options.streams_per_transaction, 1);
  auto report = [&](std::string_view phase, std::uint64_t done) {
    if (hooks.progress) hooks.progress(archive_progress{phase, done, plan.events});
  };
  auto at = [&](std::string_view point) {
    if (hooks.at) hooks.at(point);
  };
  try {
    {
      auto db = open_for_writing(archive_path, j.id(), plan.cut_off, options.now);
      if (!db) return std::move(db).err();
      // One transaction with the manifest's count and digest: the file is never seen with
      // events its manifest does not account for.
      std::uint64_t done = 0;
      SQLite::Transaction tx(**db);
      for (std::size_t i = 0; i < plan.streams.size(); ++i) {
        auto added = copy_stream(j, **db, plan.streams[i]);
        if (!added) return std::move(added).err();
        out.copied += *added;
        done += plan.streams[i].events;
        if ((i + 1) % per_tx == 0 || i + 1 == plan.streams.size()) report("copy", done);
      }
      auto [digest, events] = content_digest(**db);
      put_manifest(**db, "digest", digest);
      put_manifest(**db, "events", std::to_string(events));
      tx.commit();  // synchronous=FULL: durable once this returns
    }
    at("after_copy");
    {
      // A fresh connection: what is read back is what the file holds.
      SQLite::Database db(archive_path, SQLite::OPEN_READONLY, 5000);
      std::uint64_t done = 0;
      for (const archive_stream_plan& s : plan.streams) {
        if (auto v = verify_copy(db, s); !v) return std::move(v).err();
        done += s.events;
        if (done == plan.events) report("verify", done);
      }
    }
  } catch (const SQLite::Exception& e) {
    return persistence::detail::sqlite_error(e, "archive " + archive_path);
  } catch (const std::exception& e) {
    return error{errc::internal, "archive " + archive_path + ": " + e.what()};
  }
  at("after_verify");
  std::uint64_t done = 0;
  for (std::size_t first = 0; first < plan.streams.size(); first += per_tx) {
    std::vector<persistence::stream_cut> cuts;
    const std::size_t last = std::min(plan.streams.size(), first + per_tx);
    for (std::size_t i = first; i < last; ++i) {
      const auto& s = plan.streams[i];
      cuts.push_back(persistence::stream_cut{s.stream, s.through, s.through_hash});
      done += s.events;
    }
    auto removed = j.cut(cuts, name);
    if (!removed) return std::move(removed).err();
    out.removed += *removed;
    report("delete", done);
    if (first == 0 && last < plan.streams.size()) at("mid_delete");
  }
  out.streams = plan.streams.size();
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading

struct archive_reader::impl {
  std::string path;
  SQLite::Database db;
  archive_manifest manifest;

  explicit impl(const std::string& p) : path(p), db(p, SQLite::OPEN_READONLY, 5000) {}
};

archive_reader::archive_reader(std::unique_ptr<impl> i) : impl_(std::move(i)) {}
archive_reader::~archive_reader() = default;

result<std::unique_ptr<archive_reader>> archive_reader::open(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return error{errc::not_found, "archive file '" + path + "' does not exist"};
  try {
    auto i = std::make_unique<impl>(path);
    SQLite::Statement has(i->db,
                          "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                          "('manifest', 'streams', 'events')");
    has.executeStep();
    if (has.getColumn(0).getInt64() != 3)
      return error{errc::invalid_argument, path + " is not a strata archive"};
    auto m = parse_manifest(read_manifest(i->db), path);
    if (!m) return std::move(m).err();
    i->manifest = std::move(*m);
    return std::unique_ptr<archive_reader>{new archive_reader{std::move(i)}};
  } catch (const SQLite::Exception& e) {
    const int code = e.getErrorCode() & 0xff;
    if (code == SQLITE_NOTADB)
      return error{errc::invalid_argument, path + " is not a strata archive (not SQLite)"};
    return persistence::detail::sqlite_error(e, "open archive " + path);
  }
}

const archive_manifest& archive_reader::manifest() const noexcept {
  return impl_->manifest;
}

const std::string& archive_reader::path() const noexcept {
  return impl_->path;
}

result<std::vector<archived_stream>> archive_reader::streams() {
  try {
    std::vector<archived_stream> out;
    SQLite::Statement s(impl_->db,
                        "SELECT stream, first_version, last_version, anchor_hash, last_hash, "
                        "events FROM streams ORDER BY stream");
    while (s.executeStep()) {
      archived_stream a;
      a.stream = stream_id::parse(s.getColumn(0).getString());
      a.first = version{static_cast<std::uint64_t>(s.getColumn(1).getInt64())};
      a.last = version{static_cast<std::uint64_t>(s.getColumn(2).getInt64())};
      a.anchor_hash = s.getColumn(3).getString();
      a.last_hash = s.getColumn(4).getString();
      a.events = static_cast<std::uint64_t>(s.getColumn(5).getInt64());
      out.push_back(std::move(a));
    }
    return out;
  } catch (const SQLite::Exception& e) {
    return persistence::detail::sqlite_error(e, "read archive " + impl_->path);
  }
}

result<std::vector<event_record>> archive_reader::read_stream(const stream_id& stream,
                                                              const stream_range& range) {
  try {
    std::vector<event_record> out;
    SQLite::Statement s(impl_->db, std::string{"SELECT "} + event_columns +
                                       " FROM events WHERE aggregate_type = ?1 AND "
                                       "aggregate_id = ?2 AND version >= ?3 AND version <= ?4 "
                                       "AND timestamp_us <= ?5 ORDER BY version LIMIT ?6");
    s.bind(1, std::string{stream.aggregate_type()});
    s.bind(2, std::string{stream.aggregate_id()});
    s.bind(3, i64(range.from.value));
    s.bind(4, range.to ? i64(range.to->value) : INT64_MAX);
    s.bind(5, range.until ? static_cast<std::int64_t>(to_unix_micros(*range.until)) : INT64_MAX);
    s.bind(6, i64(range.limit));
    while (s.executeStep()) out.push_back(read_event(s));
    return out;
  } catch (const SQLite::Exception& e) {
    return persistence::detail::sqlite_error(e, "read archive " + impl_->path);
  }
}

result<std::vector<event_record>> archive_reader::read_all(global_position after,
                                                           std::size_t limit) {
  try {
    std::vector<event_record> out;
    SQLite::Statement s(impl_->db, std::string{"SELECT "} + event_columns +
                                       " FROM events WHERE global_position > ?1 ORDER BY "
                                       "global_position LIMIT ?2");
    s.bind(1, i64(after.value));
    s.bind(2, i64(limit));
    while (s.executeStep()) out.push_back(read_event(s));
    return out;
  } catch (const SQLite::Exception& e) {
    return persistence::detail::sqlite_error(e, "read archive " + impl_->path);
  }
}

result<std::optional<chain_violation>> archive_reader::verify() {
  using answer = std::optional<chain_violation>;
  auto rows = streams();
  if (!rows) return std::move(rows).err();
  try {
    persistence::chain_hasher hasher;
    std::uint64_t total = 0;
    for (const archived_stream& a : *rows) {
      SQLite::Statement q(impl_->db, std::string{"SELECT "} + event_columns +
                                         " FROM events WHERE aggregate_type = ?1 AND "
                                         "aggregate_id = ?2 ORDER BY version");
      q.bind(1, std::string{a.stream.aggregate_type()});
      q.bind(2, std::string{a.stream.aggregate_id()});
      std::string previous = a.anchor_hash;
      if (a.first.value == 1 && !previous.empty())
        return answer{archive_violation(a.stream, a.first, global_position{}, "altered",
                                        "version 1 has a non-empty anchor hash")};
      version expected = a.first;
      global_position last_position{};
      std::uint64_t n = 0;
      while (q.executeStep()) {
        event_record r = read_event(q);
        if (r.stream_version != expected)
          return answer{archive_violation(
              a.stream, expected, r.position, r.stream_version > expected ? "missing" : "inserted",
              "the next archived event is version " + std::to_string(r.stream_version.value))};
        if (r.position < last_position)
          return answer{archive_violation(a.stream, r.stream_version, r.position, "reordered",
                                          "positions do not follow versions")};
        if (hasher.link(previous, r) != r.hash)
          return answer{
              archive_violation(a.stream, r.stream_version, r.position, "altered",
                                "the stored hash does not match the event and its predecessor")};
        previous = std::move(r.hash);
        last_position = r.position;
        expected = expected.next();
        ++n;
      }
      if (expected != a.last.next() || previous != a.last_hash || n != a.events)
        return answer{archive_violation(
            a.stream, expected, last_position, "missing",
            "the streams row says versions " + std::to_string(a.first.value) + ".." +
                std::to_string(a.last.value) + " (" + std::to_string(a.events) + " events)")};
      total += n;
    }
    auto [digest, events] = content_digest(impl_->db);
    if (events != total)
      return answer{archive_violation(stream_id{}, version{}, global_position{}, "inserted",
                                      "events that belong to no stream row")};
    if (events != impl_->manifest.events || digest != impl_->manifest.digest)
      return answer{archive_violation(stream_id{}, version{}, global_position{}, "altered",
                                      "the content does not match the manifest's count and "
                                      "digest")};
    return answer{};
  } catch (const SQLite::Exception& e) {
    return persistence::detail::sqlite_error(e, "verify archive " + impl_->path);
  }
}

// ---- several archives ----------------------------------------------------------------------

archive_set::archive_set(archive_set&&) noexcept = default;
archive_set& archive_set::operator=(archive_set&&) noexcept = default;
archive_set::~archive_set() = default;

result<archive_set> archive_set::open(const std::vector<std::string>& paths) {
  if (paths.empty()) return error{errc::invalid_argument, "no archive file named"};
  archive_set set;
  for (const std::string& path : paths) {
    auto a = archive_reader::open(path);
    if (!a) return std::move(a).err();
    for (const archive_reader* other : set.order_) {
      if (other->manifest().archive_id == (*a)->manifest().archive_id)
        return error{errc::invalid_argument, path + " and " + other->path() +
                                                 " are the same archive (id " +
                                                 other->manifest().archive_id + ")"};
      if (other->manifest().journal_id != (*a)->manifest().journal_id)
        return error{errc::invalid_argument,
                     path + " holds events of journal " + (*a)->manifest().journal_id + ", " +
                         other->path() + " of journal " + other->manifest().journal_id +
                         ": archives of different journals cannot be read together"};
    }
    set.order_.push_back(a->get());
    set.owned_.push_back(std::move(*a));
  }
  std::stable_sort(set.order_.begin(), set.order_.end(),
                   [](const archive_reader* x, const archive_reader* y) {
                     const archive_manifest& a = x->manifest();
                     const archive_manifest& b = y->manifest();
                     if (a.created != b.created) return a.created < b.created;
                     if (a.cut_off != b.cut_off) return a.cut_off < b.cut_off;
                     return a.archive_id < b.archive_id;
                   });
  return set;
}

archive_set archive_set::of(archive_reader& archive) {
  archive_set set;
  set.order_.push_back(&archive);
  return set;
}

const std::string& archive_set::journal_id() const noexcept {
  return order_.front()->manifest().journal_id;
}

std::string archive_set::names() const {
  std::string out;
  for (const archive_reader* a : order_) {
    if (!out.empty()) out += ", ";
    out += a->path();
  }
  return out;
}

namespace {

/// Every part of every stream of `set`, per stream name, in set order.
result<std::map<std::string, std::vector<std::pair<archive_reader*, archived_stream>>>> parts_of(
    const std::vector<archive_reader*>& set) {
  std::map<std::string, std::vector<std::pair<archive_reader*, archived_stream>>> out;
  for (archive_reader* a : set) {
    auto rows = a->streams();
    if (!rows) return std::move(rows).err();
    for (auto& row : *rows) out[row.stream.str()].emplace_back(a, std::move(row));
  }
  return out;
}

/// Merges pages ordered by `key`, keeping the first of equal keys, up to `limit`.
template <class Key>
std::vector<event_record> merge_pages(std::vector<std::vector<event_record>> pages,
                                      std::size_t limit, Key key) {
  std::vector<event_record> out;
  std::vector<std::size_t> at(pages.size(), 0);
  while (out.size() < limit) {
    std::optional<std::size_t> best;
    for (std::size_t i = 0; i < pages.size(); ++i) {
      if (at[i] == pages[i].size()) continue;
      if (!best || key(pages[i][at[i]]) < key(pages[*best][at[*best]])) best = i;
    }
    if (!best) break;
    event_record next = std::move(pages[*best][at[*best]++]);
    for (std::size_t i = 0; i < pages.size(); ++i)
      if (at[i] < pages[i].size() && key(pages[i][at[i]]) == key(next)) ++at[i];
    out.push_back(std::move(next));
  }
  return out;
}

}  // namespace

result<std::vector<archived_stream>> archive_set::streams() {
  auto parts = parts_of(order_);
  if (!parts) return std::move(parts).err();
  std::vector<archived_stream> out;
  for (auto& [name, list] : *parts) {
    archived_stream joined = list.front().second;
    joined.events = 0;
    for (const auto& [reader, part] : list) {
      if (part.first < joined.first) {
        joined.first = part.first;
        joined.anchor_hash = part.anchor_hash;
      }
      if (part.last >= joined.last) {
        joined.last = part.last;
        joined.last_hash = part.last_hash;
      }
      joined.events += part.events;
    }
    out.push_back(std::move(joined));
  }
  return out;
}

result<std::vector<event_record>> archive_set::read_stream(const stream_id& stream,
                                                           const stream_range& range) {
  std::vector<std::vector<event_record>> pages;
  for (archive_reader* a : order_) {
    auto page = a->read_stream(stream, range);
    if (!page) return std::move(page).err();
    if (!page->empty()) pages.push_back(std::move(*page));
  }
  if (pages.size() == 1) return std::move(pages.front());
  return merge_pages(std::move(pages), range.limit,
                     [](const event_record& r) { return r.stream_version.value; });
}

result<std::vector<event_record>> archive_set::read_all(global_position after, std::size_t limit) {
  std::vector<std::vector<event_record>> pages;
  for (archive_reader* a : order_) {
    auto page = a->read_all(after, limit);
    if (!page) return std::move(page).err();
    if (!page->empty()) pages.push_back(std::move(*page));
  }
  if (pages.size() == 1) return std::move(pages.front());
  return merge_pages(std::move(pages), limit,
                     [](const event_record& r) { return r.position.value; });
}

result<std::optional<chain_violation>> archive_set::verify() {
  using answer = std::optional<chain_violation>;
  for (archive_reader* a : order_) {
    auto alone = a->verify();
    if (!alone) return std::move(alone).err();
    if (*alone) {
      (*alone)->detail = a->path() + ": " + (*alone)->detail;
      return alone;
    }
  }
  auto parts = parts_of(order_);
  if (!parts) return std::move(parts).err();
  for (auto& [name, list] : *parts) {
    std::stable_sort(list.begin(), list.end(),
                     [](const auto& x, const auto& y) { return x.second.first < y.second.first; });
    for (std::size_t i = 1; i < list.size(); ++i) {
      const auto& [before_file, before] = list[i - 1];
      const auto& [file, part] = list[i];
      const std::string between =
          " (" + before_file->path() + " holds v" + std::to_string(before.first.value) + "..v" +
          std::to_string(before.last.value) + ", " + file->path() + " v" +
          std::to_string(part.first.value) + "..v" + std::to_string(part.last.value) + ")";
      if (part.first <= before.last)
        return answer{archive_violation(part.stream, part.first, global_position{}, "inserted",
                                        "overlap: versions " + std::to_string(part.first.value) +
                                            ".." +
                                            std::to_string(std::min(part.last, before.last).value) +
                                            " are in two archives" + between)};
      if (part.first != before.last.next())
        return answer{archive_violation(
            part.stream, before.last.next(), global_position{}, "missing",
            "gap: versions " + std::to_string(before.last.value + 1) + ".." +
                std::to_string(part.first.value - 1) + " are in none of the archives" + between)};
      if (part.anchor_hash != before.last_hash)
        return answer{archive_violation(part.stream, part.first, global_position{}, "altered",
                                        "the chain does not continue from one archive to the "
                                        "next: the anchor hash differs from the last hash" +
                                            between)};
    }
  }
  return answer{};
}

// ---- hot and cold together -----------------------------------------------------------------

result<std::vector<event_record>> read_all_with_archive(journal& j, archive_set& archives,
                                                        global_position after, std::size_t limit) {
  auto hot = j.read_all(after, limit);
  if (!hot) return std::move(hot).err();
  auto cold = archives.read_all(after, limit);
  if (!cold) return std::move(cold).err();
  std::vector<std::vector<event_record>> pages;
  pages.push_back(std::move(*hot));  // first: an event in both comes from the journal
  pages.push_back(std::move(*cold));
  return merge_pages(std::move(pages), limit,
                     [](const event_record& r) { return r.position.value; });
}

result<std::vector<event_record>> read_all_with_archive(journal& j, archive_reader& archive,
                                                        global_position after, std::size_t limit) {
  archive_set set = archive_set::of(archive);
  return read_all_with_archive(j, set, after, limit);
}

result<persistence::apply_outcome> catch_up_with_archive(persistence::projection_runner& runner,
                                                         journal& j, archive_set& archives,
                                                         std::size_t batch) {
  persistence::apply_outcome total;
  batch = std::max<std::size_t>(batch, 1);
  for (;;) {
    auto records = read_all_with_archive(j, archives, runner.position().position, batch);
    if (!records) return std::move(records).err();
    if (records->empty()) break;
    auto out = runner.apply(*records);
    if (!out) return std::move(out).err();
    if (out->gap)
      return error{errc::not_found, "no event at position " +
                                        std::to_string(runner.position().position.value + 1) +
                                        " in the journal or archive " + archives.names()};
    total.applied += out->applied;
    total.skipped += out->skipped;
    total.parked += out->parked;
    total.stopped = out->stopped;
    if (out->stopped || records->size() < batch) break;
  }
  return total;
}

result<persistence::apply_outcome> catch_up_with_archive(persistence::projection_runner& runner,
                                                         journal& j, archive_reader& archive,
                                                         std::size_t batch) {
  archive_set set = archive_set::of(archive);
  return catch_up_with_archive(runner, j, set, batch);
}

result<std::optional<chain_violation>> verify_with_archive(journal& j, archive_set& archives) {
  using answer = std::optional<chain_violation>;
  auto alone = archives.verify();
  if (!alone || *alone) return alone;
  if (archives.journal_id() != j.id())
    return answer{archive_violation(
        stream_id{}, version{}, global_position{}, "inserted",
        "it holds events of journal " + archives.journal_id() + ", not " + j.id())};
  auto hot = persistence::verify_journal(j);
  if (!hot || *hot) return hot;
  auto rows = archives.streams();
  if (!rows) return std::move(rows).err();
  std::map<std::string, const archived_stream*> cold;
  for (const auto& a : *rows) cold[a.stream.str()] = &a;
  auto anchors = j.anchors();
  if (!anchors) return std::move(anchors).err();
  for (const persistence::stream_anchor& a : *anchors) {
    auto it = cold.find(a.stream.str());
    if (it == cold.end() || it->second->first.value != 1 || it->second->last < a.at)
      return answer{chain_violation{
          a.stream, a.at, global_position{}, "missing",
          "versions 1.." + std::to_string(a.at.value) + " are archived but not all in " +
              (archives.archives().size() == 1 ? "this archive" : "these archives")}};
    stream_range at;
    at.from = a.at;
    at.to = a.at;
    auto event = archives.read_stream(a.stream, at);
    if (!event) return std::move(event).err();
    if (event->empty() || event->front().hash != a.hash)
      return answer{chain_violation{a.stream, a.at, global_position{}, "altered",
                                    "the journal's anchor hash differs from the archived event"}};
    if (it->second->last > a.at) {
      // Copied by a run that did not cut yet: those events are still in the journal too,
      // which is consistent (the next run cuts them) as long as they are the same events.
      at.from = a.at.next();
      at.to = it->second->last;
      auto both = j.read_stream(a.stream, at);
      if (!both) return std::move(both).err();
      auto copy = archives.read_stream(a.stream, at);
      if (!copy) return std::move(copy).err();
      if (both->size() != copy->size() ||
          !std::equal(both->begin(), both->end(), copy->begin(),
                      [](const event_record& x, const event_record& y) {
                        return x.hash == y.hash && x.position == y.position;
                      }))
        return answer{chain_violation{a.stream, a.at.next(), global_position{}, "altered",
                                      "events copied to the archive differ from the journal's"}};
    }
    cold.erase(it);
  }
  // Streams copied but not cut at all: the same events must still be in the journal.
  for (const auto& [name, a] : cold) {
    stream_range range;
    range.from = a->first;
    range.to = a->last;
    auto both = j.read_stream(a->stream, range);
    if (!both) return std::move(both).err();
    if (both->size() != a->events || (!both->empty() && both->back().hash != a->last_hash))
      return answer{chain_violation{a->stream, a->first, global_position{}, "missing",
                                    "archived events the journal neither holds nor anchors"}};
  }
  // Every position up to the journal's last once: hot or cold (an event copied but not yet
  // cut counts once).
  auto last = j.last_position();
  if (!last) return std::move(last).err();
  global_position after{};
  for (;;) {
    auto page = read_all_with_archive(j, archives, after, page_size);
    if (!page) return std::move(page).err();
    for (const event_record& r : *page) {
      if (r.position != after.next())
        return answer{chain_violation{stream_id{}, version{}, after.next(), "missing",
                                      "no event at this position in the journal or the archive"}};
      after = r.position;
    }
    if (page->size() < page_size) break;
  }
  if (after < *last)
    return answer{chain_violation{stream_id{}, version{}, after.next(), "missing",
                                  "no event at this position in the journal or the archive"}};
  if (*last < after)
    return answer{chain_violation{stream_id{}, version{}, after, "inserted",
                                  "the archive holds positions beyond the journal's last"}};
  return answer{};
}

result<std::optional<chain_violation>> verify_with_archive(journal& j, archive_reader& archive) {
  archive_set set = archive_set::of(archive);
  return verify_with_archive(j, set);
}

// ---- the journal as it was before archival -------------------------------------------------

result<std::vector<persistence::stream_outcome>> journal_with_archives::append(
    const std::vector<persistence::stream_append>& batch) {
  (void)batch;
  return error{errc::unsupported, "a journal read together with its archives is read-only"};
}

result<std::uint64_t> journal_with_archives::cut(const std::vector<persistence::stream_cut>& cuts,
                                                 const std::string& archive) {
  (void)cuts;
  (void)archive;
  return error{errc::unsupported, "a journal read together with its archives is read-only"};
}

result<bool> journal_with_archives::covers(const persistence::stream_anchor& a) {
  if (!streams_) {
    auto rows = archives_.streams();
    if (!rows) return std::move(rows).err();
    streams_ = std::move(*rows);
  }
  auto it = std::lower_bound(
      streams_->begin(), streams_->end(), a.stream.str(),
      [](const archived_stream& s, const std::string& name) { return s.stream.str() < name; });
  return it != streams_->end() && it->stream == a.stream && it->first.value == 1 &&
         it->last >= a.at;
}

result<std::vector<event_record>> journal_with_archives::read_stream(const stream_id& stream,
                                                                     const stream_range& range) {
  auto a = inner().anchor(stream);
  if (!a) return std::move(a).err();
  if (!*a || range.from > (*a)->at) return inner().read_stream(stream, range);
  auto held = covers(**a);
  if (!held) return std::move(held).err();
  if (!*held)
    return error{errc::not_found, stream.str() + ": versions 1.." + std::to_string((*a)->at.value) +
                                      " are archived (newest part in archive '" + (*a)->archive +
                                      "') but not all in the archives given (" + archives_.names() +
                                      ")"};
  stream_range cold = range;
  cold.to = range.to ? std::min(*range.to, (*a)->at) : (*a)->at;
  auto out = archives_.read_stream(stream, cold);
  if (!out) return out;
  if (out->size() >= range.limit || (range.to && *range.to <= (*a)->at)) return out;
  stream_range hot = range;
  hot.from = (*a)->at.next();
  hot.limit = range.limit - out->size();
  auto rest = inner().read_stream(stream, hot);
  if (!rest) return std::move(rest).err();
  out->insert(out->end(), std::make_move_iterator(rest->begin()),
              std::make_move_iterator(rest->end()));
  return out;
}

result<std::size_t> journal_with_archives::for_each_in_stream(
    const stream_id& stream, const stream_range& range, const persistence::event_visitor& visit) {
  // The base's visit over read_stream (above), not the hot journal's.
  return journal::for_each_in_stream(stream, range, visit);
}

result<std::vector<event_record>> journal_with_archives::read_all(global_position after,
                                                                  std::size_t limit) {
  return read_all_with_archive(inner(), archives_, after, limit);
}

result<std::optional<persistence::stream_anchor>> journal_with_archives::anchor(
    const stream_id& stream) {
  auto a = inner().anchor(stream);
  if (!a || !*a) return a;
  auto held = covers(**a);
  if (!held) return std::move(held).err();
  if (*held) return std::optional<persistence::stream_anchor>{};
  return a;
}

result<std::vector<persistence::stream_anchor>> journal_with_archives::anchors() {
  auto all = inner().anchors();
  if (!all) return all;
  std::vector<persistence::stream_anchor> out;
  for (auto& a : *all) {
    auto held = covers(a);
    if (!held) return std::move(held).err();
    if (!*held) out.push_back(std::move(a));
  }
  return out;
}

result<std::optional<persistence::archive_mark>> journal_with_archives::archived() {
  auto left = anchors();
  if (!left) return std::move(left).err();
  if (left->empty()) return std::optional<persistence::archive_mark>{};
  return inner().archived();
}

}  // namespace strata
