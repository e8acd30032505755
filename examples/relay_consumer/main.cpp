// A consumer of strata's RabbitMQ relay (docs/RELAY.md), written as a service of another team
// would be: it knows AMQP (rabbitmq-c) and the JSON of an event, nothing of strata's code.
//
// It declares a durable queue of its own bound to the relay's exchange (`Order.*` by default),
// keeps a small read model in SQLite (order totals), de-duplicates by message_id in the same
// transaction as the read-model write, and acks each message only after that transaction
// committed. So a message delivered twice (the relay publishes at least once) counts once.
//
//   relay_consumer [--url amqp://guest:guest@127.0.0.1:5672/] [--exchange strata.events]
//                  [--queue order-totals] [--pattern 'Order.*'] [--db order-totals.db]
//                  [--until-idle MS] [--max-messages N]
//
// Without --until-idle or --max-messages it runs until interrupted.

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <sys/time.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include <boost/json.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

struct options {
  std::string url = "amqp://guest:guest@127.0.0.1:5672/";
  std::string exchange = "strata.events";
  std::string queue = "order-totals";
  std::string pattern = "Order.*";
  std::string db = "order-totals.db";
  long until_idle_ms = -1;  ///< Exit after this long without a message (-1: never).
  long max_messages = -1;   ///< Exit after this many messages (-1: no limit).
};

volatile std::sig_atomic_t interrupted = 0;

bool parse_args(int argc, char** argv, options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return false;
    const std::string v = argv[++i];
    if (a == "--url")
      o.url = v;
    else if (a == "--exchange")
      o.exchange = v;
    else if (a == "--queue")
      o.queue = v;
    else if (a == "--pattern")
      o.pattern = v;
    else if (a == "--db")
      o.db = v;
    else if (a == "--until-idle")
      o.until_idle_ms = std::strtol(v.c_str(), nullptr, 10);
    else if (a == "--max-messages")
      o.max_messages = std::strtol(v.c_str(), nullptr, 10);
    else
      return false;
  }
  return true;
}

bool ok(amqp_rpc_reply_t r, const char* what) {
  if (r.reply_type == AMQP_RESPONSE_NORMAL) return true;
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
    std::fprintf(stderr, "relay_consumer: %s: %s\n", what, amqp_error_string2(r.library_error));
  else
    std::fprintf(stderr, "relay_consumer: %s: refused by the broker\n", what);
  return false;
}

// The read model: one row per order, its lines, and the message ids already applied.
void set_up(SQLite::Database& db) {
  db.exec(
      "CREATE TABLE IF NOT EXISTS order_totals (order_id TEXT PRIMARY KEY, customer_id TEXT, "
      "currency TEXT, status TEXT NOT NULL DEFAULT 'open');"
      "CREATE TABLE IF NOT EXISTS order_lines (order_id TEXT, sku TEXT, quantity INTEGER, "
      "unit_price_minor INTEGER, PRIMARY KEY (order_id, sku));"
      "CREATE TABLE IF NOT EXISTS processed_messages (message_id TEXT PRIMARY KEY);"
      "CREATE VIEW IF NOT EXISTS order_total_view AS SELECT t.order_id, t.customer_id, "
      "t.currency, t.status, COALESCE(SUM(l.quantity * l.unit_price_minor), 0) AS total_minor "
      "FROM order_totals t LEFT JOIN order_lines l USING (order_id) GROUP BY t.order_id;");
}

std::int64_t price_of(const boost::json::value& v) {
  // OrderPlaced/ItemAdded v2 carry money objects {minor, currency}; v1 bare minor units.
  if (v.is_object()) return v.at("minor").to_number<std::int64_t>();
  return v.to_number<std::int64_t>();
}

void add_line(SQLite::Database& db, const std::string& order, const boost::json::value& line) {
  SQLite::Statement s{db,
                      "INSERT INTO order_lines VALUES (?, ?, ?, ?) ON CONFLICT (order_id, sku) "
                      "DO UPDATE SET quantity = quantity + excluded.quantity"};
  s.bind(1, order);
  s.bind(2, std::string{line.at("sku").as_string()});
  s.bind(3, line.at("quantity").to_number<std::int64_t>());
  s.bind(4, price_of(line.at("unit_price")));
  s.exec();
}

void set_status(SQLite::Database& db, const std::string& order, const char* status) {
  SQLite::Statement s{db, "UPDATE order_totals SET status = ? WHERE order_id = ?"};
  s.bind(1, status);
  s.bind(2, order);
  s.exec();
}

// Applies one event (the record's JSON) to the read model.
void apply(SQLite::Database& db, const boost::json::object& record) {
  const std::string type{record.at("eventType").as_string()};
  const std::string order{record.at("aggregateId").as_string()};
  const auto& data = record.at("data");
  if (type == "OrderPlaced") {
    const bool v1 = record.at("schemaVersion").to_number<int>() == 1;
    SQLite::Statement s{db,
                        "INSERT OR IGNORE INTO order_totals (order_id, customer_id, currency) "
                        "VALUES (?, ?, ?)"};
    s.bind(1, order);
    s.bind(2, std::string{data.at("customer_id").as_string()});
    s.bind(3, v1 ? std::string{"USD"} : std::string{data.at("currency").as_string()});
    s.exec();
    for (const auto& line : data.at("lines").as_array()) add_line(db, order, line);
  } else if (type == "ItemAdded") {
    const bool v1 = record.at("schemaVersion").to_number<int>() == 1;
    add_line(db, order, v1 ? data : data.at("item"));
  } else if (type == "ItemRemoved") {
    SQLite::Statement s{db, "DELETE FROM order_lines WHERE order_id = ? AND sku = ?"};
    s.bind(1, order);
    s.bind(2, std::string{data.at("sku").as_string()});
    s.exec();
  } else if (type == "OrderConfirmed") {
    set_status(db, order, "confirmed");
  } else if (type == "OrderMarkedReady") {
    set_status(db, order, "ready_to_ship");
  } else if (type == "OrderCancelled") {
    set_status(db, order, "cancelled");
  } else if (type == "OrderShipped") {
    set_status(db, order, "shipped");
  }
}

// Applies the message once: false when its id was applied before. Throws on a bad body or a
// database error (the message is then not acked, and comes again).
bool apply_once(SQLite::Database& db, const std::string& message_id, const std::string& body) {
  SQLite::Transaction tx{db};
  SQLite::Statement seen{db, "INSERT OR IGNORE INTO processed_messages VALUES (?)"};
  seen.bind(1, message_id);
  if (seen.exec() == 0) return false;  // a duplicate: the transaction rolls back, nothing changes
  apply(db, boost::json::parse(body).as_object());
  tx.commit();
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  if (!parse_args(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: %s [--url URL] [--exchange NAME] [--queue NAME] [--pattern KEY] "
                 "[--db FILE] [--until-idle MS] [--max-messages N]\n",
                 argv[0]);
    return 2;
  }
  std::signal(SIGINT, [](int) { interrupted = 1; });
  std::signal(SIGTERM, [](int) { interrupted = 1; });

  std::string url = o.url;  // amqp_parse_url writes into its argument
  amqp_connection_info info;
  amqp_default_connection_info(&info);
  if (amqp_parse_url(url.data(), &info) != AMQP_STATUS_OK) {
    std::fprintf(stderr, "relay_consumer: not an AMQP URL: %s\n", o.url.c_str());
    return 2;
  }
  if (info.vhost[0] == '\0') info.vhost = const_cast<char*>("/");

  SQLite::Database db{o.db, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE};
  db.exec("PRAGMA journal_mode=WAL");
  set_up(db);

  amqp_connection_state_t conn = amqp_new_connection();
  amqp_socket_t* socket = amqp_tcp_socket_new(conn);
  if (socket == nullptr || amqp_socket_open(socket, info.host, info.port) != AMQP_STATUS_OK) {
    std::fprintf(stderr, "relay_consumer: cannot connect to %s:%d\n", info.host, info.port);
    return 1;
  }
  if (!ok(amqp_login(conn, info.vhost, 0, AMQP_DEFAULT_FRAME_SIZE, 30, AMQP_SASL_METHOD_PLAIN,
                     info.user, info.password),
          "login"))
    return 1;
  amqp_channel_open(conn, 1);
  if (!ok(amqp_get_rpc_reply(conn), "opening a channel")) return 1;
  // The same declaration as the relay's (durable topic): whichever starts first creates it.
  amqp_exchange_declare(conn, 1, amqp_cstring_bytes(o.exchange.c_str()),
                        amqp_cstring_bytes("topic"), 0, 1, 0, 0, amqp_empty_table);
  if (!ok(amqp_get_rpc_reply(conn), "declaring the exchange")) return 1;
  amqp_queue_declare(conn, 1, amqp_cstring_bytes(o.queue.c_str()), 0, 1, 0, 0, amqp_empty_table);
  if (!ok(amqp_get_rpc_reply(conn), "declaring the queue")) return 1;
  amqp_queue_bind(conn, 1, amqp_cstring_bytes(o.queue.c_str()),
                  amqp_cstring_bytes(o.exchange.c_str()), amqp_cstring_bytes(o.pattern.c_str()),
                  amqp_empty_table);
  if (!ok(amqp_get_rpc_reply(conn), "binding the queue")) return 1;
  amqp_basic_qos(conn, 1, 0, 50, 0);
  if (!ok(amqp_get_rpc_reply(conn), "setting the prefetch")) return 1;
  amqp_basic_consume(conn, 1, amqp_cstring_bytes(o.queue.c_str()), amqp_empty_bytes, 0, 0, 0,
                     amqp_empty_table);
  if (!ok(amqp_get_rpc_reply(conn), "consuming")) return 1;
  std::printf("consuming %s (bound to %s with %s) into %s\n", o.queue.c_str(), o.exchange.c_str(),
              o.pattern.c_str(), o.db.c_str());
  std::fflush(stdout);

  long applied = 0;
  long duplicates = 0;
  long received = 0;
  int status = 0;
  auto last_message = std::chrono::steady_clock::now();
  while (interrupted == 0 && (o.max_messages < 0 || received < o.max_messages)) {
    if (o.until_idle_ms >= 0 && std::chrono::steady_clock::now() - last_message >=
                                    std::chrono::milliseconds(o.until_idle_ms))
      break;
    amqp_maybe_release_buffers(conn);
    amqp_envelope_t envelope;
    timeval timeout{0, 100 * 1000};
    const auto r = amqp_consume_message(conn, &envelope, &timeout, 0);
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
      continue;
    if (!ok(r, "receiving")) {
      status = 1;
      break;
    }
    last_message = std::chrono::steady_clock::now();
    ++received;
    const auto& p = envelope.message.properties;
    const std::string id =
        (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) != 0
            ? std::string{static_cast<char*>(p.message_id.bytes), p.message_id.len}
            : std::string{};
    const std::string body{static_cast<char*>(envelope.message.body.bytes),
                           envelope.message.body.len};
    try {
      (apply_once(db, id, body) ? applied : duplicates)++;
      amqp_basic_ack(conn, 1, envelope.delivery_tag, 0);  // only after the write committed
    } catch (const std::exception& e) {
      std::fprintf(stderr, "relay_consumer: message %s not applied: %s\n", id.c_str(), e.what());
      amqp_basic_reject(conn, 1, envelope.delivery_tag, 0);  // a poison message: not requeued
    }
    amqp_destroy_envelope(&envelope);
  }
  std::printf("applied %ld, duplicates %ld\n", applied, duplicates);
  amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(conn);
  return status;
}
