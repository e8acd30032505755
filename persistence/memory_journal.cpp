#include "strata/persistence/memory_journal.hpp"

#include <algorithm>
#include <deque>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "strata/persistence/audit_chain.hpp"

namespace strata::persistence {

struct memory_journal::store {
  struct stream_state {
    std::vector<std::size_t> events;  // indices into `log` of versions base+1.., in order
    std::vector<std::size_t> cut;     // indices into `log` of the archived versions 1..base
    std::uint64_t base = 0;           // the anchor's version (0: nothing archived)
    std::string anchor_hash;
    std::string archive;

    std::uint64_t head() const noexcept { return base + events.size(); }
    std::unordered_map<std::string, version> commands;  // command id -> its first version
  };

  const std::string id = make_journal_id();  // never changes: read without the lock
  std::shared_mutex mutex;
  std::deque<event_record> log;  // log[i] has position i + 1; grows without moving records
  std::deque<bool> removed;      // removed[i]: log[i] was archived (cut)
  std::unordered_map<std::string, stream_state> streams;
  std::optional<archive_mark> mark;
};

memory_journal::memory_journal() : store_(std::make_shared<store>()) {}
memory_journal::memory_journal(std::shared_ptr<store> s) : store_(std::move(s)) {}
memory_journal::~memory_journal() = default;

result<std::vector<stream_outcome>> memory_journal::append(
    const std::vector<stream_append>& batch) {
  if (auto checked = check_append_batch(batch); !checked) return std::move(checked).err();
  std::vector<stream_outcome> outcomes;
  outcomes.reserve(batch.size());
  std::unique_lock lock{store_->mutex};
  auto& log = store_->log;
  for (const auto& part : batch) {
    auto& state = store_->streams[part.stream.str()];
    const version actual{state.head()};
    const std::string& command = part.events.front().command_id;
    if (!command.empty() && state.commands.count(command) != 0) {
      outcomes.emplace_back(duplicate_command(part.stream, command));
      continue;
    }
    if (actual != part.expected) {
      outcomes.emplace_back(error{errc::conflict, part.stream.str() + " expected version " +
                                                      std::to_string(part.expected.value) +
                                                      ", head is " + std::to_string(actual.value)});
      continue;
    }
    std::string previous = state.events.empty() ? state.anchor_hash : log[state.events.back()].hash;
    std::vector<event_record> written;
    written.reserve(part.events.size());
    version v = actual;
    for (const auto& e : part.events) {
      v = v.next();
      event_record r = make_record(part.stream, e, v, global_position{log.size() + 1});
      r.hash = chain_hash(previous, r);
      previous = r.hash;
      state.events.push_back(log.size());
      log.push_back(r);
      store_->removed.push_back(false);
      written.push_back(std::move(r));
    }
    if (!command.empty()) state.commands.emplace(command, actual.next());
    outcomes.emplace_back(std::move(written));
  }
  return outcomes;
}

result<std::vector<event_record>> memory_journal::read_stream(const stream_id& stream,
                                                              const stream_range& range) {
  std::vector<event_record> out;
  std::shared_lock lock{store_->mutex};
  auto it = store_->streams.find(stream.str());
  if (it == store_->streams.end()) return out;
  const auto& indices = it->second.events;
  const std::uint64_t base = it->second.base;
  const std::uint64_t first = std::max<std::uint64_t>(range.from.value, base + 1);
  for (std::uint64_t v = first; v <= it->second.head() && out.size() < range.limit; ++v) {
    if (range.to && v > range.to->value) break;
    const event_record& r = store_->log[indices[v - base - 1]];
    if (range.until && r.time > *range.until) continue;
    out.push_back(r);
  }
  return out;
}

result<std::vector<event_record>> memory_journal::find_command(const stream_id& stream,
                                                               std::string_view command_id) {
  std::vector<event_record> out;
  if (command_id.empty()) return out;
  std::shared_lock lock{store_->mutex};
  auto it = store_->streams.find(stream.str());
  if (it == store_->streams.end()) return out;
  auto found = it->second.commands.find(std::string{command_id});
  if (found == it->second.commands.end()) return out;
  const auto& state = it->second;
  for (std::uint64_t v = found->second.value; v <= state.head(); ++v) {
    const bool archived = v <= state.base;
    const event_record& r =
        store_->log[archived ? state.cut[v - 1] : state.events[v - state.base - 1]];
    if (r.command_id != command_id) break;
    out.push_back(r);
    // An archived event is answered as the other backends answer it: without its body.
    if (archived) out.back().data.clear();
  }
  return out;
}

result<std::vector<event_record>> memory_journal::read_all(global_position after,
                                                           std::size_t limit) {
  std::vector<event_record> out;
  std::shared_lock lock{store_->mutex};
  const auto& log = store_->log;
  for (std::uint64_t i = after.value; i < log.size() && out.size() < limit; ++i) {
    if (!store_->removed[i]) out.push_back(log[i]);
  }
  return out;
}

result<version> memory_journal::head(const stream_id& stream) {
  std::shared_lock lock{store_->mutex};
  auto it = store_->streams.find(stream.str());
  return it == store_->streams.end() ? version{} : version{it->second.head()};
}

result<global_position> memory_journal::last_position() {
  std::shared_lock lock{store_->mutex};
  return global_position{store_->log.size()};
}

result<std::optional<stream_anchor>> memory_journal::anchor(const stream_id& stream) {
  std::shared_lock lock{store_->mutex};
  auto it = store_->streams.find(stream.str());
  if (it == store_->streams.end() || it->second.base == 0) return std::optional<stream_anchor>{};
  return std::optional<stream_anchor>{
      stream_anchor{stream, version{it->second.base}, it->second.anchor_hash, it->second.archive}};
}

result<std::vector<stream_anchor>> memory_journal::anchors() {
  std::vector<stream_anchor> out;
  std::shared_lock lock{store_->mutex};
  for (const auto& [name, st] : store_->streams) {
    if (st.base > 0)
      out.push_back(
          stream_anchor{stream_id::parse(name), version{st.base}, st.anchor_hash, st.archive});
  }
  std::sort(out.begin(), out.end(),
            [](const stream_anchor& a, const stream_anchor& b) { return a.stream < b.stream; });
  return out;
}

result<std::optional<archive_mark>> memory_journal::archived() {
  std::shared_lock lock{store_->mutex};
  return store_->mark;
}

result<std::uint64_t> memory_journal::cut(const std::vector<stream_cut>& cuts,
                                          const std::string& archive) {
  if (auto checked = check_cut_request(cuts, archive); !checked) return std::move(checked).err();
  std::unique_lock lock{store_->mutex};
  auto& log = store_->log;
  // Every cut is checked before anything changes: all or nothing.
  for (const auto& c : cuts) {
    auto it = store_->streams.find(c.stream.str());
    if (it == store_->streams.end())
      return error{errc::conflict, "cut of " + c.stream.str() + ": no such stream"};
    const auto& st = it->second;
    if (st.base >= c.through.value) continue;
    if (c.through.value > st.head() || log[st.events[c.through.value - st.base - 1]].hash != c.hash)
      return error{errc::conflict, "cut of " + c.stream.str() + " through v" +
                                       std::to_string(c.through.value) +
                                       ": the journal has no event with the archived hash there"};
  }
  std::uint64_t removed = 0;
  global_position through = store_->mark ? store_->mark->through : global_position{};
  for (const auto& c : cuts) {
    auto& st = store_->streams[c.stream.str()];
    if (st.base >= c.through.value) continue;
    const std::size_t n = c.through.value - st.base;
    for (std::size_t k = 0; k < n; ++k) {
      store_->removed[st.events[k]] = true;
      through = std::max(through, log[st.events[k]].position);
    }
    st.cut.insert(st.cut.end(), st.events.begin(),
                  st.events.begin() + static_cast<std::ptrdiff_t>(n));
    st.events.erase(st.events.begin(), st.events.begin() + static_cast<std::ptrdiff_t>(n));
    st.base = c.through.value;
    st.anchor_hash = c.hash;
    st.archive = archive;
    removed += n;
  }
  if (!store_->mark) store_->mark.emplace();
  store_->mark->through = through;
  auto& names = store_->mark->archives;
  if (std::find(names.begin(), names.end(), archive) == names.end()) names.push_back(archive);
  return removed;
}

const std::string& memory_journal::id() const noexcept {
  return store_->id;
}

memory_journal_factory::memory_journal_factory()
    : store_(std::make_shared<memory_journal::store>()) {}

result<std::unique_ptr<journal>> memory_journal_factory::open() {
  return std::unique_ptr<journal>{std::make_unique<memory_journal>(store_)};
}

}  // namespace strata::persistence
