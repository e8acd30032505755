#pragma once

// Typed read models: the projection base class a host derives from, typed SQL parameters and
// rows, and the catalog of event types that routes stored events to typed handlers.
//
//   class balances final : public strata::projection {
//    public:
//     balances() : projection("balances") {
//       on<opened>([](strata::read_model_tx& tx, const opened& e, const strata::event_info& i)
//                      -> strata::result<void> {
//         return tx.execute("INSERT INTO balances (id, owner) VALUES (?, ?)", i.aggregate_id,
//                           e.owner);
//       });
//     }
//     strata::result<void> setup(strata::read_model_tx& tx) override;  // CREATE ... IF NOT EXISTS
//     strata::result<void> drop(strata::read_model_tx& tx) override;   // DROP TABLE IF EXISTS
//   };
//
// The record-level contract (`persistence::projection`) stays the seam the runner drives;
// `bind_projection` turns a typed projection into one.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeindex>
#include <typeinfo>
#include <utility>
#include <variant>
#include <vector>

#include <boost/core/type_name.hpp>
#include <boost/describe/members.hpp>
#include <boost/describe/modifiers.hpp>
#include <boost/mp11/algorithm.hpp>

#include "strata/domain/kernel/ids.hpp"
#include "strata/domain/kernel/recorded.hpp"
#include "strata/domain/kernel/result.hpp"
#include "strata/domain/kernel/time.hpp"
#include "strata/persistence/event_record.hpp"
#include "strata/persistence/projection.hpp"
#include "strata/persistence/projection_store.hpp"

namespace strata {

namespace detail {

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
inline constexpr bool is_sql_scalar_v =
    std::is_integral_v<T> || std::is_same_v<T, double> || std::is_same_v<T, std::string> ||
    std::is_same_v<T, timestamp>;

/// True for the types a row member (or a one-column row) may have.
template <class T>
struct is_column_type : std::bool_constant<is_sql_scalar_v<T>> {};
template <class T>
struct is_column_type<std::optional<T>> : std::bool_constant<is_sql_scalar_v<T>> {};

/// The SQL value of one parameter.
template <class T>
persistence::sql_value to_sql(const T& v) {
  if constexpr (std::is_same_v<T, std::nullptr_t>) {
    return nullptr;
  } else if constexpr (std::is_same_v<T, bool>) {
    return std::int64_t{v ? 1 : 0};
  } else if constexpr (std::is_integral_v<T>) {
    return static_cast<std::int64_t>(v);
  } else if constexpr (std::is_floating_point_v<T>) {
    return static_cast<double>(v);
  } else if constexpr (std::is_same_v<T, const char*> || std::is_same_v<T, char*>) {
    if (v == nullptr) return nullptr;
    return std::string{v};
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    return std::string{std::string_view{v}};
  } else if constexpr (std::is_same_v<T, version> || std::is_same_v<T, global_position>) {
    return static_cast<std::int64_t>(v.value);
  } else if constexpr (std::is_same_v<T, timestamp>) {
    return to_unix_micros(v);
  } else if constexpr (is_optional<T>::value) {
    if (!v) return nullptr;
    return to_sql(*v);
  } else {
    static_assert(is_optional<T>::value,
                  "read_model_tx / read_model_reader: a parameter must be an integral type, "
                  "double, bool, std::string, std::string_view, const char*, nullptr, "
                  "strata::version, strata::global_position, strata::timestamp or a "
                  "std::optional of one of these");
    return nullptr;
  }
}

template <class... P>
std::vector<persistence::sql_value> to_sql_params(const P&... params) {
  std::vector<persistence::sql_value> out;
  out.reserve(sizeof...(P));
  (out.push_back(to_sql(params)), ...);
  return out;
}

/// Renders what a column holds, for error messages.
const char* kind_of(const persistence::sql_value& v) noexcept;

/// The `corrupted` error of a column whose value does not fit its member.
error bad_column(std::string_view row, std::string_view member, std::size_t column,
                 std::string_view why, const persistence::sql_value& value);

/// The `invalid_argument` error of a row with the wrong number of columns.
error bad_column_count(std::string_view row, std::size_t expected, std::size_t got);

/// Reads column `v` into `out`, or says why it does not fit (an empty `why` when it does).
template <class T>
const char* read_column(const persistence::sql_value& v, T& out) {
  if constexpr (is_optional<T>::value) {
    if (std::holds_alternative<std::nullptr_t>(v)) {
      out.reset();
      return nullptr;
    }
    typename T::value_type inner{};
    if (const char* why = read_column(v, inner)) return why;
    out = std::move(inner);
    return nullptr;
  } else {
    if (std::holds_alternative<std::nullptr_t>(v)) return "NULL for a member that is not optional";
    if constexpr (std::is_same_v<T, std::string>) {
      const auto* s = std::get_if<std::string>(&v);
      if (s == nullptr) return "not text";
      out = *s;
    } else if constexpr (std::is_same_v<T, double>) {
      if (const auto* d = std::get_if<double>(&v))
        out = *d;
      else if (const auto* i = std::get_if<std::int64_t>(&v))
        out = static_cast<double>(*i);
      else
        return "not a number";
    } else if constexpr (std::is_same_v<T, timestamp>) {
      const auto* i = std::get_if<std::int64_t>(&v);
      if (i == nullptr) return "not an integer (unix microseconds)";
      out = from_unix_micros(*i);
    } else if constexpr (std::is_same_v<T, bool>) {
      const auto* i = std::get_if<std::int64_t>(&v);
      if (i == nullptr || (*i != 0 && *i != 1)) return "not a boolean (0 or 1)";
      out = *i == 1;
    } else {
      static_assert(std::is_integral_v<T>);
      const auto* i = std::get_if<std::int64_t>(&v);
      if (i == nullptr) return "not an integer";
      if constexpr (std::is_signed_v<T>) {
        if (*i < std::numeric_limits<T>::min() || *i > std::numeric_limits<T>::max())
          return "out of the member's range";
      } else {
        if (*i < 0 || static_cast<std::uint64_t>(*i) > std::numeric_limits<T>::max())
          return "out of the member's range";
      }
      out = static_cast<T>(*i);
    }
    return nullptr;
  }
}

template <class Row>
inline constexpr bool is_described_row_v =
    boost::describe::has_describe_members<Row>::value&& std::is_class_v<Row>;

/// Checks `Row` at compile time: a described struct (its members are checked where they are
/// read), or one column type.
template <class Row>
constexpr bool check_row() {
  if constexpr (is_described_row_v<Row>) {
    static_assert(std::is_default_constructible_v<Row>,
                  "a read-model row must be default-constructible");
    return true;
  } else {
    static_assert(is_column_type<Row>::value,
                  "a read-model row must be a struct described with BOOST_DESCRIBE_STRUCT, or one "
                  "column type (an integral type, bool, double, std::string, strata::timestamp "
                  "or a std::optional of one of these)");
    return is_column_type<Row>::value;
  }
}

template <class D>
struct member_type;
template <class Row, class T>
struct member_type<T Row::*> {
  using type = T;
};

/// One row as `Row`. Errors: `invalid_argument` when the column count does not match,
/// `corrupted` when a value does not fit its member.
template <class Row>
result<Row> read_row(const persistence::sql_row& r) {
  Row row{};
  if constexpr (is_described_row_v<Row>) {
    using members = boost::describe::describe_members<Row, boost::describe::mod_public>;
    constexpr std::size_t count = boost::mp11::mp_size<members>::value;
    if (r.size() != count) return bad_column_count(boost::core::type_name<Row>(), count, r.size());
    std::size_t column = 0;
    const char* why = nullptr;
    const char* member = nullptr;
    boost::mp11::mp_for_each<members>([&](auto d) {
      if (why != nullptr) return;
      using T = typename member_type<std::remove_cv_t<decltype(d.pointer)>>::type;
      static_assert(is_column_type<T>::value,
                    "a member of a read-model row must be an integral type, bool, double, "
                    "std::string, strata::timestamp or a std::optional of one of these");
      why = read_column<T>(r[column], row.*d.pointer);
      if (why != nullptr)
        member = d.name;
      else
        ++column;
    });
    if (why != nullptr)
      return bad_column(boost::core::type_name<Row>(), member, column, why, r[column]);
  } else {
    if (r.size() != 1) return bad_column_count(boost::core::type_name<Row>(), 1, r.size());
    if (const char* why = read_column<Row>(r[0], row))
      return bad_column(boost::core::type_name<Row>(), "value", 0, why, r[0]);
  }
  return row;
}

template <class Row>
result<std::vector<Row>> read_rows(result<std::vector<persistence::sql_row>> rows) {
  if (!rows) return std::move(rows).err();
  std::vector<Row> out;
  out.reserve(rows->size());
  for (const auto& r : *rows) {
    auto row = read_row<Row>(r);
    if (!row) return std::move(row).err();
    out.push_back(std::move(*row));
  }
  return out;
}

template <class Row>
result<std::optional<Row>> read_first(result<std::vector<persistence::sql_row>> rows) {
  if (!rows) return std::move(rows).err();
  if (rows->empty()) return std::optional<Row>{};
  auto row = read_row<Row>(rows->front());
  if (!row) return std::move(row).err();
  return std::optional<Row>{std::move(*row)};
}

}  // namespace detail

/// The read-model database as a projection's handlers write it: typed parameters and rows
/// over one open transaction (`persistence::projection_transaction`). Everything done through
/// it commits with the projection's checkpoint, or not at all.
///
/// SQL uses `?` (or `?N`) placeholders bound in order from `params`: integral types, bool (0
/// or 1), double, std::string / std::string_view / const char*, nullptr, std::optional<T>
/// (NULL when empty), strata::version and strata::global_position (their value),
/// strata::timestamp (unix microseconds). Statements are cached by their text: use constant
/// SQL strings.
///
/// A `Row` is either a struct described with `BOOST_DESCRIBE_STRUCT`, whose public members in
/// declaration order receive the selected columns (member types: integral, bool, double,
/// std::string, strata::timestamp, or a std::optional of these for a nullable column), or one
/// of those types for a one-column result (`query_one<std::int64_t>("SELECT COUNT(*) ...")`).
///
/// Errors: the store's (`unavailable` when it is locked, full or unreachable, `conflict` for a
/// broken constraint, `internal` for SQL that does not compile); `invalid_argument` when a row
/// has more or fewer columns than `Row` has members; `corrupted` when a column holds NULL for a
/// member that is not optional or a value of another kind (text for an integer, a REAL for an
/// integer, an integer out of the member's range). Both messages name the row type, the member
/// and the column index. No method throws.
///
/// Thread-safety: the thread of the transaction it wraps. Lives no longer than that.
class read_model_tx {
 public:
  explicit read_model_tx(persistence::projection_transaction& tx) noexcept : tx_(&tx) {}

  /// Runs a statement that returns no rows.
  template <class... P>
  result<void> execute(std::string_view sql, const P&... params) {
    return tx_->execute(sql, detail::to_sql_params(params...));
  }

  /// Runs a query and returns every row as a `Row`.
  template <class Row, class... P>
  result<std::vector<Row>> query(std::string_view sql, const P&... params) {
    static_assert(detail::check_row<Row>());
    return detail::read_rows<Row>(tx_->query(sql, detail::to_sql_params(params...)));
  }

  /// Runs a query and returns its first row as a `Row`, or nullopt when it returns none.
  template <class Row, class... P>
  result<std::optional<Row>> query_one(std::string_view sql, const P&... params) {
    static_assert(detail::check_row<Row>());
    return detail::read_first<Row>(tx_->query(sql, detail::to_sql_params(params...)));
  }

  /// The record-level transaction (checkpoints, dead letters, untyped SQL).
  persistence::projection_transaction& transaction() noexcept { return *tx_; }

 private:
  persistence::projection_transaction* tx_;
};

/// A read-only connection on the read-model database, for a host's queries, with the typed
/// `query<Row>` and `query_one<Row>` of `read_model_tx` (same parameters, rows and errors).
/// Each query reads the committed state (no transaction spans two calls).
///
/// Thread-safety: one thread at a time. Movable, not copyable.
class read_model_reader {
 public:
  /// REQUIRES: `store` non-null.
  explicit read_model_reader(std::unique_ptr<persistence::projection_store> store) noexcept
      : store_(std::move(store)) {}

  /// Runs a query and returns every row as a `Row`.
  template <class Row, class... P>
  result<std::vector<Row>> query(std::string_view sql, const P&... params) {
    static_assert(detail::check_row<Row>());
    return detail::read_rows<Row>(store_->query(sql, detail::to_sql_params(params...)));
  }

  /// Runs a query and returns its first row as a `Row`, or nullopt when it returns none.
  template <class Row, class... P>
  result<std::optional<Row>> query_one(std::string_view sql, const P&... params) {
    static_assert(detail::check_row<Row>());
    return detail::read_first<Row>(store_->query(sql, detail::to_sql_params(params...)));
  }

  /// The record-level connection: checkpoints, dead letters, untyped rows.
  persistence::projection_store& connection() noexcept { return *store_; }

 private:
  std::unique_ptr<persistence::projection_store> store_;
};

/// What a decoder hands on for each current event: its type and a pointer to it, valid
/// during the call. A non-owning callable, cheap to pass by value.
class event_visitor {
 public:
  /// REQUIRES: `f` outlives the visitor; `f(std::type_index, const void*)` returns
  /// `result<void>`.
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, event_visitor>>>
  event_visitor(F& f) noexcept  // NOLINT(google-explicit-constructor): a function reference
      : context_(&f), call_([](void* c, std::type_index t, const void* e) -> result<void> {
          return (*static_cast<F*>(c))(t, e);
        }) {}

  result<void> operator()(std::type_index type, const void* event) const {
    return call_(context_, type, event);
  }

 private:
  void* context_;
  result<void> (*call_)(void*, std::type_index, const void*);
};

namespace detail {

/// Decodes one stored event of aggregate `A` (upcasting it) and visits each current event
/// with the type of its alternative. Stops handing on events after the first error.
template <class A>
result<void> decode_erased(std::string_view event_type, std::uint32_t schema_version,
                           std::string_view data, event_visitor out) {
  result<void> status = ok();
  auto decoded = A::events().decode(event_type, schema_version, data, [&](typename A::event&& e) {
    if (!status) return;
    status = std::visit(
        [&](const auto& alternative) -> result<void> {
          return out(std::type_index{typeid(alternative)}, &alternative);
        },
        e);
  });
  if (!decoded) return decoded;
  return status;
}

/// Copies the metadata of `r` into `info`, reusing its strings' storage.
void assign_info(event_info& info, const persistence::event_record& r);

class record_projection;

}  // namespace detail

/// What the registered aggregates' schemas know about their events: for each event struct,
/// its aggregate type and wire name, and for each aggregate type a decoder from a stored event
/// to its current events. `runtime::register_aggregate<A>` adds `A`; a tool that drives
/// projections without a runtime builds one of its own.
///
/// Thread-safety: every method may be called from any thread, concurrently. Not copyable.
class event_catalog {
 public:
  /// Decodes stored `(event_type, schema_version, data)`, upcasting it, and visits each
  /// current event. Errors: the schema's (`corrupted`, `unsupported`), or the visitor's.
  using decoder = result<void> (*)(std::string_view event_type, std::uint32_t schema_version,
                                   std::string_view data, event_visitor out);

  /// Where an event struct belongs.
  struct event_entry {
    std::string aggregate_type;
    std::string wire_name;
  };

  event_catalog() = default;
  event_catalog(const event_catalog&) = delete;
  event_catalog& operator=(const event_catalog&) = delete;

  /// Records every alternative of `A::event` and `A`'s decoder. Adding an aggregate type
  /// again replaces its entries. REQUIRES: `A::events()` is valid (`validate()` succeeds).
  template <class A>
  void add() {
    std::vector<std::pair<std::type_index, event_entry>> events;
    add_alternatives<A>(events, static_cast<const typename A::event*>(nullptr));
    add_aggregate(std::string{A::type}, &detail::decode_erased<A>, A::events().upcast_names(),
                  std::move(events));
  }

  /// The aggregate type and wire name of event struct `type`, or nullopt when no added
  /// aggregate declares it.
  std::optional<event_entry> find(std::type_index type) const;
  template <class E>
  std::optional<event_entry> find() const {
    return find(std::type_index{typeid(E)});
  }

  /// The decoder of `aggregate_type`, or nullptr when it was not added.
  decoder decoder_of(std::string_view aggregate_type) const;

  /// Every wire name an upcaster of `aggregate_type`'s schema reads (old names included).
  std::vector<std::string> upcast_names(std::string_view aggregate_type) const;

  /// Whether `aggregate_type`'s schema has an event named `wire_name`, current or read by an
  /// upcaster (false for an aggregate type that was not added).
  bool declares(std::string_view aggregate_type, std::string_view wire_name) const;

 private:
  struct aggregate_entry {
    std::string type;
    decoder decode = nullptr;
    std::vector<std::string> upcast_names;
  };

  template <class A, class... Es>
  static void add_alternatives(std::vector<std::pair<std::type_index, event_entry>>& out,
                               const std::variant<Es...>*) {
    (out.emplace_back(
         std::type_index{typeid(Es)},
         event_entry{std::string{A::type}, std::string{A::events().template name_of<Es>()}}),
     ...);
  }

  void add_aggregate(std::string type, decoder decode, std::vector<std::string> upcast_names,
                     std::vector<std::pair<std::type_index, event_entry>> events);

  mutable std::mutex mutex_;
  std::vector<aggregate_entry> aggregates_;
  std::vector<std::pair<std::type_index, event_entry>> events_;
};

/// The base class of a host's read model: typed handlers per event struct, typed SQL, and
/// the tables it owns. Wire names come from the registered aggregates' schemas (through an
/// `event_catalog`), so a projection never spells one; stored events reach a handler decoded
/// and upcast to their current shape, with their audit metadata in `event_info`. Events of
/// types without a handler only advance the checkpoint.
///
/// Handlers must be deterministic in the event and its info (no clock, no I/O besides `tx`),
/// because after a failed commit the same events are applied again; and must not throw. A
/// handler's error parks the event as a dead letter, unless its code is `unavailable` (the
/// store failed: the transaction is retried later).
///
/// Thread-safety: handlers are registered in the constructor; the runner then calls one
/// projection from one thread at a time. An instance is registered with one runtime at most.
class projection {
 public:
  virtual ~projection();
  projection(const projection&) = delete;
  projection& operator=(const projection&) = delete;

  /// The stable name the checkpoint and dead letters are stored under.
  std::string_view name() const noexcept { return name_; }

  /// Creates the read model's tables and indexes when missing (idempotent).
  virtual result<void> setup(read_model_tx& tx) = 0;

  /// Drops the read model's tables, for a rebuild (`setup` runs again right after).
  virtual result<void> drop(read_model_tx& tx) = 0;

  /// Resolves every handled event struct to its aggregate and wire name. Errors:
  /// `invalid_argument` for an empty name, a struct no aggregate of `catalog` declares
  /// (naming it: register that aggregate first), a struct handled twice, a batch fold over
  /// an aggregate `catalog` does not know, no handler at all, or a projection bound already
  /// to other aggregates (binding again to the same ones succeeds and changes nothing, so a
  /// refused registration can be retried). `runtime::add_projection` calls it.
  result<void> bind(const event_catalog& catalog);

  /// The wire names a bound projection applies: the current names of the handled structs and
  /// the old names their aggregates' upcasters read. Empty before `bind`.
  const std::vector<std::string>& handled_types() const noexcept { return handles_; }

 protected:
  /// REQUIRES: `name` non-empty.
  explicit projection(std::string name);

  /// Handles event struct `E` with `handler`: a callable taking `(read_model_tx&, const E&,
  /// const event_info&)` or `(read_model_tx&, const E&)`, or a pointer to a member function
  /// of the derived class with either signature, returning `result<void>`. Call it from the
  /// constructor, once per struct.
  template <class E, class F>
  void on(F handler) {
    static_assert(!std::is_reference_v<E> && !std::is_const_v<E>,
                  "projection::on<E>: E is the event struct itself (on<opened>, not "
                  "on<const opened&>)");
    if constexpr (std::is_member_function_pointer_v<F>) {
      using C = typename member_class<F>::type;
      static_assert(std::is_base_of_v<projection, C>,
                    "projection::on<E>(&C::f): C must be the projection's own class");
      C* self = static_cast<C*>(this);
      on<E>([self, handler](read_model_tx& tx, const E& e, const event_info& info) {
        if constexpr (std::is_invocable_v<F, C*, read_model_tx&, const E&, const event_info&>)
          return (self->*handler)(tx, e, info);
        else
          return (self->*handler)(tx, e);
      });
    } else if constexpr (std::is_invocable_r_v<result<void>, F&, read_model_tx&, const E&,
                                               const event_info&>) {
      add_handler(std::type_index{typeid(E)}, boost::core::type_name<E>(),
                  [h = std::move(handler)](read_model_tx& tx, const void* e,
                                           const event_info& info) mutable -> result<void> {
                    return h(tx, *static_cast<const E*>(e), info);
                  });
    } else if constexpr (std::is_invocable_r_v<result<void>, F&, read_model_tx&, const E&>) {
      add_handler(std::type_index{typeid(E)}, boost::core::type_name<E>(),
                  [h = std::move(handler)](read_model_tx& tx, const void* e,
                                           const event_info&) mutable -> result<void> {
                    return h(tx, *static_cast<const E*>(e));
                  });
    } else {
      static_assert(std::is_invocable_r_v<result<void>, F&, read_model_tx&, const E&>,
                    "projection::on<E>(handler): the handler must be callable as "
                    "`strata::result<void>(strata::read_model_tx&, const E&, const "
                    "strata::event_info&)` or `strata::result<void>(strata::read_model_tx&, "
                    "const E&)`");
    }
  }

  /// Folds whole batches of aggregate `A`'s events instead of calling the handlers one event
  /// at a time: `fold(read_model_tx&, const std::vector<strata::recorded<A>>&)` gets every
  /// current event (after upcasting) of the batch's handled records, in global order, and
  /// must leave the read model exactly as the handlers would. Any error but `unavailable`
  /// (including a batch that holds events of another aggregate) makes the runner roll back
  /// and apply the batch event by event through the handlers, which finds and parks a poison
  /// one. Optional; call it from the constructor, at most once.
  template <class A, class F>
  void fold_batches(F fold) {
    static_assert(
        std::is_invocable_r_v<result<void>, F&, read_model_tx&, const std::vector<recorded<A>>&>,
        "projection::fold_batches<A>(fold): the fold must be callable as "
        "`strata::result<void>(strata::read_model_tx&, const std::vector<strata::recorded<A>>&)`");
    fold_type_ = std::string{A::type};
    auto shared = std::make_shared<F>(std::move(fold));
    fold_ =
        [shared, scratch = std::vector<recorded<A>>{}](
            read_model_tx& tx,
            const std::vector<const persistence::event_record*>& records) mutable -> result<void> {
      // The events are written over the previous batch's, so that their strings' storage is
      // reused from one batch to the next.
      if (auto decoded = decode_batch<A>(records, scratch); !decoded) return decoded;
      return (*shared)(tx, scratch);
    };
    // The same decoding ahead, on the runner's read-ahead thread: it touches nothing but the
    // records and a fresh vector.
    prepare_ = [](const std::vector<const persistence::event_record*>& records)
        -> std::unique_ptr<persistence::prepared_batch> {
      auto out = std::make_unique<prepared_events<A>>();
      if (!decode_batch<A>(records, out->events)) return nullptr;
      return out;
    };
    fold_prepared_ =
        [shared](read_model_tx& tx,
                 const persistence::prepared_batch& prepared) -> std::optional<result<void>> {
      const auto* mine = dynamic_cast<const prepared_events<A>*>(&prepared);
      if (mine == nullptr) return std::nullopt;
      return (*shared)(tx, mine->events);
    };
  }

 private:
  template <class F>
  struct member_class;
  template <class R, class C, class... Args>
  struct member_class<R (C::*)(Args...)> {
    using type = C;
  };
  template <class R, class C, class... Args>
  struct member_class<R (C::*)(Args...) const> {
    using type = C;
  };

  using handler_fn = std::function<result<void>(read_model_tx&, const void*, const event_info&)>;
  using batch_fold = std::function<result<void>(
      read_model_tx&, const std::vector<const persistence::event_record*>&)>;
  using batch_prepare = std::function<std::unique_ptr<persistence::prepared_batch>(
      const std::vector<const persistence::event_record*>&)>;
  /// nullopt when the prepared batch is not this fold's.
  using prepared_fold = std::function<std::optional<result<void>>(
      read_model_tx&, const persistence::prepared_batch&)>;

  template <class A>
  struct prepared_events final : persistence::prepared_batch {
    std::vector<recorded<A>> events;
  };

  /// Decodes `records` (all of aggregate `A`) into `out`, reusing its elements: every current
  /// event after upcasting, in order, each with its record's metadata. Errors: `invalid_argument`
  /// for a record of another aggregate; the decoder's.
  template <class A>
  static result<void> decode_batch(const std::vector<const persistence::event_record*>& records,
                                   std::vector<recorded<A>>& out) {
    std::size_t used = 0;
    for (const auto* r : records) {
      if (r->aggregate_type != A::type)
        return error{errc::invalid_argument,
                     "batch holds an event of " + r->aggregate_type + ", not folded"};
      const std::size_t first = used;
      auto decoded =
          A::events().decode(r->event_type, r->schema_version, r->data, [&](typename A::event&& e) {
            if (used == out.size()) out.emplace_back();
            out[used].event = std::move(e);
            if (used == first)
              detail::assign_info(out[used].info, *r);
            else
              out[used].info = out[first].info;
            ++used;
          });
      if (!decoded) return decoded;
    }
    out.resize(used);
    return ok();
  }

  struct handler_entry {
    std::type_index type;
    std::string type_name;  ///< The struct's C++ name, for messages.
    handler_fn fn;
  };
  struct bound_aggregate {
    std::string type;
    event_catalog::decoder decode = nullptr;
  };

  void add_handler(std::type_index type, std::string type_name, handler_fn fn);
  const handler_fn* handler_for(std::type_index type) const noexcept;
  event_catalog::decoder decoder_for(std::string_view aggregate_type) const noexcept;

  friend class detail::record_projection;
  friend result<std::shared_ptr<persistence::projection>> bind_projection(
      std::shared_ptr<projection> p, const event_catalog& catalog);

  std::string name_;
  std::vector<handler_entry> handlers_;
  std::string fold_type_;
  batch_fold fold_;
  batch_prepare prepare_;
  prepared_fold fold_prepared_;
  // Set by `bind`.
  std::vector<std::string> handles_;
  std::vector<bound_aggregate> aggregates_;
};

/// Binds `p` against `catalog` (`projection::bind`) and returns the record-level projection
/// a `persistence::projection_runner` drives: its `handles()` are the bound wire names, its
/// `apply` decodes a record through the catalog's decoder and calls the handler of each
/// current event with the record's `event_info`; `folds_batches()` is true when `p` folds.
/// Errors: `invalid_argument` for a null `p`, or `bind`'s.
result<std::shared_ptr<persistence::projection>> bind_projection(std::shared_ptr<projection> p,
                                                                 const event_catalog& catalog);

}  // namespace strata
