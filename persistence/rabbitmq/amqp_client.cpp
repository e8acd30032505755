#include "strata/persistence/rabbitmq/amqp_client.hpp"

#include <sys/time.h>

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include <chrono>

namespace strata::persistence {
namespace {

constexpr amqp_channel_t channel = 1;

amqp_bytes_t bytes_of(const std::string& s) {
  amqp_bytes_t b;
  b.len = s.size();
  b.bytes = const_cast<char*>(s.data());  // rabbitmq-c only reads through it
  return b;
}

std::string string_of(amqp_bytes_t b) {
  return b.len == 0 ? std::string{} : std::string{static_cast<const char*>(b.bytes), b.len};
}

timeval timeval_of(std::chrono::milliseconds ms) {
  if (ms.count() < 0) ms = std::chrono::milliseconds{0};
  timeval tv;
  tv.tv_sec = static_cast<decltype(tv.tv_sec)>(ms.count() / 1000);
  tv.tv_usec = static_cast<decltype(tv.tv_usec)>((ms.count() % 1000) * 1000);
  return tv;
}

// "what failed: why" for an RPC reply that is not normal.
std::string reply_text(const amqp_rpc_reply_t& r) {
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return "ok";
    case AMQP_RESPONSE_NONE:
      return "no reply (missing RPC reply type)";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return amqp_error_string2(r.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const auto* m = static_cast<amqp_connection_close_t*>(r.reply.decoded);
        return "the broker closed the connection: " + std::to_string(m->reply_code) + " " +
               string_of(m->reply_text);
      }
      if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const auto* m = static_cast<amqp_channel_close_t*>(r.reply.decoded);
        return "the broker closed the channel: " + std::to_string(m->reply_code) + " " +
               string_of(m->reply_text);
      }
      return "the broker answered with method " + std::to_string(r.reply.id);
  }
  return "unknown reply";
}

}  // namespace

const amqp_header_value* amqp_message::header(std::string_view name) const noexcept {
  for (const auto& [key, value] : headers)
    if (key == name) return &value;
  return nullptr;
}

struct amqp_connection::impl {
  amqp_connection_state_t conn = nullptr;
  bool open = false;
  std::uint64_t published = 0;  ///< Delivery tags handed out in confirm mode.
  std::uint64_t confirmed = 0;  ///< Every tag up to it is acked.
  bool confirms = false;

  ~impl() { shut(); }

  void shut() noexcept {
    if (conn == nullptr) return;
    if (open) {
      amqp_channel_close(conn, channel, AMQP_REPLY_SUCCESS);
      amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    }
    amqp_destroy_connection(conn);
    conn = nullptr;
    open = false;
  }

  error broken(const std::string& what) {
    open = false;  // nothing more is said on a broken connection
    return error{errc::unavailable, what};
  }

  result<void> check(const char* what) {
    auto r = amqp_get_rpc_reply(conn);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) return ok();
    return broken(std::string{what} + ": " + reply_text(r));
  }

  // One method frame within `timeout`, handled for confirms; nothing on a timeout.
  result<bool> read_frame(std::chrono::milliseconds timeout) {
    amqp_frame_t frame;
    timeval tv = timeval_of(timeout);
    const int status = amqp_simple_wait_frame_noblock(conn, &frame, &tv);
    if (status == AMQP_STATUS_TIMEOUT) return false;
    if (status != AMQP_STATUS_OK)
      return broken(std::string{"AMQP connection failed: "} + amqp_error_string2(status));
    if (frame.frame_type != AMQP_FRAME_METHOD) return true;
    switch (frame.payload.method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        const auto* m = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
        if (m->multiple != 0 || m->delivery_tag == confirmed + 1) {
          if (m->delivery_tag > confirmed) confirmed = m->delivery_tag;
        } else if (m->delivery_tag > confirmed) {
          // A single ack past a gap: the gap's acks come later, in order per channel.
          pending_single.push_back(m->delivery_tag);
        }
        settle_singles();
        return true;
      }
      case AMQP_BASIC_NACK_METHOD: {
        const auto* m = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
        return broken("the broker refused (nacked) message " + std::to_string(m->delivery_tag));
      }
      case AMQP_BASIC_RETURN_METHOD:
        return true;
      case AMQP_CHANNEL_CLOSE_METHOD: {
        const auto* m = static_cast<amqp_channel_close_t*>(frame.payload.method.decoded);
        amqp_channel_close_ok_t close_ok;
        amqp_send_method(conn, channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok);
        amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
        return broken("the broker closed the channel: " + std::to_string(m->reply_code) + " " +
                      string_of(m->reply_text));
      }
      case AMQP_CONNECTION_CLOSE_METHOD: {
        const auto* m = static_cast<amqp_connection_close_t*>(frame.payload.method.decoded);
        amqp_connection_close_ok_t close_ok;
        amqp_send_method(conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &close_ok);
        return broken("the broker closed the connection: " + std::to_string(m->reply_code) + " " +
                      string_of(m->reply_text));
      }
      default:
        return true;
    }
  }

  void settle_singles() {
    bool moved = true;
    while (moved) {
      moved = false;
      for (auto it = pending_single.begin(); it != pending_single.end();) {
        if (*it <= confirmed) {
          it = pending_single.erase(it);
        } else if (*it == confirmed + 1) {
          confirmed = *it;
          it = pending_single.erase(it);
          moved = true;
        } else {
          ++it;
        }
      }
    }
  }

  std::vector<std::uint64_t> pending_single;
};

amqp_connection::amqp_connection(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

amqp_connection::~amqp_connection() = default;

result<std::unique_ptr<amqp_connection>> amqp_connection::open(const amqp_options& o) {
  auto p = std::make_unique<impl>();
  p->conn = amqp_new_connection();
  if (p->conn == nullptr) return error{errc::unavailable, "cannot create an AMQP connection"};
  amqp_socket_t* socket = amqp_tcp_socket_new(p->conn);
  if (socket == nullptr) return error{errc::unavailable, "cannot create a TCP socket for AMQP"};
  const std::string where = o.address.host + ":" + std::to_string(o.address.port);
  timeval tv = timeval_of(o.connect_timeout);
  if (int s = amqp_socket_open_noblock(socket, o.address.host.c_str(), o.address.port, &tv);
      s != AMQP_STATUS_OK)
    return error{errc::unavailable,
                 "cannot connect to the AMQP broker at " + where + ": " + amqp_error_string2(s)};
  auto login =
      amqp_login(p->conn, o.address.vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE, o.heartbeat_seconds,
                 AMQP_SASL_METHOD_PLAIN, o.address.user.c_str(), o.address.password.c_str());
  if (login.reply_type != AMQP_RESPONSE_NORMAL)
    return error{errc::unavailable, "AMQP login to " + where + " as '" + o.address.user +
                                        "' (vhost '" + o.address.vhost +
                                        "') failed: " + reply_text(login)};
  p->open = true;
  amqp_channel_open(p->conn, channel);
  if (auto c = p->check("opening an AMQP channel"); !c) return std::move(c).err();
  return std::unique_ptr<amqp_connection>{new amqp_connection{std::move(p)}};
}

result<void> amqp_connection::declare_topic_exchange(const std::string& name) {
  amqp_exchange_declare(impl_->conn, channel, bytes_of(name), amqp_cstring_bytes("topic"), 0, 1, 0,
                        0, amqp_empty_table);
  auto r = amqp_get_rpc_reply(impl_->conn);
  if (r.reply_type == AMQP_RESPONSE_NORMAL) return ok();
  auto e = impl_->broken("declaring exchange '" + name + "': " + reply_text(r));
  if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION) e.code = errc::invalid_argument;
  return e;
}

result<void> amqp_connection::enable_confirms() {
  amqp_confirm_select(impl_->conn, channel);
  if (auto c = impl_->check("enabling publisher confirms"); !c) return c;
  impl_->confirms = true;
  impl_->published = 0;
  impl_->confirmed = 0;
  return ok();
}

result<void> amqp_connection::publish(const amqp_message& m) {
  if (!impl_->open) return error{errc::unavailable, "the AMQP connection is closed"};
  std::vector<amqp_table_entry_t> entries(m.headers.size());
  for (std::size_t i = 0; i < m.headers.size(); ++i) {
    entries[i].key = bytes_of(m.headers[i].first);
    if (const auto* s = std::get_if<std::string>(&m.headers[i].second)) {
      entries[i].value.kind = AMQP_FIELD_KIND_UTF8;
      entries[i].value.value.bytes = bytes_of(*s);
    } else {
      entries[i].value.kind = AMQP_FIELD_KIND_I64;
      entries[i].value.value.i64 = std::get<std::int64_t>(m.headers[i].second);
    }
  }
  amqp_basic_properties_t props;
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_HEADERS_FLAG;
  props.delivery_mode = m.persistent ? 2 : 1;
  props.headers.num_entries = static_cast<int>(entries.size());
  props.headers.entries = entries.data();
  if (!m.content_type.empty()) {
    props._flags |= AMQP_BASIC_CONTENT_TYPE_FLAG;
    props.content_type = bytes_of(m.content_type);
  }
  if (!m.message_id.empty()) {
    props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
    props.message_id = bytes_of(m.message_id);
  }
  if (!m.type.empty()) {
    props._flags |= AMQP_BASIC_TYPE_FLAG;
    props.type = bytes_of(m.type);
  }
  const int s = amqp_basic_publish(impl_->conn, channel, bytes_of(m.exchange),
                                   bytes_of(m.routing_key), 0, 0, &props, bytes_of(m.body));
  if (s != AMQP_STATUS_OK)
    return impl_->broken(std::string{"publishing to the AMQP broker failed: "} +
                         amqp_error_string2(s));
  if (impl_->confirms) ++impl_->published;
  return ok();
}

result<void> amqp_connection::wait_for_confirms(std::chrono::milliseconds timeout) {
  using steady = std::chrono::steady_clock;
  const auto deadline = steady::now() + timeout;
  while (impl_->confirmed < impl_->published) {
    if (!impl_->open) return error{errc::unavailable, "the AMQP connection is closed"};
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
    if (left.count() <= 0)
      return error{errc::timeout, std::to_string(impl_->published - impl_->confirmed) +
                                      " messages not confirmed by the broker within " +
                                      std::to_string(timeout.count()) + " ms"};
    auto f = impl_->read_frame(left);
    if (!f) return std::move(f).err();
  }
  amqp_maybe_release_buffers(impl_->conn);
  return ok();
}

result<void> amqp_connection::poll() {
  if (!impl_->open) return error{errc::unavailable, "the AMQP connection is closed"};
  for (;;) {
    auto f = impl_->read_frame(std::chrono::milliseconds{0});
    if (!f) return std::move(f).err();
    if (!*f) {
      amqp_maybe_release_buffers(impl_->conn);
      return ok();
    }
  }
}

result<void> amqp_connection::declare_bound_queue(const std::string& queue,
                                                  const std::string& exchange,
                                                  const std::string& pattern) {
  amqp_queue_declare(impl_->conn, channel, bytes_of(queue), 0, 1, 0, 0, amqp_empty_table);
  if (auto c = impl_->check(("declaring queue '" + queue + "'").c_str()); !c) return c;
  amqp_queue_bind(impl_->conn, channel, bytes_of(queue), bytes_of(exchange), bytes_of(pattern),
                  amqp_empty_table);
  return impl_->check(("binding queue '" + queue + "' to '" + exchange + "'").c_str());
}

result<void> amqp_connection::delete_queue(const std::string& queue) {
  amqp_queue_delete(impl_->conn, channel, bytes_of(queue), 0, 0);
  return impl_->check(("deleting queue '" + queue + "'").c_str());
}

result<void> amqp_connection::consume(const std::string& queue, std::uint16_t prefetch) {
  amqp_basic_qos(impl_->conn, channel, 0, prefetch, 0);
  if (auto c = impl_->check("setting the prefetch"); !c) return c;
  amqp_basic_consume(impl_->conn, channel, bytes_of(queue), amqp_empty_bytes, 0, 0, 0,
                     amqp_empty_table);
  return impl_->check(("consuming queue '" + queue + "'").c_str());
}

result<std::optional<amqp_message>> amqp_connection::next(std::chrono::milliseconds timeout) {
  if (!impl_->open) return error{errc::unavailable, "the AMQP connection is closed"};
  amqp_maybe_release_buffers(impl_->conn);
  amqp_envelope_t envelope;
  timeval tv = timeval_of(timeout);
  auto r = amqp_consume_message(impl_->conn, &envelope, &tv, 0);
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
    return std::optional<amqp_message>{};
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
      // Another method arrived (a channel or connection close, say): handle it.
      auto f = impl_->read_frame(std::chrono::milliseconds{0});
      if (!f) return std::move(f).err();
      return std::optional<amqp_message>{};
    }
    return impl_->broken("receiving from the AMQP broker: " + reply_text(r));
  }
  amqp_message m;
  m.exchange = string_of(envelope.exchange);
  m.routing_key = string_of(envelope.routing_key);
  m.body = string_of(envelope.message.body);
  m.delivery_tag = envelope.delivery_tag;
  m.redelivered = envelope.redelivered != 0;
  const auto& p = envelope.message.properties;
  if ((p._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) != 0) m.content_type = string_of(p.content_type);
  if ((p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) != 0) m.message_id = string_of(p.message_id);
  if ((p._flags & AMQP_BASIC_TYPE_FLAG) != 0) m.type = string_of(p.type);
  m.persistent = (p._flags & AMQP_BASIC_DELIVERY_MODE_FLAG) != 0 && p.delivery_mode == 2;
  if ((p._flags & AMQP_BASIC_HEADERS_FLAG) != 0) {
    for (int i = 0; i < p.headers.num_entries; ++i) {
      const auto& e = p.headers.entries[i];
      std::string key = string_of(e.key);
      switch (e.value.kind) {
        case AMQP_FIELD_KIND_UTF8:
        case AMQP_FIELD_KIND_BYTES:
          m.headers.emplace_back(std::move(key), string_of(e.value.value.bytes));
          break;
        case AMQP_FIELD_KIND_I64:
          m.headers.emplace_back(std::move(key), e.value.value.i64);
          break;
        case AMQP_FIELD_KIND_U64:
          m.headers.emplace_back(std::move(key), static_cast<std::int64_t>(e.value.value.u64));
          break;
        case AMQP_FIELD_KIND_I32:
          m.headers.emplace_back(std::move(key), std::int64_t{e.value.value.i32});
          break;
        default:
          break;
      }
    }
  }
  amqp_destroy_envelope(&envelope);
  return std::optional<amqp_message>{std::move(m)};
}

result<void> amqp_connection::ack(std::uint64_t delivery_tag) {
  if (int s = amqp_basic_ack(impl_->conn, channel, delivery_tag, 0); s != AMQP_STATUS_OK)
    return impl_->broken(std::string{"acknowledging a message failed: "} + amqp_error_string2(s));
  return ok();
}

void amqp_connection::close() noexcept {
  impl_->shut();
}

}  // namespace strata::persistence
