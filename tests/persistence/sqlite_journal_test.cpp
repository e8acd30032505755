// SQLite-specific behaviour: the file format under tampering, damaged rows, full disks,
// read-only files, locks held by other connections, and the durability options.

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/types.h>
#include <unistd.h>

#include "strata/persistence/audit_chain.hpp"
#include "strata/persistence/detail/sqlite_error.hpp"
#include "strata/persistence/sqlite_journal.hpp"
#include "tests/persistence/support.hpp"

namespace strata::persistence::testing {
namespace {

const stream_id order_1{"Order", "1"};
const stream_id order_2{"Order", "2"};

struct sqlite_file {
  temp_dir dir;
  sqlite_journal_options options;

  sqlite_file() { options.path = (dir.path() / "journal.db").string(); }

  std::unique_ptr<sqlite_journal> open() {
    auto j = sqlite_journal::open(options);
    if (!j) FAIL("open failed: " << describe(j.err()));
    return std::move(*j);
  }

  /// A raw connection for tampering, outside the journal's control.
  SQLite::Database raw() const { return SQLite::Database{options.path, SQLite::OPEN_READWRITE}; }

  /// Order-1 v1..v4 and Order-2 v1..v2 at positions 1..6 (Order-2 at 3 and 6).
  void fill() {
    auto j = open();
    REQUIRE(append_one(*j, order_1, 0, {make_event("placed"), make_event("added")}).has_value());
    REQUIRE(append_one(*j, order_2, 0, {make_event("placed")}).has_value());
    auto out = j->append({part(order_1, 2, {make_event("confirmed"), make_event("shipped")}),
                          part(order_2, 1, {make_event("cancelled")})});
    REQUIRE(out.has_value());
  }
};

chain_violation must_violate(journal& j) {
  auto v = verify_journal(j);
  if (!v) FAIL("verify_journal failed: " << describe(v.err()));
  if (!v->has_value()) FAIL("verify_journal found no violation");
  return **v;
}

TEST_CASE("the sqlite journal uses WAL mode and records its schema version") {
  sqlite_file f;
  f.fill();
  auto raw = f.raw();
  CHECK(raw.execAndGet("PRAGMA journal_mode").getString() == "wal");
  CHECK(raw.execAndGet("PRAGMA user_version").getInt() == sqlite_journal::schema_version);
  CHECK(raw.execAndGet("SELECT COUNT(*) FROM events").getInt() == 6);
  CHECK(raw.execAndGet("SELECT head_version FROM streams WHERE name = 'Order-1'").getInt() == 4);
}

TEST_CASE("an event whose data was updated in the file is reported as altered") {
  sqlite_file f;
  f.fill();
  f.raw().exec("UPDATE events SET data = '{\"forged\":1}' WHERE global_position = 4");
  auto j = f.open();
  const auto v = must_violate(*j);
  CHECK(v.kind == "altered");
  CHECK(v.stream == order_1);
  CHECK(v.at.value == 3);
  CHECK(v.position.value == 4);
}

TEST_CASE("an event deleted from the file is reported as missing") {
  sqlite_file f;
  f.fill();
  f.raw().exec("DELETE FROM events WHERE global_position = 2");
  auto j = f.open();
  const auto v = must_violate(*j);
  CHECK(v.kind == "missing");
  CHECK(v.stream == order_1);
  CHECK(v.at.value == 2);
  CHECK(v.position.value == 4);
}

TEST_CASE("two events whose versions were swapped in the file are reported as reordered") {
  sqlite_file f;
  f.fill();
  auto raw = f.raw();
  raw.exec("UPDATE events SET version = -1 WHERE global_position = 4");
  raw.exec("UPDATE events SET version = 3 WHERE global_position = 5");
  raw.exec("UPDATE events SET version = 4 WHERE global_position = 4");
  auto j = f.open();
  const auto v = must_violate(*j);
  CHECK(v.kind == "reordered");
  CHECK(v.stream == order_1);
  CHECK(v.at.value == 3);
  CHECK(v.position.value == 5);
}

TEST_CASE("a forged event inserted into the file is reported as inserted") {
  sqlite_file f;
  f.fill();
  f.raw().exec(
      "INSERT INTO events (global_position, stream_key, version, event_id, event_type, "
      "schema_version, timestamp_us, user_id, command_id, correlation_id, causation_id, data, "
      "hash) SELECT 7, stream_key, 3, 'forged', 'refunded', 1, 0, 'mallory', '', '', '', '{}', "
      "'" +
      std::string(64, '0') + "' FROM streams WHERE name = 'Order-2'");
  auto j = f.open();
  const auto v = must_violate(*j);
  CHECK(v.kind == "inserted");
  CHECK(v.stream == order_2);
  CHECK(v.at.value == 3);
  CHECK(v.position.value == 7);

  // The unique guard keeps the stream from taking a legitimate version 3 on top of the forgery,
  // while the other stream of the batch still commits.
  auto out =
      j->append({part(order_2, 2, {make_event("late")}), part(order_1, 4, {make_event("x")})});
  REQUIRE(out.has_value());
  REQUIRE_FALSE((*out)[0].has_value());
  CHECK((*out)[0].err().code == errc::conflict);
  REQUIRE((*out)[1].has_value());
  CHECK((*out)[1]->front().position.value == 8);
  CHECK(j->head(order_2)->value == 2);
}

TEST_CASE("a stored row with a garbage timestamp reads back as corrupted naming its position") {
  sqlite_file f;
  f.fill();
  f.raw().exec("UPDATE events SET timestamp_us = 'garbage' WHERE global_position = 5");
  auto j = f.open();
  auto by_stream = j->read_stream(order_1, {});
  REQUIRE_FALSE(by_stream.has_value());
  CHECK(by_stream.err().code == errc::corrupted);
  CHECK(by_stream.err().message.find("global position 5") != std::string::npos);
  CHECK(by_stream.err().message.find("timestamp_us") != std::string::npos);
  auto all = j->read_all(global_position{}, 100);
  REQUIRE_FALSE(all.has_value());
  CHECK(all.err().code == errc::corrupted);
  CHECK(all.err().message.find("global position 5") != std::string::npos);
  auto before = j->read_all(global_position{}, 4);
  REQUIRE(before.has_value());
  CHECK(before->size() == 4);
  const auto v = must_violate(*j);
  CHECK(v.kind == "corrupted");
}

TEST_CASE("a stored row whose data is a blob reads back as corrupted naming its position") {
  sqlite_file f;
  f.fill();
  f.raw().exec("UPDATE events SET data = X'00FF' WHERE global_position = 3");
  auto j = f.open();
  auto by_stream = j->read_stream(order_2, {});
  REQUIRE_FALSE(by_stream.has_value());
  CHECK(by_stream.err().code == errc::corrupted);
  CHECK(by_stream.err().message.find("global position 3") != std::string::npos);
  CHECK(by_stream.err().message.find("data") != std::string::npos);
}

TEST_CASE("a read of the fields a fold needs leaves the audit columns out of the row read") {
  sqlite_file f;
  f.fill();
  auto j = f.open();
  stream_range fold;
  fold.fields = event_fields::fold;
  for (int round = 0; round < 2; ++round) {  // the two statements, each reused
    auto full = j->read_stream(order_1, {});
    auto folded = j->read_stream(order_1, fold);
    REQUIRE(full.has_value());
    REQUIRE(folded.has_value());
    REQUIRE(folded->size() == 4);
    REQUIRE(full->size() == 4);
    for (std::size_t i = 0; i < 4; ++i) {
      const auto& a = (*folded)[i];
      const auto& b = (*full)[i];
      CHECK(a.event_type == b.event_type);
      CHECK(a.command_id == b.command_id);
      CHECK(a.data == b.data);
      CHECK(a.time == b.time);
      CHECK(a.event_id.empty());
      CHECK(a.user_id.empty());
      CHECK(a.correlation_id.empty());
      CHECK(a.causation_id.empty());
      CHECK(a.hash.empty());
      CHECK_FALSE(b.event_id.empty());
      CHECK_FALSE(b.hash.empty());
    }
  }
  // A damaged column the fold reads is still refused by name.
  f.raw().exec("UPDATE events SET data = X'00FF' WHERE global_position = 2");
  auto damaged = j->read_stream(order_1, fold);
  REQUIRE_FALSE(damaged.has_value());
  CHECK(damaged.err().code == errc::corrupted);
  CHECK(damaged.err().message.find("global position 2") != std::string::npos);
}

TEST_CASE("a full disk makes an append unavailable without writing half of it") {
  sqlite_file f;
  f.fill();
  auto j = f.open();
  auto pages = f.raw().execAndGet("PRAGMA page_count").getInt64();
  REQUIRE(j->set_max_page_count(pages + 2).has_value());
  const std::string big = "{\"blob\":\"" + std::string(64 * 1024, 'y') + "\"}";
  auto out = j->append({part(order_2, 2, {make_event("small")}),
                        part(order_1, 4, {make_event("big", big), make_event("big", big)})});
  REQUIRE_FALSE(out.has_value());
  CHECK(out.err().code == errc::unavailable);
  CHECK(out.err().message.find("disk full") != std::string::npos);
  CHECK(j->last_position()->value == 6);
  CHECK(j->head(order_1)->value == 4);
  CHECK(j->head(order_2)->value == 2);

  REQUIRE(j->set_max_page_count(1'000'000).has_value());
  auto again = j->append({part(order_2, 2, {make_event("small")}),
                          part(order_1, 4, {make_event("big", big), make_event("big", big)})});
  REQUIRE(again.has_value());
  REQUIRE((*again)[0].has_value());
  REQUIRE((*again)[1].has_value());
  CHECK((*again)[1]->back().position.value == 9);
  auto v = verify_journal(*j);
  REQUIRE(v.has_value());
  CHECK_FALSE(v->has_value());
}

TEST_CASE("max_page_count in the options caps the file from the first append") {
  sqlite_file f;
  f.options.max_page_count = 8;
  auto j = f.open();
  const std::string big = "{\"blob\":\"" + std::string(64 * 1024, 'z') + "\"}";
  auto out = j->append({part(order_1, 0, {make_event("big", big)})});
  REQUIRE_FALSE(out.has_value());
  CHECK(out.err().code == errc::unavailable);
  CHECK(out.err().message.find("disk full") != std::string::npos);
  CHECK(j->last_position()->value == 0);
}

TEST_CASE("a journal opened read-only refuses appends with a clear error and still reads") {
  sqlite_file f;
  f.fill();
  f.options.read_only = true;
  auto j = f.open();
  auto out = j->append({part(order_1, 4, {make_event("x")})});
  REQUIRE_FALSE(out.has_value());
  CHECK(out.err().code == errc::unavailable);
  CHECK(out.err().message.find("read-only") != std::string::npos);
  CHECK(render(*j->read_stream(order_2, {})) == "placed@1 cancelled@2");
}

TEST_CASE("a journal file written before journals had ids gets one on its first writable open") {
  sqlite_file f;
  f.fill();
  f.raw().exec("DROP TABLE journal_meta");
  {
    sqlite_journal_options read_only = f.options;
    read_only.read_only = true;
    auto j = sqlite_journal::open(read_only);
    REQUIRE(j.has_value());
    CHECK((*j)->id().empty());
  }
  std::string id;
  {
    auto j = f.open();
    id = j->id();
    CHECK(id.size() == 36);
    CHECK(render(*j->read_stream(order_2, {})) == "placed@1 cancelled@2");
  }
  CHECK(f.open()->id() == id);
  CHECK(f.raw().execAndGet("SELECT value FROM journal_meta WHERE key = 'journal_id'").getString() ==
        id);
  CHECK(f.raw().execAndGet("PRAGMA user_version").getInt() == sqlite_journal::schema_version);
}

/// While it lives, the process runs with the effective user and group `id`; then root again.
/// Only root can switch; `switched` says whether it did.
struct effective_user {
  bool switched = false;
  explicit effective_user(unsigned id) {
    if (::geteuid() != 0) return;
    if (::setegid(static_cast<gid_t>(id)) != 0) return;
    if (::seteuid(static_cast<uid_t>(id)) != 0) {
      (void)::setegid(0);
      return;
    }
    switched = true;
  }
  ~effective_user() {
    if (!switched) return;
    (void)::seteuid(0);
    (void)::setegid(0);
  }
  effective_user(const effective_user&) = delete;
  effective_user& operator=(const effective_user&) = delete;
};

TEST_CASE("a write-protected database file refuses appends with a clear error") {
  sqlite_file f;
  f.fill();
  namespace fs = std::filesystem;
  fs::permissions(f.options.path,
                  fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  // Permission bits do not bind root: as root, the journal is opened by an unprivileged user
  // (nobody), for whom the directory is open and the file is not writable.
  std::unique_ptr<effective_user> unprivileged;
  if (::geteuid() == 0) {
    fs::permissions(f.dir.path(), fs::perms::all);
    unprivileged = std::make_unique<effective_user>(65534);
    if (!unprivileged->switched) {
      MESSAGE(
          "running as root and cannot switch to an unprivileged user; the file's "
          "permissions cannot stop root, so the journal is opened read-only instead");
      f.options.read_only = true;
    }
    REQUIRE((unprivileged->switched || f.options.read_only));
  }
  auto opened = sqlite_journal::open(f.options);
  REQUIRE(opened.has_value());
  auto out = (*opened)->append({part(order_1, 4, {make_event("x")})});
  REQUIRE_FALSE(out.has_value());
  CHECK(out.err().code == errc::unavailable);
  CHECK(out.err().message.find("read-only") != std::string::npos);
  CHECK((*opened)->head(order_1)->value == 4);
  opened->reset();
  unprivileged.reset();
  CHECK(f.open()->head(order_1)->value == 4);  // nothing was written
}

TEST_CASE(
    "an append waits out the busy timeout then reports unavailable until the lock is released") {
  sqlite_file f;
  f.fill();
  f.options.busy_timeout_ms = 50;
  auto j = f.open();
  auto locker = f.raw();
  locker.exec("BEGIN IMMEDIATE");
  auto blocked = j->append({part(order_1, 4, {make_event("x")})});
  REQUIRE_FALSE(blocked.has_value());
  CHECK(blocked.err().code == errc::unavailable);
  CHECK(blocked.err().message.find("locked") != std::string::npos);
  auto reads = j->read_stream(order_1, {});
  REQUIRE(reads.has_value());
  CHECK(reads->size() == 4);
  locker.exec("ROLLBACK");
  auto freed = j->append({part(order_1, 4, {make_event("x")})});
  REQUIRE(freed.has_value());
  REQUIRE(freed->front().has_value());
  CHECK(freed->front()->front().position.value == 7);
}

TEST_CASE("NORMAL durability opens, appends and reads back after reopening") {
  sqlite_file f;
  f.options.sync = sqlite_journal_options::durability::normal;
  {
    auto j = f.open();
    REQUIRE(append_one(*j, order_1, 0, {make_event("placed")}).has_value());
  }
  auto j = f.open();
  CHECK(render(*j->read_stream(order_1, {})) == "placed@1");
}

TEST_CASE("a file with a newer schema version is refused as unsupported") {
  sqlite_file f;
  f.fill();
  f.raw().exec("PRAGMA user_version = 99");
  auto j = sqlite_journal::open(f.options);
  REQUIRE_FALSE(j.has_value());
  CHECK(j.err().code == errc::unsupported);
}

TEST_CASE("a file that is not a database is reported as corrupted") {
  sqlite_file f;
  {
    std::ofstream out{f.options.path, std::ios::binary};
    out << std::string(8192, 'Q');
  }
  auto j = sqlite_journal::open(f.options);
  REQUIRE_FALSE(j.has_value());
  CHECK(j.err().code == errc::corrupted);
}

TEST_CASE("a journal in a directory that does not exist is unavailable") {
  sqlite_file f;
  f.options.path = (f.dir.path() / "missing" / "journal.db").string();
  auto j = sqlite_journal::open(f.options);
  REQUIRE_FALSE(j.has_value());
  CHECK(j.err().code == errc::unavailable);
}

TEST_CASE("a reader instance sees appends committed by a writer instance on the same file") {
  sqlite_file f;
  auto writer = f.open();
  auto reader = f.open();
  CHECK(reader->last_position()->value == 0);
  REQUIRE(append_one(*writer, order_1, 0, {make_event("placed")}).has_value());
  CHECK(reader->last_position()->value == 1);
  CHECK(render(*reader->read_stream(order_1, {})) == "placed@1");
  REQUIRE(append_one(*writer, order_1, 1, {make_event("confirmed")}).has_value());
  CHECK(render(*reader->read_stream(order_1, {})) == "placed@1 confirmed@2");
  CHECK(reader->head(order_1)->value == 2);
}

}  // namespace
}  // namespace strata::persistence::testing

TEST_CASE("every SQLite store maps one SQLite code to one error code") {
  using strata::errc;
  using strata::error;
  using strata::persistence::detail::sqlite_error;
  CHECK(sqlite_error(SQLITE_CONSTRAINT, "w", "d").code == errc::conflict);
  CHECK(sqlite_error(SQLITE_CONSTRAINT_UNIQUE, "w", "d").code == errc::conflict);
  CHECK(sqlite_error(SQLITE_BUSY, "w", "d").code == errc::unavailable);
  CHECK(sqlite_error(SQLITE_LOCKED, "w", "d").code == errc::unavailable);
  CHECK(sqlite_error(SQLITE_IOERR_WRITE, "w", "d").code == errc::unavailable);
  CHECK(sqlite_error(SQLITE_CANTOPEN, "w", "d").code == errc::unavailable);
  CHECK(sqlite_error(SQLITE_READONLY, "w", "d").code == errc::unavailable);
  CHECK(sqlite_error(SQLITE_CORRUPT, "w", "d").code == errc::corrupted);
  CHECK(sqlite_error(SQLITE_NOTADB, "w", "d").code == errc::corrupted);
  CHECK(sqlite_error(SQLITE_ERROR, "w", "d").code == errc::internal);
  CHECK(sqlite_error(SQLITE_MISMATCH, "w", "d").code == errc::internal);
  const error full = sqlite_error(SQLITE_FULL, "append to j.db", "database or disk is full");
  CHECK(full.code == errc::unavailable);
  CHECK(full.message == "disk full (append to j.db: database or disk is full)");
}
