#include "strata/persistence/projection_runner.hpp"

#include <algorithm>
#include <cassert>
#include <exception>
#include <future>
#include <optional>

#include "strata/persistence/read_ahead.hpp"

namespace strata::persistence {

projection_runner::projection_runner(std::shared_ptr<projection> p,
                                     std::unique_ptr<projection_store> store, poison_policy policy,
                                     std::shared_ptr<const clock> time_source)
    : projection_(std::move(p)),
      store_(std::move(store)),
      policy_(policy),
      clock_(std::move(time_source)) {
  assert(projection_ && store_ && clock_);
  handles_ = projection_->handles();
  std::sort(handles_.begin(), handles_.end());
}

bool projection_runner::is_handled(const std::string& type) const {
  return handles_.empty() || std::binary_search(handles_.begin(), handles_.end(), type);
}

dead_letter projection_runner::letter_for(const event_record& r, const error& e) const {
  dead_letter d;
  d.projection = std::string{projection_->name()};
  d.position = r.position;
  d.event_id = r.event_id;
  d.event_type = r.event_type;
  d.error = to_string(e);
  d.parked_at = clock_->now();
  return d;
}

result<void> projection_runner::start() {
  auto tx = store_->begin();
  if (!tx) return std::move(tx).err();
  if (auto s = projection_->setup(**tx); !s) return s;
  auto cp = (*tx)->load_checkpoint(projection_->name());
  if (!cp) return std::move(cp).err();
  if (auto c = (*tx)->commit(); !c) return c;
  checkpoint_ = *cp;
  return load_stopped();
}

result<void> projection_runner::load_stopped() {
  stopped_ = false;
  if (policy_ == poison_policy::stop) {
    auto parked = store_->dead_letters(projection_->name());
    if (!parked) return std::move(parked).err();
    for (const auto& d : *parked)
      if (d.position == checkpoint_.position.next()) stopped_ = true;
  }
  return ok();
}

result<void> projection_runner::start(journal& j, projection_start how) {
  journal_id_ = j.id();
  if (how == projection_start::rebuild) return reset_to(journal_id_);
  auto last = j.last_position();
  if (!last) return std::move(last).err();
  const std::string name{projection_->name()};
  auto tx = store_->begin();
  if (!tx) return std::move(tx).err();
  if (auto s = projection_->setup(**tx); !s) return s;
  auto cp = (*tx)->load_checkpoint(name);
  if (!cp) return std::move(cp).err();
  const char* way_out =
      "; add it with projection_start::rebuild to rebuild it from this journal (its checkpoint "
      "and dead letters are then dropped)";
  if (!cp->journal_id.empty() && !journal_id_.empty() && cp->journal_id != journal_id_)
    return error{errc::conflict, "read model '" + name + "' was built from journal " +
                                     cp->journal_id + ", not from this runtime's journal " +
                                     journal_id_ + " (its checkpoint, position " +
                                     std::to_string(cp->position.value) +
                                     ", counts the other journal's events)" + way_out};
  if (*last < cp->position)
    return error{errc::conflict,
                 "read model '" + name + "' is at position " + std::to_string(cp->position.value) +
                     ", past this journal's last position " + std::to_string(last->value) +
                     " (it holds events this journal does not have)" + way_out};
  if (cp->journal_id.empty() && !journal_id_.empty()) {
    cp->journal_id = journal_id_;
    if (auto s = (*tx)->save_checkpoint(name, *cp); !s) return s;
  }
  if (auto c = (*tx)->commit(); !c) return c;
  checkpoint_ = std::move(*cp);
  return load_stopped();
}

result<void> projection_runner::apply_in(projection_transaction& tx, const event_record& r) {
  if (!is_handled(r.event_type)) return ok();
  try {
    return projection_->apply(tx, r);
  } catch (const std::exception& ex) {  // a handler must not throw; a bug must not escape
    return error{errc::internal, std::string{"projection handler threw: "} + ex.what()};
  }
}

result<void> projection_runner::apply_batch_in(projection_transaction& tx,
                                               const std::vector<event_record>& records,
                                               std::size_t first, std::size_t end,
                                               const read_ahead* prepared) {
  batch_.clear();
  for (std::size_t i = first; i < end; ++i)
    if (is_handled(records[i].event_type)) batch_.push_back(&records[i]);
  if (batch_.empty()) return ok();
  try {
    // Decoded ahead for exactly these records (the whole batch read ahead, none skipped).
    if (prepared != nullptr && prepared->prepared && prepared->handled == batch_)
      return projection_->apply_prepared(tx, batch_, *prepared->prepared);
    return projection_->apply_batch(tx, batch_);
  } catch (const std::exception& ex) {  // as in apply_in
    return error{errc::internal, std::string{"projection handler threw: "} + ex.what()};
  }
}

error projection_runner::commit_failed(error e) {
  commit_unknown_ = true;
  return e;
}

result<void> projection_runner::save_after(projection_transaction& tx, const checkpoint& cp) {
  auto moved = tx.advance_checkpoint(projection_->name(), checkpoint_.position, cp);
  // Another runner applied these events first: nothing of this batch is committed, and the
  // next call reads where the store stands before it applies anything.
  if (!moved && moved.err().code == errc::conflict) return commit_failed(std::move(moved).err());
  return moved;
}

result<void> projection_runner::resync() {
  // A commit that failed may have happened all the same (its reply lost with the
  // connection): the store's checkpoint says which, so no batch is applied twice.
  auto cp = store_->load_checkpoint(projection_->name());
  if (!cp) return std::move(cp).err();
  advance(*cp);
  commit_unknown_ = false;
  return load_stopped();
}

result<apply_outcome> projection_runner::apply(const std::vector<event_record>& records) {
  return apply(records, nullptr);
}

result<apply_outcome> projection_runner::apply(const std::vector<event_record>& records,
                                               const read_ahead* prepared) {
  if (commit_unknown_)
    if (auto s = resync(); !s) return std::move(s).err();
  apply_outcome out;
  std::size_t first = 0;
  while (first < records.size() && !(checkpoint_.position < records[first].position)) ++first;
  out.skipped = first;
  if (first == records.size()) return out;
  if (stopped_) {
    out.stopped = true;
    return out;
  }
  if (records[first].position != checkpoint_.position.next()) {
    out.gap = true;
    return out;
  }
  auto applied = apply_new(records, first, prepared);
  if (!applied) return applied;
  applied->skipped += out.skipped;
  return applied;
}

result<apply_outcome> projection_runner::apply_new(const std::vector<event_record>& records,
                                                   std::size_t first, const read_ahead* prepared) {
  apply_outcome out;
  // The contiguous run from `first`: anything after a hole waits for a journal read.
  std::size_t end = first + 1;
  while (end < records.size() && records[end].position == records[end - 1].position.next()) ++end;
  if (end < records.size()) out.gap = true;

  const auto name = projection_->name();
  if (projection_->folds_batches()) {
    // The whole run in one call of the projection's batch fold. Any failure but the store's
    // falls through to the record-by-record path below, which finds and parks the poison.
    auto tx = store_->begin();
    if (!tx) return std::move(tx).err();
    (*tx)->defer_writes(true);
    auto folded = apply_batch_in(**tx, records, first, end, prepared);
    if (folded) folded = (*tx)->flush();
    if (folded) {
      checkpoint cp{records[end - 1].position, records[end - 1].time};
      if (auto s = save_after(**tx, cp); !s) return std::move(s).err();
      if (auto c = (*tx)->commit(); !c) return commit_failed(std::move(c).err());
      out.applied += end - first;
      advance(cp);
      return out;
    }
    if (folded.err().code == errc::unavailable) return std::move(folded).err();
  }
  std::size_t from = first;
  // Statements are queued and sent together while no event failed. A deferred statement's
  // error may come back on a later event's call (or on the flush), so after a failure the
  // records are applied again one statement at a time, which names the failing event.
  bool defer = true;
  while (from < end) {
    auto tx = store_->begin();
    if (!tx) return std::move(tx).err();
    const bool deferred = (*tx)->defer_writes(defer);
    std::size_t i = from;
    std::optional<error> failure;
    for (; i < end; ++i) {
      auto r = apply_in(**tx, records[i]);
      if (!r) {
        failure = std::move(r).err();
        break;
      }
    }
    if (!failure && deferred) {
      if (auto f = (*tx)->flush(); !f) failure = std::move(f).err();
    }
    if (failure && deferred && failure->code != errc::unavailable) {
      tx->reset();
      defer = false;
      continue;
    }
    if (!failure) {
      checkpoint cp{records[end - 1].position, records[end - 1].time};
      if (auto s = save_after(**tx, cp); !s) return std::move(s).err();
      if (auto c = (*tx)->commit(); !c) return commit_failed(std::move(c).err());
      out.applied += end - from;
      advance(cp);
      return out;
    }
    if (failure->code == errc::unavailable) return *failure;  // the store, not the event
    // Poison at `i`: roll back, redo the records before it, park it, all in one transaction.
    tx->reset();
    tx = store_->begin();
    if (!tx) return std::move(tx).err();
    for (std::size_t k = from; k < i; ++k) {
      if (auto r = apply_in(**tx, records[k]); !r)
        return error{errc::internal, "projection " + std::string{name} +
                                         " is not deterministic: a record applied once failed "
                                         "on the second try: " +
                                         to_string(r.err())};
    }
    if (auto p = (*tx)->park(letter_for(records[i], *failure)); !p) return std::move(p).err();
    const bool go_on = policy_ == poison_policy::park_and_continue;
    std::optional<checkpoint> cp;
    if (go_on) {
      cp = checkpoint{records[i].position, records[i].time};
    } else if (i > from) {
      cp = checkpoint{records[i - 1].position, records[i - 1].time};
    }
    if (cp) {
      if (auto s = save_after(**tx, *cp); !s) return std::move(s).err();
    }
    if (auto c = (*tx)->commit(); !c) return commit_failed(std::move(c).err());
    if (cp) advance(*cp);
    out.applied += i - from + (go_on ? 1 : 0);
    out.parked += 1;
    if (!go_on) {
      stopped_ = true;
      out.stopped = true;
      out.gap = false;
      return out;
    }
    from = i + 1;
    defer = true;
  }
  return out;
}

result<apply_outcome> projection_runner::catch_up(journal& j, std::size_t batch,
                                                  std::size_t max_events) {
  if (commit_unknown_)
    if (auto s = resync(); !s) return std::move(s).err();
  apply_outcome total;
  batch = std::max<std::size_t>(batch, 1);
  // A batch that came back full is followed by more: the next one is read on a second thread
  // (`ahead`, from the position the current batch ends at) while this one is applied, and a
  // projection that folds batches decodes it there too (`prepare_batch`), so a long catch-up
  // reads, decodes and writes side by side. Only one thread uses `j` at a time: the read ahead
  // starts after this thread's last use of it and is waited for before the next. A read ahead
  // that does not start at the checkpoint is dropped (a guard: every batch applied without an
  // error or a stop moves the checkpoint to its last record). Live tailing reads short batches
  // and never starts one.
  // The batch applied last is freed on the thread of the next read ahead too.
  std::unique_ptr<read_ahead> spent;
  std::future<read_ahead> ahead;
  global_position ahead_from;
  while (!stopped_ && max_events > 0) {
    const std::size_t want = std::min(batch, max_events);
    std::unique_ptr<read_ahead> read;
    if (ahead.valid()) {
      read = std::make_unique<read_ahead>(ahead.get());
      if (ahead_from != checkpoint_.position) read.reset();
    }
    if (!read)
      read = std::make_unique<read_ahead>(
          read_ahead{j.read_all(checkpoint_.position, want), {}, nullptr});
    auto& records = read->records;
    if (!records) return std::move(records).err();
    if (records->empty()) break;
    if (records->front().position != checkpoint_.position.next()) {
      // Positions missing after the checkpoint: archived events this read model never saw
      // (a rebuild or a lagging projection over a journal whose prefix was archived).
      auto mark = j.archived();
      if (!mark) return std::move(mark).err();
      if (*mark && checkpoint_.position < (*mark)->through) {
        std::string names;
        for (const auto& a : (*mark)->archives) names += (names.empty() ? "'" : ", '") + a + "'";
        return error{errc::not_found,
                     "projection " + std::string{projection_->name()} + " is at position " +
                         std::to_string(checkpoint_.position.value) +
                         " but events up to position " + std::to_string((*mark)->through.value) +
                         " were archived (to " + names +
                         "): catching up from there needs the archive"};
      }
    }
    const std::size_t left = max_events - std::min(max_events, records->size());
    if (records->size() == want && left > 0) {
      ahead_from = records->back().position;
      ahead = start_read_ahead([this, &j, from = ahead_from, n = std::min(batch, left),
                                done = std::move(spent)]() mutable {
        done.reset();
        return read_and_prepare(j, from, n);
      });
    }
    auto out = apply(*records, read.get());  // an early return waits for `ahead` as it goes
    if (!out) return std::move(out).err();
    if (out->gap)
      return error{errc::corrupted, "journal returned a hole after position " +
                                        std::to_string(checkpoint_.position.value)};
    total.applied += out->applied;
    total.skipped += out->skipped;
    total.parked += out->parked;
    total.stopped = out->stopped;
    max_events = left;
    if (records->size() < want) break;
    spent = std::move(read);
  }
  total.stopped = stopped_;
  return total;
}

projection_runner::read_ahead projection_runner::read_and_prepare(journal& j, global_position after,
                                                                  std::size_t limit) const {
  read_ahead out{j.read_all(after, limit), {}, nullptr};
  if (!out.records || !projection_->folds_batches()) return out;
  for (const auto& r : *out.records)
    if (is_handled(r.event_type)) out.handled.push_back(&r);
  if (out.handled.empty()) return out;
  try {
    out.prepared = projection_->prepare_batch(out.handled);
  } catch (const std::exception&) {  // the batch is then decoded where it is applied
    out.prepared.reset();
  }
  return out;
}

result<void> projection_runner::retry(journal& j, global_position position) {
  const auto name = projection_->name();
  auto parked = store_->dead_letters(name);
  if (!parked) return std::move(parked).err();
  auto it = std::find_if(parked->begin(), parked->end(),
                         [&](const dead_letter& d) { return d.position == position; });
  if (it == parked->end())
    return error{errc::not_found, "event @" + std::to_string(position.value) +
                                      " is not parked for projection " + std::string{name}};
  if (position.value == 0) return error{errc::invalid_argument, "position 0 holds no event"};
  auto records = j.read_all(global_position{position.value - 1}, 1);
  if (!records) return std::move(records).err();
  if (records->empty() || records->front().position != position)
    return error{errc::not_found,
                 "event @" + std::to_string(position.value) + " is not in the journal"};
  const auto& record = records->front();
  auto tx = store_->begin();
  if (!tx) return std::move(tx).err();
  auto r = apply_in(**tx, record);
  if (!r) {
    if (r.err().code == errc::unavailable) return r;
    tx->reset();
    auto again = store_->begin();
    if (!again) return std::move(again).err();
    auto d = *it;
    d.error = to_string(r.err());
    d.parked_at = clock_->now();
    if (auto p = (*again)->park(d); !p) return p;
    if (auto c = (*again)->commit(); !c) return c;
    return r;
  }
  // Another runner may have retried it since the dead letters were read: then nothing of
  // this transaction is committed, and the next batch reads where the store stands.
  if (auto u = (*tx)->unpark_once(name, position); !u) {
    if (u.err().code == errc::conflict) return commit_failed(std::move(u).err());
    return u;
  }
  const bool resumes = stopped_ && position == checkpoint_.position.next();
  checkpoint cp{position, record.time};
  if (resumes) {
    if (auto s = save_after(**tx, cp); !s) return s;
  }
  if (auto c = (*tx)->commit(); !c) return c;
  if (resumes) {
    advance(cp);
    stopped_ = false;
  }
  return ok();
}

result<void> projection_runner::reset() {
  return reset_to(journal_id_);
}

result<void> projection_runner::reset_to(const std::string& journal_id) {
  auto tx = store_->begin();
  if (!tx) return std::move(tx).err();
  if (auto d = projection_->drop(**tx); !d) return d;
  if (auto f = (*tx)->forget(projection_->name()); !f) return f;
  if (auto s = projection_->setup(**tx); !s) return s;
  checkpoint empty{global_position{}, timestamp{}, journal_id};
  if (!journal_id.empty()) {
    if (auto s = (*tx)->save_checkpoint(projection_->name(), empty); !s) return s;
  }
  if (auto c = (*tx)->commit(); !c) return c;
  checkpoint_ = std::move(empty);
  stopped_ = false;
  return ok();
}

}  // namespace strata::persistence
