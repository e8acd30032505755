#include "persistence/projection_store.hpp"

#include <algorithm>
#include <cassert>
#include <exception>

namespace strata::persistence {

std::int64_t as_int(const sql_value& v, std::int64_t fallback) noexcept {
  if (const auto* i = std::get_if<std::int64_t>(&v)) return *i;
  if (const auto* d = std::get_if<double>(&v)) return static_cast<std::int64_t>(*d);
  return fallback;
}

std::string as_text(const sql_value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  return {};
}

result<poison_policy> parse_poison_policy(std::string_view text) {
  if (text == "park_and_continue") return poison_policy::park_and_continue;
  if (text == "stop") return poison_policy::stop;
  return error{
      errc::invalid_argument,
      "on_poison must be \"park_and_continue\" or \"stop\", not \"" + std::string{text} + "\""};
}

namespace {

timestamp wall_now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}

dead_letter letter_for(std::string_view name, const event_record& r, const error& e) {
  dead_letter d;
  d.projection = std::string{name};
  d.position = r.position;
  d.event_id = r.event_id;
  d.event_type = r.event_type;
  d.error = to_string(e);
  d.parked_at = wall_now();
  return d;
}

}  // namespace

result<void> projection::apply_batch(projection_transaction& tx,
                                     const std::vector<const event_record*>& records) {
  for (const auto* r : records)
    if (auto a = apply(tx, *r); !a) return a;
  return ok();
}

projection_runner::projection_runner(std::shared_ptr<projection> p,
                                     std::unique_ptr<projection_store> store, poison_policy policy)
    : projection_(std::move(p)), store_(std::move(store)), policy_(policy) {
  assert(projection_ && store_);
  handles_ = projection_->handles();
  std::sort(handles_.begin(), handles_.end());
}

bool projection_runner::is_handled(const std::string& type) const {
  return handles_.empty() || std::binary_search(handles_.begin(), handles_.end(), type);
}

result<void> projection_runner::start() {
  auto tx = store_->begin();
  if (!tx) return std::move(tx).err();
  if (auto s = projection_->setup(**tx); !s) return s;
  auto cp = (*tx)->load_checkpoint(projection_->name());
  if (!cp) return std::move(cp).err();
  if (auto c = (*tx)->commit(); !c) return c;
  checkpoint_ = *cp;
  stopped_ = false;
  if (policy_ == poison_policy::stop) {
    auto parked = store_->dead_letters(projection_->name());
    if (!parked) return std::move(parked).err();
    for (const auto& d : *parked)
      if (d.position == checkpoint_.position.next()) stopped_ = true;
  }
  return ok();
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
                                               std::size_t first, std::size_t end) {
  batch_.clear();
  for (std::size_t i = first; i < end; ++i)
    if (is_handled(records[i].event_type)) batch_.push_back(&records[i]);
  if (batch_.empty()) return ok();
  try {
    return projection_->apply_batch(tx, batch_);
  } catch (const std::exception& ex) {  // as in apply_in
    return error{errc::internal, std::string{"projection handler threw: "} + ex.what()};
  }
}

result<apply_outcome> projection_runner::apply(const std::vector<event_record>& records) {
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
  auto applied = apply_new(records, first);
  if (!applied) return applied;
  applied->skipped += out.skipped;
  return applied;
}

result<apply_outcome> projection_runner::apply_new(const std::vector<event_record>& records,
                                                   std::size_t first) {
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
    auto folded = apply_batch_in(**tx, records, first, end);
    if (folded) {
      checkpoint cp{records[end - 1].position, records[end - 1].time};
      if (auto s = (*tx)->save_checkpoint(name, cp); !s) return std::move(s).err();
      if (auto c = (*tx)->commit(); !c) return std::move(c).err();
      out.applied += end - first;
      checkpoint_ = cp;
      return out;
    }
    if (folded.err().code == errc::unavailable) return std::move(folded).err();
  }
  std::size_t from = first;
  while (from < end) {
    auto tx = store_->begin();
    if (!tx) return std::move(tx).err();
    std::size_t i = from;
    std::optional<error> failure;
    for (; i < end; ++i) {
      auto r = apply_in(**tx, records[i]);
      if (!r) {
        failure = std::move(r).err();
        break;
      }
    }
    if (!failure) {
      checkpoint cp{records[end - 1].position, records[end - 1].time};
      if (auto s = (*tx)->save_checkpoint(name, cp); !s) return std::move(s).err();
      if (auto c = (*tx)->commit(); !c) return std::move(c).err();
      out.applied += end - from;
      checkpoint_ = cp;
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
    if (auto p = (*tx)->park(letter_for(name, records[i], *failure)); !p) return std::move(p).err();
    const bool go_on = policy_ == poison_policy::park_and_continue;
    std::optional<checkpoint> cp;
    if (go_on) {
      cp = checkpoint{records[i].position, records[i].time};
    } else if (i > from) {
      cp = checkpoint{records[i - 1].position, records[i - 1].time};
    }
    if (cp) {
      if (auto s = (*tx)->save_checkpoint(name, *cp); !s) return std::move(s).err();
    }
    if (auto c = (*tx)->commit(); !c) return std::move(c).err();
    if (cp) checkpoint_ = *cp;
    out.applied += i - from + (go_on ? 1 : 0);
    out.parked += 1;
    if (!go_on) {
      stopped_ = true;
      out.stopped = true;
      out.gap = false;
      return out;
    }
    from = i + 1;
  }
  return out;
}

result<apply_outcome> projection_runner::catch_up(journal& j, std::size_t batch,
                                                  std::size_t max_events) {
  apply_outcome total;
  batch = std::max<std::size_t>(batch, 1);
  while (!stopped_ && max_events > 0) {
    const std::size_t want = std::min(batch, max_events);
    auto records = j.read_all(checkpoint_.position, want);
    if (!records) return std::move(records).err();
    if (records->empty()) break;
    auto out = apply(*records);
    if (!out) return std::move(out).err();
    if (out->gap)
      return error{errc::corrupted, "journal returned a hole after position " +
                                        std::to_string(checkpoint_.position.value)};
    total.applied += out->applied;
    total.skipped += out->skipped;
    total.parked += out->parked;
    total.stopped = out->stopped;
    max_events -= std::min(max_events, records->size());
    if (records->size() < want) break;
  }
  total.stopped = stopped_;
  return total;
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
    d.parked_at = wall_now();
    if (auto p = (*again)->park(d); !p) return p;
    if (auto c = (*again)->commit(); !c) return c;
    return r;
  }
  if (auto u = (*tx)->unpark(name, position); !u) return u;
  const bool resumes = stopped_ && position == checkpoint_.position.next();
  checkpoint cp{position, record.time};
  if (resumes) {
    if (auto s = (*tx)->save_checkpoint(name, cp); !s) return s;
  }
  if (auto c = (*tx)->commit(); !c) return c;
  if (resumes) {
    checkpoint_ = cp;
    stopped_ = false;
  }
  return ok();
}

result<void> projection_runner::reset() {
  auto tx = store_->begin();
  if (!tx) return std::move(tx).err();
  if (auto d = projection_->drop(**tx); !d) return d;
  if (auto f = (*tx)->forget(projection_->name()); !f) return f;
  if (auto s = projection_->setup(**tx); !s) return s;
  if (auto c = (*tx)->commit(); !c) return c;
  checkpoint_ = checkpoint{};
  stopped_ = false;
  return ok();
}

result<catch_up_stats> catch_up(journal& j, std::shared_ptr<projection> p,
                                std::unique_ptr<projection_store> store, std::size_t batch,
                                poison_policy policy) {
  projection_runner runner{std::move(p), std::move(store), policy};
  if (auto s = runner.start(); !s) return std::move(s).err();
  const auto started = std::chrono::steady_clock::now();
  auto out = runner.catch_up(j, batch);
  if (!out) return std::move(out).err();
  catch_up_stats stats;
  stats.duration = std::chrono::steady_clock::now() - started;
  stats.events = out->applied;
  stats.parked = out->parked;
  stats.position = runner.position().position;
  return stats;
}

namespace {

class faulty_transaction final : public projection_transaction {
 public:
  faulty_transaction(std::unique_ptr<projection_transaction> inner,
                     std::shared_ptr<projection_fault_plan> plan)
      : inner_(std::move(inner)), plan_(std::move(plan)) {}
  result<void> execute(std::string_view sql, const std::vector<sql_value>& params) override {
    return inner_->execute(sql, params);
  }
  result<std::vector<sql_row>> query(std::string_view sql,
                                     const std::vector<sql_value>& params) override {
    return inner_->query(sql, params);
  }
  result<checkpoint> load_checkpoint(std::string_view p) override {
    return inner_->load_checkpoint(p);
  }
  result<void> save_checkpoint(std::string_view p, const checkpoint& c) override {
    return inner_->save_checkpoint(p, c);
  }
  result<void> park(const dead_letter& d) override { return inner_->park(d); }
  result<void> unpark(std::string_view p, global_position pos) override {
    return inner_->unpark(p, pos);
  }
  result<void> forget(std::string_view p) override { return inner_->forget(p); }
  result<void> commit() override {
    const auto n = plan_->commits.fetch_add(1) + 1;
    if (n == plan_->fail_commit_number.load()) {
      inner_.reset();  // rolls back
      plan_->failed.fetch_add(1);
      return error{errc::unavailable, "injected failure of commit #" + std::to_string(n)};
    }
    return inner_->commit();
  }

 private:
  std::unique_ptr<projection_transaction> inner_;
  std::shared_ptr<projection_fault_plan> plan_;
};

class faulty_store final : public projection_store {
 public:
  faulty_store(std::unique_ptr<projection_store> inner, std::shared_ptr<projection_fault_plan> plan)
      : inner_(std::move(inner)), plan_(std::move(plan)) {}
  result<std::unique_ptr<projection_transaction>> begin() override {
    auto tx = inner_->begin();
    if (!tx) return std::move(tx).err();
    return std::unique_ptr<projection_transaction>{
        std::make_unique<faulty_transaction>(std::move(*tx), plan_)};
  }
  result<std::vector<sql_row>> query(std::string_view sql,
                                     const std::vector<sql_value>& params) override {
    return inner_->query(sql, params);
  }
  result<checkpoint> load_checkpoint(std::string_view p) override {
    return inner_->load_checkpoint(p);
  }
  result<std::vector<dead_letter>> dead_letters(std::string_view p) override {
    return inner_->dead_letters(p);
  }

 private:
  std::unique_ptr<projection_store> inner_;
  std::shared_ptr<projection_fault_plan> plan_;
};

}  // namespace

fault_injecting_projection_store_factory::fault_injecting_projection_store_factory(
    std::shared_ptr<projection_store_factory> inner, std::shared_ptr<projection_fault_plan> plan)
    : inner_(std::move(inner)), plan_(std::move(plan)) {}

result<std::unique_ptr<projection_store>> fault_injecting_projection_store_factory::open() {
  auto s = inner_->open();
  if (!s) return std::move(s).err();
  return std::unique_ptr<projection_store>{std::make_unique<faulty_store>(std::move(*s), plan_)};
}

}  // namespace strata::persistence
