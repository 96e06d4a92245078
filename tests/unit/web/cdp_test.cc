// Connection over real pipes with a scripted fake browser on the other end: framing, id
// matching, errors, timeouts, events, large messages, malformed input, and the browser going
// away.
#include "web/cdp.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace clonebot::web {
namespace {

// The browser's side of the pipe: reads NUL-separated commands, writes replies.
class FakeBrowser {
 public:
  FakeBrowser() {
    int a[2], b[2];
    EXPECT_EQ(pipe2(a, O_CLOEXEC), 0);  // client -> browser
    EXPECT_EQ(pipe2(b, O_CLOEXEC), 0);  // browser -> client
    in_ = base::UniqueFd(a[0]);
    out_ = base::UniqueFd(b[1]);
    conn_ = Connection::Start(base::UniqueFd(a[1]), base::UniqueFd(b[0]));
  }
  Connection& conn() { return *conn_; }
  std::shared_ptr<Connection> shared() { return conn_; }

  // Reads the next command (blocking).
  Json NextCommand() {
    for (;;) {
      size_t nul = buf_.find('\0');
      if (nul != std::string::npos) {
        std::string msg = buf_.substr(0, nul);
        buf_.erase(0, nul + 1);
        return Json::parse(msg);
      }
      char tmp[65536];
      ssize_t n = read(in_.get(), tmp, sizeof tmp);
      if (n <= 0) return Json();
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }
  // Writes raw bytes (several messages, or half of one).
  void Write(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = write(out_.get(), bytes.data() + off, bytes.size() - off);
      ASSERT_GT(n, 0);
      off += static_cast<size_t>(n);
    }
  }
  void Reply(const Json& msg) { Write(msg.dump() + std::string(1, '\0')); }
  void Close() { out_.reset(); }

 private:
  base::UniqueFd in_, out_;
  std::string buf_;
  std::shared_ptr<Connection> conn_;
};

TEST(CdpTest, MatchesResponsesById) {
  FakeBrowser fb;
  Session b = fb.conn().Browser();
  auto f1 = b.Send("A.one", {{"x", 1}});
  auto f2 = b.Send("A.two");
  Json c1 = fb.NextCommand();
  Json c2 = fb.NextCommand();
  EXPECT_EQ(c1["method"], "A.one");
  EXPECT_EQ(c1["params"]["x"], 1);
  EXPECT_FALSE(c1.contains("sessionId"));
  // Answered in the other order.
  fb.Reply({{"id", c2["id"]}, {"result", {{"v", "two"}}}});
  fb.Reply({{"id", c1["id"]}, {"result", {{"v", "one"}}}});
  auto r1 = f1.get();
  auto r2 = f2.get();
  ASSERT_TRUE(r1.ok()) << r1.status();
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ((*r1)["v"], "one");
  EXPECT_EQ((*r2)["v"], "two");
  EXPECT_EQ(fb.conn().commands_sent(), 2u);
}

TEST(CdpTest, SessionCommandsCarryTheSessionId) {
  FakeBrowser fb;
  Session s = fb.conn().OpenSession("S1");
  auto f = s.Send("Page.enable");
  Json c = fb.NextCommand();
  EXPECT_EQ(c["sessionId"], "S1");
  fb.Reply({{"id", c["id"]}, {"result", Json::object()}, {"sessionId", "S1"}});
  EXPECT_TRUE(f.get().ok());
}

TEST(CdpTest, ProtocolErrorBecomesStatus) {
  FakeBrowser fb;
  std::thread t([&] {
    Json c = fb.NextCommand();
    fb.Reply({{"id", c["id"]},
              {"error", {{"code", -32000}, {"message", "No node found"}, {"data", "x"}}}});
  });
  auto r = fb.conn().Browser().Call("DOM.describeNode");
  t.join();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("DOM.describeNode: No node found (x)"), std::string::npos)
      << r.status();
}

TEST(CdpTest, TimeoutThenLateAnswerIsIgnored) {
  FakeBrowser fb;
  auto r = fb.conn().Browser().Call("Slow.call", Json::object(), Ms(50));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  Json c = fb.NextCommand();
  fb.Reply({{"id", c["id"]}, {"result", Json::object()}});  // nobody waits: dropped
  std::thread t([&] {
    Json c2 = fb.NextCommand();
    fb.Reply({{"id", c2["id"]}, {"result", {{"ok", true}}}});
  });
  auto r2 = fb.conn().Browser().Call("Next.call");
  t.join();
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ((*r2)["ok"], true);
}

TEST(CdpTest, EventsAreQueuedOnlyWhenSubscribed) {
  FakeBrowser fb;
  Session s = fb.conn().OpenSession("S1");
  s.Subscribe("Page.loadEventFired");
  fb.Reply({{"method", "Page.frameNavigated"}, {"sessionId", "S1"}, {"params", {{"n", 1}}}});
  fb.Reply({{"method", "Page.loadEventFired"}, {"sessionId", "S2"}, {"params", {{"n", 2}}}});
  fb.Reply({{"method", "Page.loadEventFired"}, {"sessionId", "S1"}, {"params", {{"n", 3}}}});
  auto e = s.WaitFor("Page.loadEventFired", Clock::now() + Ms(2000));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->params["n"], 3);
  EXPECT_TRUE(s.Drain().empty());  // the unsubscribed event and the other session's are gone
  auto none = s.WaitFor("Page.loadEventFired", Clock::now() + Ms(30));
  EXPECT_EQ(none.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(CdpTest, WaitForSkipsNonMatchingEventsAndKeepsThem) {
  FakeBrowser fb;
  Session s = fb.conn().OpenSession("S1");
  s.Subscribe("E.x");
  for (int i = 0; i < 3; ++i) {
    fb.Reply({{"method", "E.x"}, {"sessionId", "S1"}, {"params", {{"i", i}}}});
  }
  auto e = s.WaitFor([](const Event& ev) { return ev.params["i"] == 2; },
                     Clock::now() + Ms(2000));
  ASSERT_TRUE(e.ok());
  auto rest = s.Drain("E.x");
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].params["i"], 0);
  EXPECT_EQ(rest[1].params["i"], 1);
}

TEST(CdpTest, LargeMessageInPiecesArrivesWhole) {
  FakeBrowser fb;
  auto f = fb.conn().Browser().Send("Page.captureScreenshot");
  Json c = fb.NextCommand();
  std::string data(24 << 20, 'A');  // bigger than the initial read buffer
  for (size_t i = 0; i < data.size(); i += 4093) data[i] = 'B';
  std::string msg = Json({{"id", c["id"]}, {"result", {{"data", data}}}}).dump();
  msg.push_back('\0');
  std::thread t([&] {
    // Odd-sized pieces, so NULs never line up with read boundaries.
    for (size_t off = 0; off < msg.size(); off += 1000003) {
      fb.Write(msg.substr(off, 1000003));
    }
  });
  auto r = f.get();
  t.join();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)["data"].get_ref<const std::string&>(), data);
}

TEST(CdpTest, MalformedMessagesAreSkipped) {
  FakeBrowser fb;
  auto f = fb.conn().Browser().Send("X.y");
  Json c = fb.NextCommand();
  fb.Write(std::string("{not json") + '\0' + "[1,2]" + '\0' + "\"str\"" + '\0' + "{}" + '\0');
  fb.Write(std::string("{\"id\":\"a string\"}") + '\0');
  fb.Reply({{"id", c["id"]}, {"result", {{"fine", 1}}}});
  auto r = f.get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)["fine"], 1);
  EXPECT_TRUE(fb.conn().alive());
}

TEST(CdpTest, BrowserGoneFailsPendingAndLaterCommands) {
  FakeBrowser fb;
  Session s = fb.conn().OpenSession("S1");
  s.Subscribe("E.x");
  auto f = s.Send("Slow.call");
  fb.NextCommand();
  fb.Close();
  auto r = f.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("closed its DevTools pipe"), std::string::npos)
      << r.status();
  EXPECT_FALSE(fb.conn().alive());
  auto r2 = s.Call("Another.call");
  EXPECT_EQ(r2.status().code(), absl::StatusCode::kUnavailable);
  auto e = s.WaitFor("E.x", Clock::now() + Ms(5000));
  EXPECT_EQ(e.status().code(), absl::StatusCode::kUnavailable);
}

TEST(CdpTest, DetachedOrCrashedTargetFailsOnlyItsSession) {
  FakeBrowser fb;
  Session s1 = fb.conn().OpenSession("S1");
  Session s2 = fb.conn().OpenSession("S2");
  auto f1 = s1.Send("Runtime.evaluate");
  auto f2 = s2.Send("Runtime.evaluate");
  Json c1 = fb.NextCommand();
  Json c2 = fb.NextCommand();
  fb.Reply({{"method", "Inspector.targetCrashed"}, {"sessionId", "S1"}, {"params", Json::object()}});
  auto r1 = f1.get();
  ASSERT_FALSE(r1.ok());
  EXPECT_NE(r1.status().message().find("crashed"), std::string::npos) << r1.status();
  EXPECT_NE(s1.detached(), "");
  EXPECT_EQ(s2.detached(), "");
  fb.Reply({{"id", c2["id"]}, {"result", Json::object()}, {"sessionId", "S2"}});
  EXPECT_TRUE(f2.get().ok());
  // A later command on the crashed session fails at once.
  auto r3 = s1.Call("Page.enable", Json::object(), Ms(1000));
  EXPECT_EQ(r3.status().code(), absl::StatusCode::kUnavailable);
  // Target.detachedFromTarget on the browser session ends S2.
  s2.Subscribe("E.x");
  fb.Reply({{"method", "Target.detachedFromTarget"}, {"params", {{"sessionId", "S2"}}}});
  auto e = s2.WaitFor("E.x", Clock::now() + Ms(5000));
  EXPECT_EQ(e.status().code(), absl::StatusCode::kUnavailable);
}

TEST(CdpTest, JsonAccessorsNeverThrow) {
  Json j = {{"s", "x"}, {"n", 2.5}, {"o", {{"a", 1}}}};
  EXPECT_EQ(GetString(j, "s"), "x");
  EXPECT_EQ(GetString(j, "n", "fb"), "fb");
  EXPECT_EQ(GetString(Json::array(), "s", "fb"), "fb");
  EXPECT_EQ(GetNumber(j, "n"), 2.5);
  EXPECT_EQ(GetNumber(j, "s", -1), -1);
  EXPECT_EQ(Find(j, "missing"), nullptr);
  EXPECT_EQ(Find(Json(3), "s"), nullptr);
}

}  // namespace
}  // namespace clonebot::web
