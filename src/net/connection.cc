#include "net/connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "util/log.h"

namespace kv::net {

namespace {
constexpr size_t kReadChunk = 16 * 1024;

void FormatAddress(const sockaddr_storage& ss, std::string* ip, int* port, bool* loopback) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
    *port = ntohs(a->sin_port);
    if (loopback) *loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
    *port = ntohs(a->sin6_port);
    if (loopback) {
      *loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr) ||
                  (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && a->sin6_addr.s6_addr[12] == 127);
    }
  }
  *ip = buf;
}
}  // namespace

Connection* Connection::Accept(uv_stream_t* server) {
  auto* c = new Connection();
  if (uv_tcp_init(server->loop, &c->tcp_) != 0) {
    delete c;
    return nullptr;
  }
  c->tcp_.data = c;
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp_)) != 0) {
    c->closing_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp_),
             [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
    return nullptr;
  }
  uv_tcp_nodelay(&c->tcp_, 1);
  sockaddr_storage ss{};
  int len = sizeof(ss);
  if (uv_tcp_getpeername(&c->tcp_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    FormatAddress(ss, &c->peer_ip_, &c->peer_port_, &c->peer_is_loopback_);
  }
  return c;
}

Connection* Connection::Connect(uv_loop_t* loop, const std::string& ip, int port, Handler* handler,
                                ConnectCallback done, util::Status* error) {
  sockaddr_storage ss{};
  int rc;
  if (ip.find(':') != std::string::npos) {
    rc = uv_ip6_addr(ip.c_str(), port, reinterpret_cast<sockaddr_in6*>(&ss));
  } else {
    rc = uv_ip4_addr(ip.c_str(), port, reinterpret_cast<sockaddr_in*>(&ss));
  }
  if (rc != 0 || port <= 0 || port > 65535) {
    *error = util::Status::InvalidArgument("not a numeric address: '" + ip + "' port " +
                                           std::to_string(port));
    return nullptr;
  }
  auto* c = new Connection();
  if (uv_tcp_init(loop, &c->tcp_) != 0) {
    delete c;
    *error = util::Status::IOError("cannot create a TCP handle");
    return nullptr;
  }
  c->tcp_.data = c;
  c->handler_ = handler;
  FormatAddress(ss, &c->peer_ip_, &c->peer_port_, &c->peer_is_loopback_);
  c->connect_req_.data = c;
  rc = uv_tcp_connect(&c->connect_req_, &c->tcp_, reinterpret_cast<sockaddr*>(&ss), ConnectCb);
  if (rc != 0) {
    *error = util::Status::IOError("connect to " + c->PeerAddress() + ": " + uv_strerror(rc));
    c->handler_ = nullptr;  // a call that fails never calls back
    c->closing_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp_),
             [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
    return nullptr;
  }
  c->on_connect_ = std::move(done);
  return c;
}

void Connection::ConnectCb(uv_connect_t* req, int status) {
  auto* c = static_cast<Connection*>(req->data);
  ConnectCallback done = std::move(c->on_connect_);
  c->on_connect_ = nullptr;
  if (c->closing_) return;  // cancelled by Close(); OnClosed follows
  if (status != 0) {
    util::Status s =
        util::Status::IOError("connect to " + c->PeerAddress() + ": " + uv_strerror(status));
    c->Close();
    if (done) done(c, std::move(s));
    return;
  }
  uv_tcp_nodelay(&c->tcp_, 1);
  if (done) done(c, util::Status::OK());
}

std::string Connection::PeerAddress() const {
  if (peer_ip_.find(':') != std::string::npos) {
    return "[" + peer_ip_ + "]:" + std::to_string(peer_port_);
  }
  return peer_ip_ + ":" + std::to_string(peer_port_);
}

std::string Connection::LocalAddress() const {
  sockaddr_storage ss{};
  int len = sizeof(ss);
  if (uv_tcp_getsockname(&tcp_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "";
  std::string ip;
  int port = 0;
  FormatAddress(ss, &ip, &port, nullptr);
  return ip + ":" + std::to_string(port);
}

int Connection::fd() const {
  uv_os_fd_t fd = -1;
  uv_fileno(reinterpret_cast<const uv_handle_t*>(&tcp_), &fd);
  return fd;
}

void Connection::StartReading() {
  if (reading_ || closing_) return;
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), AllocCb, ReadCb) == 0) reading_ = true;
}

void Connection::StopReading() {
  if (!reading_) return;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  reading_ = false;
}

void Connection::AllocCb(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(h->data);
  size_t want = kReadChunk;
  if (c->input_.writable() > want) want = c->input_.writable();
  buf->base = c->input_.Reserve(want);
  buf->len = want;
}

void Connection::ReadCb(uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
  auto* c = static_cast<Connection*>(s->data);
  if (nread > 0) {
    c->input_.Commit(static_cast<size_t>(nread));
    c->bytes_read_ += static_cast<uint64_t>(nread);
    c->handler_->OnReadable(c);
  } else if (nread < 0) {
    if (nread != UV_EOF && nread != UV_ECONNRESET) {
      KV_LOG_VERBOSE("connection %s read error: %s", c->PeerAddress().c_str(),
                     uv_strerror(static_cast<int>(nread)));
    }
    c->Close();
  }
}

void Connection::Flush() {
  if (closing_ || write_in_flight_) return;
  if (!output_.empty()) {
    uv_buf_t b = uv_buf_init(output_.mutable_data(), static_cast<unsigned>(output_.size()));
    int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1);
    if (n > 0) {
      output_.Consume(static_cast<size_t>(n));
      bytes_written_ += static_cast<uint64_t>(n);
    } else if (n < 0 && n != UV_EAGAIN) {
      Close();
      return;
    }
    if (!output_.empty()) {
      StartWrite();
      return;
    }
  }
  if (close_after_flush_) Close();
}

void Connection::StartWrite() {
  inflight_.Swap(output_);
  write_in_flight_ = true;
  write_req_.data = this;
  uv_buf_t b = uv_buf_init(inflight_.mutable_data(), static_cast<unsigned>(inflight_.size()));
  if (uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1, WriteCb) != 0) {
    write_in_flight_ = false;
    Close();
  }
}

void Connection::WriteCb(uv_write_t* req, int status) {
  auto* c = static_cast<Connection*>(req->data);
  c->write_in_flight_ = false;
  if (status < 0) {
    c->Close();
    return;
  }
  c->bytes_written_ += c->inflight_.size();
  c->inflight_.Clear();
  c->inflight_.ShrinkIfEmpty(64 * 1024);
  if (c->close_after_flush_ && c->output_.empty()) {
    c->Close();
    return;
  }
  // Replies queued meanwhile are the owner's to send: it may have to hold
  // them (a reply must not leave before the write it acknowledges is
  // durable).
  c->handler_->OnDrained(c);
}

void Connection::CloseAfterFlush() {
  close_after_flush_ = true;
  StopReading();
}

void Connection::Close() {
  if (closing_) return;
  closing_ = true;
  StopReading();
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), CloseCb);
}

void Connection::CloseCb(uv_handle_t* h) {
  auto* c = static_cast<Connection*>(h->data);
  if (c->handler_ != nullptr) c->handler_->OnClosed(c);
  delete c;
}

}  // namespace kv::net
