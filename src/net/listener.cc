#include "net/listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "util/log.h"

namespace kv::net {

Listener::Listener(uv_loop_t* loop, AcceptCallback on_accept)
    : loop_(loop), on_accept_(std::move(on_accept)) {}

Listener::~Listener() { Close(); }

namespace {
void FreeHandle(uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); }
}  // namespace

util::Status Listener::Listen(const std::vector<std::string>& addresses, int port, int backlog) {
  for (std::string addr : addresses) {
    bool optional = !addr.empty() && addr[0] == '-';
    if (optional) addr = addr.substr(1);
    if (addr == "*") addr = "0.0.0.0";
    sockaddr_storage ss{};
    int rc;
    if (addr.find(':') != std::string::npos) {
      rc = uv_ip6_addr(addr.c_str(), port, reinterpret_cast<sockaddr_in6*>(&ss));
    } else {
      rc = uv_ip4_addr(addr.c_str(), port, reinterpret_cast<sockaddr_in*>(&ss));
    }
    if (rc != 0) {
      return util::Status::InvalidArgument("invalid bind address '" + addr + "'");
    }
    auto* tcp = new uv_tcp_t;
    uv_tcp_init(loop_, tcp);
    tcp->data = this;
    unsigned flags = addr.find(':') != std::string::npos ? UV_TCP_IPV6ONLY : 0;
    rc = uv_tcp_bind(tcp, reinterpret_cast<sockaddr*>(&ss), flags);
    if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(tcp), backlog, OnConnection);
    if (rc != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(tcp), FreeHandle);
      std::string msg = "Could not create server TCP listening socket " + addr + ":" +
                        std::to_string(port) + ": " + uv_strerror(rc);
      if (optional) {
        KV_LOG_VERBOSE("%s (optional address, skipped)", msg.c_str());
        continue;
      }
      return util::Status::IOError(msg);
    }
    sockets_.push_back(tcp);
  }
  if (sockets_.empty()) return util::Status::IOError("no address to listen on");
  return util::Status::OK();
}

int Listener::BoundPort() const {
  if (sockets_.empty()) return 0;
  sockaddr_storage ss{};
  int len = sizeof(ss);
  if (uv_tcp_getsockname(sockets_[0], reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return 0;
}

void Listener::Close() {
  for (uv_tcp_t* t : sockets_) uv_close(reinterpret_cast<uv_handle_t*>(t), FreeHandle);
  sockets_.clear();
}

void Listener::OnConnection(uv_stream_t* server, int status) {
  auto* self = static_cast<Listener*>(server->data);
  if (status < 0) {
    KV_LOG_WARNING("accept error: %s", uv_strerror(status));
    return;
  }
  Connection* c = Connection::Accept(server);
  if (c != nullptr) self->on_accept_(c);
}

}  // namespace kv::net
