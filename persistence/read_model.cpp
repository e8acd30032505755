#include "strata/persistence/read_model.hpp"

#include <algorithm>
#include <exception>

namespace strata {

namespace detail {

const char* kind_of(const persistence::sql_value& v) noexcept {
  switch (v.index()) {
    case 0:
      return "NULL";
    case 1:
      return "an integer";
    case 2:
      return "a real";
    default:
      return "text";
  }
}

error bad_column(std::string_view row, std::string_view member, std::size_t column,
                 std::string_view why, const persistence::sql_value& value) {
  return error{errc::corrupted, std::string{row} + "." + std::string{member} + " (column " +
                                    std::to_string(column) + "): " + std::string{why} +
                                    " (it holds " + kind_of(value) + ")"};
}

error bad_column_count(std::string_view row, std::size_t expected, std::size_t got) {
  return error{errc::invalid_argument, "the query returns " + std::to_string(got) + " columns, " +
                                           std::string{row} + " takes " + std::to_string(expected)};
}

void assign_info(event_info& info, const persistence::event_record& r) {
  info.position = r.position;
  info.stream_version = r.stream_version;
  info.time = r.time;
  info.aggregate_type.assign(r.aggregate_type);
  info.aggregate_id.assign(r.aggregate_id);
  info.event_id.assign(r.event_id);
  info.event_type.assign(r.event_type);
  info.schema_version = r.schema_version;
  info.user_id.assign(r.user_id);
  info.command_id.assign(r.command_id);
  info.correlation_id.assign(r.correlation_id);
  info.causation_id.assign(r.causation_id);
}

/// A bound typed projection as the runner sees it.
class record_projection final : public persistence::projection {
 public:
  explicit record_projection(std::shared_ptr<strata::projection> p) : p_(std::move(p)) {}

  std::string_view name() const override { return p_->name(); }
  std::vector<std::string> handles() const override { return p_->handles_; }

  result<void> setup(persistence::projection_transaction& tx) override {
    read_model_tx typed{tx};
    return guarded([&] { return p_->setup(typed); });
  }

  result<void> drop(persistence::projection_transaction& tx) override {
    read_model_tx typed{tx};
    return guarded([&] { return p_->drop(typed); });
  }

  result<void> apply(persistence::projection_transaction& tx,
                     const persistence::event_record& record) override {
    const auto decode = p_->decoder_for(record.aggregate_type);
    if (decode == nullptr) return ok();  // a name another aggregate also uses: not ours
    assign_info(info_, record);
    read_model_tx typed{tx};
    auto dispatch = [&](std::type_index type, const void* event) -> result<void> {
      const auto* h = p_->handler_for(type);
      if (h == nullptr) return ok();
      return (*h)(typed, event, info_);
    };
    // The schema's decode catches what a handler throws (as `corrupted`).
    return decode(record.event_type, record.schema_version, record.data, event_visitor{dispatch});
  }

  result<void> apply_batch(persistence::projection_transaction& tx,
                           const std::vector<const persistence::event_record*>& records) override {
    if (!p_->fold_) return persistence::projection::apply_batch(tx, records);
    read_model_tx typed{tx};
    return guarded([&] { return p_->fold_(typed, records); });
  }

  bool folds_batches() const noexcept override { return static_cast<bool>(p_->fold_); }

  std::unique_ptr<persistence::prepared_batch> prepare_batch(
      const std::vector<const persistence::event_record*>& records) const override {
    if (!p_->prepare_) return nullptr;
    return p_->prepare_(records);
  }

  result<void> apply_prepared(persistence::projection_transaction& tx,
                              const std::vector<const persistence::event_record*>& records,
                              const persistence::prepared_batch& prepared) override {
    if (!p_->fold_prepared_) return apply_batch(tx, records);
    read_model_tx typed{tx};
    return guarded([&]() -> result<void> {
      if (auto folded = p_->fold_prepared_(typed, prepared)) return std::move(*folded);
      return p_->fold_(typed, records);  // not this fold's: decode here
    });
  }

 private:
  template <class F>
  static result<void> guarded(F&& f) {
    try {
      return f();
    } catch (const std::exception& e) {
      return error{errc::internal, std::string{"read-model handler threw: "} + e.what()};
    } catch (...) {
      return error{errc::internal, "read-model handler threw"};
    }
  }

  std::shared_ptr<strata::projection> p_;
  event_info info_;  ///< The current record's metadata; its strings' storage is reused.
};

}  // namespace detail

std::optional<event_catalog::event_entry> event_catalog::find(std::type_index type) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [t, entry] : events_)
    if (t == type) return entry;
  return std::nullopt;
}

event_catalog::decoder event_catalog::decoder_of(std::string_view aggregate_type) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& a : aggregates_)
    if (a.type == aggregate_type) return a.decode;
  return nullptr;
}

std::vector<std::string> event_catalog::upcast_names(std::string_view aggregate_type) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& a : aggregates_)
    if (a.type == aggregate_type) return a.upcast_names;
  return {};
}

bool event_catalog::declares(std::string_view aggregate_type, std::string_view wire_name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& e : events_)
    if (e.second.aggregate_type == aggregate_type && e.second.wire_name == wire_name) return true;
  for (const auto& a : aggregates_)
    if (a.type == aggregate_type)
      return std::find(a.upcast_names.begin(), a.upcast_names.end(), wire_name) !=
             a.upcast_names.end();
  return false;
}

void event_catalog::add_aggregate(std::string type, decoder decode,
                                  std::vector<std::string> upcast_names,
                                  std::vector<std::pair<std::type_index, event_entry>> events) {
  std::lock_guard<std::mutex> lock(mutex_);
  events_.erase(std::remove_if(events_.begin(), events_.end(),
                               [&](const auto& e) { return e.second.aggregate_type == type; }),
                events_.end());
  for (auto& e : events) events_.push_back(std::move(e));
  auto it = std::find_if(aggregates_.begin(), aggregates_.end(),
                         [&](const aggregate_entry& a) { return a.type == type; });
  if (it == aggregates_.end())
    aggregates_.push_back(aggregate_entry{std::move(type), decode, std::move(upcast_names)});
  else
    *it = aggregate_entry{std::move(type), decode, std::move(upcast_names)};
}

projection::projection(std::string name) : name_(std::move(name)) {}

projection::~projection() = default;

void projection::add_handler(std::type_index type, std::string type_name, handler_fn fn) {
  handlers_.push_back(handler_entry{type, std::move(type_name), std::move(fn)});
}

const projection::handler_fn* projection::handler_for(std::type_index type) const noexcept {
  for (const auto& h : handlers_)
    if (h.type == type) return &h.fn;
  return nullptr;
}

event_catalog::decoder projection::decoder_for(std::string_view aggregate_type) const noexcept {
  for (const auto& a : aggregates_)
    if (a.type == aggregate_type) return a.decode;
  return nullptr;
}

result<void> projection::bind(const event_catalog& catalog) {
  if (name_.empty()) return error{errc::invalid_argument, "a projection needs a name"};
  std::vector<std::string> handles;
  std::vector<bound_aggregate> aggregates;
  auto add_name = [&](const std::string& n) {
    if (std::find(handles.begin(), handles.end(), n) == handles.end()) handles.push_back(n);
  };
  for (std::size_t i = 0; i < handlers_.size(); ++i) {
    const auto& h = handlers_[i];
    for (std::size_t j = 0; j < i; ++j)
      if (handlers_[j].type == h.type)
        return error{errc::invalid_argument, "projection " + name_ + " handles " + h.type_name +
                                                 " twice; one on<E>(...) per event struct"};
    auto entry = catalog.find(h.type);
    if (!entry)
      return error{errc::invalid_argument,
                   "projection " + name_ + " handles " + h.type_name +
                       ", which no registered aggregate's schema declares; register_aggregate "
                       "it before add_projection"};
    add_name(entry->wire_name);
    const bool known = std::any_of(aggregates.begin(), aggregates.end(),
                                   [&](const auto& a) { return a.type == entry->aggregate_type; });
    if (known) continue;
    aggregates.push_back(
        bound_aggregate{entry->aggregate_type, catalog.decoder_of(entry->aggregate_type)});
    // A stored event under an old name may be upcast to a handled one.
    for (const auto& old : catalog.upcast_names(entry->aggregate_type)) add_name(old);
  }
  if (fold_ && catalog.decoder_of(fold_type_) == nullptr)
    return error{errc::invalid_argument, "projection " + name_ + " folds batches of " + fold_type_ +
                                             ", which is not registered; register_aggregate it "
                                             "before add_projection"};
  if (handles.empty())
    return error{errc::invalid_argument,
                 "projection " + name_ + " handles no event: add on<E>(...) in its constructor"};
  if (!handles_.empty()) {
    // A bound projection may be running, and its bindings are read without a lock: binding
    // again (a registration retried after a refusal) may only find the same.
    const bool same = handles == handles_ && aggregates.size() == aggregates_.size() &&
                      std::equal(aggregates.begin(), aggregates.end(), aggregates_.begin(),
                                 [](const auto& a, const auto& b) {
                                   return a.type == b.type && a.decode == b.decode;
                                 });
    if (same) return ok();
    return error{errc::invalid_argument, "projection " + name_ +
                                             " is bound already, to other aggregates; an "
                                             "instance is registered with one runtime"};
  }
  handles_ = std::move(handles);
  aggregates_ = std::move(aggregates);
  return ok();
}

result<std::shared_ptr<persistence::projection>> bind_projection(std::shared_ptr<projection> p,
                                                                 const event_catalog& catalog) {
  if (!p) return error{errc::invalid_argument, "projection is null"};
  if (auto b = p->bind(catalog); !b) return std::move(b).err();
  return std::shared_ptr<persistence::projection>{
      std::make_shared<detail::record_projection>(std::move(p))};
}

}  // namespace strata
