// WebSocket pieces (handshake key, URL, frames) and Connection over a socketpair with a scripted
// server on the other end: masked client frames, fragmented and unmasked server frames, ping,
// bytes left over from the handshake, and the server closing.
#include "web/websocket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace clonebot::web {
namespace {

TEST(WebSocket, AcceptKeyOfRfc6455) {
  // RFC 6455, section 1.3.
  EXPECT_EQ(WsAcceptFor("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocket, ParsesUrls) {
  auto u = ParseWsUrl("ws://127.0.0.1:9222/devtools/browser/abc-123");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 9222);
  EXPECT_EQ(u->path, "/devtools/browser/abc-123");
  u = ParseWsUrl("ws://[::1]:80/x");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 80);
  u = ParseWsUrl("ws://localhost");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->path, "/");
  for (const char* bad : {"wss://h:1/x", "http://h:1/x", "ws://", "ws://:9222/x", "ws://h:0/x", "ws://h:65536/x",
                          "ws://h:12a/x", "ws://[::1/x", "ws://[::1]x/"})
    EXPECT_FALSE(ParseWsUrl(bad).ok()) << bad;
}

// Parses one frame as a server would: header, then the (unmasked) payload.
bool ParseFrame(const std::string& f, WsFrameHeader* h, std::string* payload) {
  if (WsParseHeader(reinterpret_cast<const uint8_t*>(f.data()), f.size(), h) != 1) return false;
  if (f.size() != h->header_size + h->length) return false;
  payload->assign(f, h->header_size, std::string::npos);
  if (h->masked)
    for (size_t i = 0; i < payload->size(); ++i) (*payload)[i] = static_cast<char>((*payload)[i] ^ h->mask[i & 3]);
  return true;
}

TEST(WebSocket, ClientFramesAreMaskedAndRoundTrip) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{125}, size_t{126}, size_t{65535}, size_t{65536}, size_t{200000}}) {
    std::string payload(n, '\0');
    for (size_t i = 0; i < n; ++i) payload[i] = static_cast<char>('a' + i % 26);
    std::string f = WsEncodeFrame(kWsText, payload);
    WsFrameHeader h;
    std::string back;
    ASSERT_TRUE(ParseFrame(f, &h, &back)) << n;
    EXPECT_TRUE(h.fin);
    EXPECT_TRUE(h.masked);
    EXPECT_EQ(h.opcode, kWsText);
    EXPECT_EQ(h.length, n);
    EXPECT_EQ(back, payload) << n;
    // Every shorter prefix asks for more bytes.
    for (size_t cut : {size_t{0}, size_t{1}, h.header_size - 1})
      EXPECT_EQ(WsParseHeader(reinterpret_cast<const uint8_t*>(f.data()), cut, &h), 0) << n << " " << cut;
  }
}

TEST(WebSocket, RejectsBadHeaders) {
  WsFrameHeader h;
  const uint8_t rsv[] = {0x81 | 0x40, 0x00};  // RSV1 without an extension
  EXPECT_EQ(WsParseHeader(rsv, sizeof rsv, &h), -1);
  const uint8_t long_ping[] = {0x89, 126, 0x00, 0x80};  // control frame of 128 bytes
  EXPECT_EQ(WsParseHeader(long_ping, sizeof long_ping, &h), -1);
  const uint8_t split_close[] = {0x08, 0x00};  // a fragmented control frame
  EXPECT_EQ(WsParseHeader(split_close, sizeof split_close, &h), -1);
  const uint8_t huge[] = {0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0};  // length with its top bit set
  EXPECT_EQ(WsParseHeader(huge, sizeof huge, &h), -1);
}

// A server frame (servers do not mask).
std::string ServerFrame(uint8_t first_byte, const std::string& payload) {
  std::string f(1, static_cast<char>(first_byte));
  if (payload.size() < 126) {
    f.push_back(static_cast<char>(payload.size()));
  } else {
    f.push_back(126);
    f.push_back(static_cast<char>(payload.size() >> 8));
    f.push_back(static_cast<char>(payload.size() & 0xff));
  }
  return f + payload;
}

class FakeServer {
 public:
  explicit FakeServer(std::string initial = {}) {
    int sv[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    peer_ = base::UniqueFd(sv[1]);
    base::UniqueFd mine(sv[0]);
    base::UniqueFd dup(fcntl(mine.get(), F_DUPFD_CLOEXEC, 3));
    conn_ = Connection::Start(std::move(mine), std::move(dup), {}, Framing::kWebSocket, std::move(initial));
  }
  Connection& conn() { return *conn_; }
  // The next client frame: opcode and unmasked payload ("" and 255 at EOF).
  std::pair<uint8_t, std::string> Next() {
    for (;;) {
      WsFrameHeader h;
      int r = WsParseHeader(reinterpret_cast<const uint8_t*>(buf_.data()), buf_.size(), &h);
      if (r == 1 && buf_.size() >= h.header_size + h.length) {
        std::string f = buf_.substr(0, h.header_size + h.length);
        buf_.erase(0, f.size());
        std::string payload;
        EXPECT_TRUE(ParseFrame(f, &h, &payload));
        EXPECT_TRUE(h.masked) << "client frames must be masked";
        return {h.opcode, payload};
      }
      char tmp[65536];
      ssize_t n = read(peer_.get(), tmp, sizeof tmp);
      if (n <= 0) return {255, ""};
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }
  void Send(const std::string& bytes) { ASSERT_EQ(write(peer_.get(), bytes.data(), bytes.size()), ssize_t(bytes.size())); }
  void Close() { peer_.reset(); }

 private:
  base::UniqueFd peer_;
  std::string buf_;
  std::shared_ptr<Connection> conn_;
};

TEST(WebSocketConnection, CommandsFragmentsPingAndClose) {
  // The first 10 bytes of the answer to command 1 came with the handshake's response; the rest
  // comes later.
  const std::string first = ServerFrame(0x81, R"({"id":1,"result":{"product":"p1"}})");
  FakeServer s(first.substr(0, 10));
  Session b = s.conn().Browser();
  std::thread server([&] {
    auto [op, cmd] = s.Next();
    EXPECT_EQ(op, kWsText);
    Json j = Json::parse(cmd);
    EXPECT_EQ(j["id"], 1);
    EXPECT_EQ(j["method"], "Browser.getVersion");
    s.Send(first.substr(10));
    // The second answer in three fragments, the middle one long enough for a 16-bit length,
    // with a ping between two of them (control frames may come between fragments): the client
    // must answer it with a pong of the same payload.
    auto [op2, cmd2] = s.Next();
    EXPECT_EQ(Json::parse(cmd2)["id"], 2);
    std::string answer = R"({"id":2,"result":{"product":")" + std::string(300, 'x') + R"("}})";
    s.Send(ServerFrame(0x01, answer.substr(0, 10)) + ServerFrame(0x89, "hi"));
    auto [pop, pong] = s.Next();
    EXPECT_EQ(pop, kWsPong);
    EXPECT_EQ(pong, "hi");
    s.Send(ServerFrame(0x00, answer.substr(10, 300)) + ServerFrame(0x80, answer.substr(310)));
    // Then the server closes.
    auto [op3, cmd3] = s.Next();
    EXPECT_EQ(op3, kWsText);
    s.Send(ServerFrame(0x88, std::string("\x03\xe8", 2)));
  });
  auto r1 = b.Call("Browser.getVersion", Json::object(), Ms(5000));
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_EQ((*r1)["product"], "p1");
  auto r = b.Call("Browser.getVersion", Json::object(), Ms(5000));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)["product"], std::string(300, 'x'));
  auto r3 = b.Call("Browser.close", Json::object(), Ms(5000));
  EXPECT_FALSE(r3.ok());
  EXPECT_TRUE(absl::IsUnavailable(r3.status())) << r3.status();
  EXPECT_NE(std::string(r3.status().message()).find("closed the WebSocket"), std::string::npos) << r3.status();
  server.join();
  EXPECT_FALSE(s.conn().alive());
}

TEST(WebSocketConnection, ShutdownSendsCloseAndEnds) {
  FakeServer s;
  std::thread server([&] {
    auto [op, payload] = s.Next();
    EXPECT_EQ(op, kWsClose);
    EXPECT_EQ(payload, std::string("\x03\xe8", 2));
    EXPECT_EQ(s.Next().first, 255);  // then EOF
  });
  s.conn().Shutdown();
  server.join();
}

// A server gone without a close frame: commands fail with one clear error, and writing to the
// dead socket raises no SIGPIPE (this test binary leaves SIGPIPE at its default, which kills).
TEST(WebSocketConnection, ServerGoneIsAnErrorNotASignal) {
  FakeServer s;
  Session b = s.conn().Browser();
  s.Close();
  for (int i = 0; i < 3; i++) {
    auto r = b.Call("Browser.getVersion", Json::object(), Ms(5000));
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
    EXPECT_NE(std::string(r.status().message()).find("closed the WebSocket connection"), std::string::npos)
        << r.status();
  }
}

TEST(WebSocketConnection, MalformedFrameKillsTheConnection) {
  FakeServer s;
  Session b = s.conn().Browser();
  std::thread server([&] {
    (void)s.Next();
    const char bad[] = {static_cast<char>(0xf1), 0x00};  // RSV bits set
    s.Send(std::string(bad, 2));
  });
  auto r = b.Call("Browser.getVersion", Json::object(), Ms(5000));
  server.join();
  EXPECT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("malformed WebSocket frame"), std::string::npos) << r.status();
}

}  // namespace
}  // namespace clonebot::web
