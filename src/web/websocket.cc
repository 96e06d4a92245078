#include "web/websocket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/sha.h>
#include <poll.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/status.h"

namespace clonebot::web {

namespace {

constexpr char kGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr size_t kMaxResponseHeaders = 16384;

void RandomBytes(uint8_t* out, size_t n) {
  while (n > 0) {
    ssize_t got = getrandom(out, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      // No entropy source at all: a fixed key still works (masking is not secrecy here).
      memset(out, 0x5a, n);
      return;
    }
    out += got;
    n -= static_cast<size_t>(got);
  }
}

// "host:port", with an IPv6 literal in brackets.
std::string Authority(const WsUrl& url) {
  bool v6 = url.host.find(':') != std::string::npos;
  return absl::StrCat(v6 ? "[" : "", url.host, v6 ? "]" : "", ":", url.port);
}

// Connects to |host|:|port| (IPv4 or IPv6) within |timeout|.
absl::StatusOr<base::UniqueFd> Dial(const WsUrl& url, Ms timeout) {
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = absl::StrCat(url.port);
  int rc = getaddrinfo(url.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) return absl::NotFoundError(absl::StrCat("cannot resolve ", url.host, ": ", gai_strerror(rc)));
  int last_err = ECONNREFUSED;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    base::UniqueFd fd(socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol));
    if (!fd) {
      last_err = errno;
      continue;
    }
    if (connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last_err = errno;
      continue;
    }
    pollfd p = {fd.get(), POLLOUT, 0};
    int pr;
    do pr = poll(&p, 1, static_cast<int>(timeout.count()));
    while (pr < 0 && errno == EINTR);
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (pr == 0) soerr = ETIMEDOUT;
    else if (getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) soerr = errno;
    if (soerr != 0) {
      last_err = soerr;
      continue;
    }
    int flags = fcntl(fd.get(), F_GETFL);
    (void)fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
    int one = 1;  // commands are small and latency-bound
    (void)setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    freeaddrinfo(res);
    return fd;
  }
  freeaddrinfo(res);
  return base::ErrnoToStatus(last_err, absl::StrCat("cannot connect to ", Authority(url)));
}

}  // namespace

absl::StatusOr<WsUrl> ParseWsUrl(std::string_view url_in) {
  const absl::string_view url(url_in.data(), url_in.size());  // Debian's abseil: not std's
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("--connect ", url, ": ", why,
                                                    " (expected ws://HOST:PORT/devtools/browser/ID)"));
  };
  if (absl::StartsWith(url, "wss://")) return bad("wss:// (TLS) is not supported");
  if (!absl::StartsWith(url, "ws://")) return bad("not a ws:// URL");
  absl::string_view rest = url.substr(5);
  size_t slash = rest.find('/');
  absl::string_view authority = rest.substr(0, slash);
  WsUrl out;
  out.path = slash == absl::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (authority.empty()) return bad("no host");
  absl::string_view port;
  if (authority[0] == '[') {  // [IPv6]:port
    size_t close = authority.find(']');
    if (close == absl::string_view::npos) return bad("unterminated [IPv6 address]");
    out.host = std::string(authority.substr(1, close - 1));
    absl::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("junk after the [IPv6 address]");
      port = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != absl::string_view::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty()) return bad("no host");
  if (!port.empty()) {
    uint32_t p = 0;
    if (!absl::SimpleAtoi(port, &p) || p == 0 || p > 65535) return bad("bad port");
    out.port = static_cast<uint16_t>(p);
  }
  return out;
}

std::string WsAcceptFor(std::string_view key) {
  std::string s = std::string(key) + kGuid;
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
  return absl::Base64Escape(absl::string_view(reinterpret_cast<const char*>(md), sizeof md));
}

absl::StatusOr<base::UniqueFd> WsConnect(const WsUrl& url, Ms timeout, std::string* leftover) {
  ASSIGN_OR_RETURN(base::UniqueFd fd, Dial(url, timeout));
  uint8_t nonce[16];
  RandomBytes(nonce, sizeof nonce);
  std::string key = absl::Base64Escape(absl::string_view(reinterpret_cast<const char*>(nonce), sizeof nonce));
  std::string req = absl::StrCat("GET ", url.path, " HTTP/1.1\r\nHost: ", Authority(url),
                                 "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ", key,
                                 "\r\nSec-WebSocket-Version: 13\r\n\r\n");
  const std::string where = absl::StrCat("ws://", Authority(url), url.path);
  for (size_t off = 0; off < req.size();) {
    ssize_t n = send(fd.get(), req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return base::ErrnoError("sending the WebSocket handshake to %s", where);
    off += static_cast<size_t>(n);
  }
  // The response's headers, up to the blank line; the browser answers at once.
  std::string resp;
  size_t end = std::string::npos;
  const auto deadline = Clock::now() + timeout;
  while (end == std::string::npos) {
    if (resp.size() > kMaxResponseHeaders) return absl::DataLossError(where + ": oversized HTTP response");
    auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now()).count();
    pollfd p = {fd.get(), POLLIN, 0};
    int pr = left > 0 ? poll(&p, 1, static_cast<int>(left)) : 0;
    if (pr < 0 && errno == EINTR) continue;
    if (pr == 0) return absl::DeadlineExceededError(where + ": no answer to the WebSocket handshake");
    char buf[4096];
    ssize_t n = recv(fd.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return base::ErrnoError("reading the WebSocket handshake from %s", where);
    if (n == 0) return absl::UnavailableError(where + ": the server closed the connection during the handshake");
    resp.append(buf, static_cast<size_t>(n));
    end = resp.find("\r\n\r\n");
  }
  leftover->assign(resp, end + 4);
  resp.resize(end);
  std::vector<absl::string_view> lines = absl::StrSplit(resp, "\r\n");
  absl::string_view status = lines.empty() ? "" : lines[0];
  if (!absl::StartsWith(status, "HTTP/1.1 101")) {
    // A DevTools endpoint answers 404/500 to a wrong path: say which.
    return absl::FailedPreconditionError(absl::StrCat(where, ": the server answered '", status,
                                                      "' instead of switching to WebSocket"));
  }
  std::string accept;
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == absl::string_view::npos) continue;
    if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(lines[i].substr(0, colon)), "Sec-WebSocket-Accept"))
      accept = std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
  }
  if (accept != WsAcceptFor(key))
    return absl::FailedPreconditionError(where + ": the server's Sec-WebSocket-Accept does not match the key");
  return fd;
}

std::string WsEncodeFrame(uint8_t opcode, std::string_view payload) {
  std::string f;
  f.reserve(payload.size() + 14);
  f.push_back(static_cast<char>(0x80 | (opcode & 0x0f)));
  uint64_t n = payload.size();
  if (n < 126) {
    f.push_back(static_cast<char>(0x80 | n));
  } else if (n <= 0xffff) {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xff));
  } else {
    f.push_back(static_cast<char>(0x80 | 127));
    for (int s = 56; s >= 0; s -= 8) f.push_back(static_cast<char>((n >> s) & 0xff));
  }
  uint8_t mask[4];
  RandomBytes(mask, sizeof mask);
  f.append(reinterpret_cast<const char*>(mask), 4);
  size_t at = f.size();
  f.append(payload);
  for (size_t i = 0; i < payload.size(); ++i) f[at + i] = static_cast<char>(f[at + i] ^ mask[i & 3]);
  return f;
}

int WsParseHeader(const uint8_t* p, size_t n, WsFrameHeader* h) {
  if (n < 2) return 0;
  if (p[0] & 0x70) return -1;  // RSV1-3: no extension was negotiated
  h->fin = (p[0] & 0x80) != 0;
  h->opcode = p[0] & 0x0f;
  h->masked = (p[1] & 0x80) != 0;
  uint64_t len = p[1] & 0x7f;
  size_t at = 2;
  if (len == 126) {
    if (n < 4) return 0;
    len = (uint64_t{p[2]} << 8) | p[3];
    at = 4;
  } else if (len == 127) {
    if (n < 10) return 0;
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
    if (len >> 63) return -1;
    at = 10;
  }
  if (h->opcode >= 8 && (!h->fin || len > 125)) return -1;
  if (h->masked) {
    if (n < at + 4) return 0;
    memcpy(h->mask, p + at, 4);
    at += 4;
  }
  h->length = len;
  h->header_size = at;
  return 1;
}

}  // namespace clonebot::web
