// DevTools protocol client over a pipe (Chromium's --remote-debugging-pipe): JSON messages
// separated by a NUL byte, commands written to the browser's fd 3, responses and events read
// from its fd 4. Or, to attach to a browser that is already running, over a WebSocket
// (websocket.h): one JSON message per text frame.
//
// One Connection per browser. A reader thread splits and parses messages and dispatches them:
// a response (it carries "id") completes the command that waits for it; an event goes to the
// queue of its session ("sessionId", "" for the browser target) if that session subscribed to
// its method, else it is dropped. Sessions are flat (Target.attachToTarget with flatten: true):
// their commands travel on the same pipe with a "sessionId" field.
//
// Thread-safety: Connection and Session are thread-safe; many threads may issue commands on one
// connection at once (writes are serialized under a mutex, one whole message at a time).
// Errors are absl::Status: a dead browser is kUnavailable, a command the browser refused is
// kFailedPrecondition with the browser's message, a timeout is kDeadlineExceeded. No exception
// from the JSON library leaves this module.
//
// Large messages (screenshots, page HTML) are parsed straight out of the read buffer, and the
// caller can move the strings out of the returned result: one copy from the pipe into the
// DOM, none after.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <thread>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "base/unique_fd.h"
#include "nlohmann/json.hpp"

namespace clonebot::web {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

struct Event {
  std::string method;
  Json params;
  Clock::time_point received;  // when the reader thread parsed it
};

class Connection;

// A flat session: commands to one target. Cheap to copy-construct via Connection::OpenSession.
// Holds the connection by shared_ptr, so it stays valid while any session exists.
class Session {
 public:
  // Sends |method| with |params| and waits for its response's "result" (or the error).
  absl::StatusOr<Json> Call(const std::string& method, Json params = Json::object(),
                            Ms timeout = Ms(30000));
  // Sends without waiting; the future yields the response as Call would. Commands of one session
  // are executed by the browser in the order they were sent, so a caller may pipeline several
  // and wait for the last.
  std::future<absl::StatusOr<Json>> Send(const std::string& method, Json params = Json::object());

  // Events of |method| on this session are queued from now on (they are dropped otherwise).
  void Subscribe(const std::string& method);
  // Removes and returns the first queued event for which |match| is true (events before it stay
  // queued), waiting until |deadline|. kDeadlineExceeded on timeout, kUnavailable if the browser
  // died or the session was detached.
  absl::StatusOr<Event> WaitFor(const std::function<bool(const Event&)>& match,
                                Clock::time_point deadline);
  // Waits for the first event of |method|.
  absl::StatusOr<Event> WaitFor(const std::string& method, Clock::time_point deadline);
  // Removes and returns every queued event of |method| (all methods if empty).
  std::deque<Event> Drain(const std::string& method = {});

  const std::string& id() const { return id_; }
  Connection& connection() { return *conn_; }
  // Set once Target.detachedFromTarget named this session, Inspector.targetCrashed came on it,
  // or the browser went away: why ("" while attached). Pending and later commands fail with it.
  std::string detached() const;

 private:
  friend class Connection;
  struct Queue {
    mutable std::mutex mu;
    std::condition_variable cv;
    std::set<std::string, std::less<>> subscribed;
    std::deque<Event> events;
    std::string detached;  // "" while attached
  };
  Session(std::shared_ptr<Connection> conn, std::string id, std::shared_ptr<Queue> q)
      : conn_(std::move(conn)), id_(std::move(id)), q_(std::move(q)) {}

  std::shared_ptr<Connection> conn_;
  std::string id_;
  std::shared_ptr<Queue> q_;
};

enum class Framing {
  kPipe,       // NUL after each message (--remote-debugging-pipe)
  kWebSocket,  // RFC 6455 frames on a socket whose handshake is done (WsConnect)
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // Takes ownership of |to_browser| (the browser reads it as fd 3) and |from_browser| (its fd 4)
  // and starts the reader thread. |describe_exit| is asked for one line ("exited with status 1",
  // "killed by SIGKILL") when the pipe closes, for the error that pending commands get.
  // kWebSocket: both fds are the same socket (one a dup of the other); |initial| holds bytes
  // already read from it (past the handshake).
  static std::shared_ptr<Connection> Start(base::UniqueFd to_browser, base::UniqueFd from_browser,
                                           std::function<std::string()> describe_exit = {},
                                           Framing framing = Framing::kPipe, std::string initial = {});
  // Stops the reader thread (it does not wait for the browser) and fails what is pending.
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The browser-level session (no sessionId): Target.*, Browser.*.
  Session Browser();
  // A handle for the flat session |session_id| (from Target.attachToTarget). Events for it are
  // queued from the moment this is called; call it before sending commands that cause events.
  Session OpenSession(const std::string& session_id);
  // Forgets a session's queue (after Target.detachFromTarget or closeTarget).
  void CloseSession(const std::string& session_id);

  // False once the pipe closed or a write failed.
  bool alive() const;
  // Why the connection died ("" while alive).
  std::string death() const;
  // Closes the write end (the browser takes EOF on fd 3 as a request to quit; on a WebSocket a
  // close frame ends only this connection). Idempotent.
  void Shutdown();

  // The reader thread's id (0 until it has started), for scheduling tweaks by the owner.
  pid_t reader_tid() const { return reader_tid_.load(); }

  // Counters, for the benchmark and `--verbose`.
  uint64_t commands_sent() const { return commands_sent_.load(std::memory_order_relaxed); }
  uint64_t bytes_received() const { return bytes_received_.load(std::memory_order_relaxed); }

  // Largest message accepted (a full-page screenshot of a long page can be tens of MiB).
  static constexpr size_t kMaxMessage = 512u << 20;
  // Events kept per session queue before the oldest are dropped.
  static constexpr size_t kMaxQueued = 4096;

 private:
  friend class Session;
  using Result = absl::StatusOr<Json>;
  Connection(base::UniqueFd to_browser, base::UniqueFd from_browser,
             std::function<std::string()> describe_exit);
  // Writes one message (framed) under write_mu_; errno or 0.
  int WriteMessage(std::string msg, uint8_t ws_opcode);
  // Splits the messages in buf[start, have) (NUL-separated or WebSocket frames), dispatches the
  // complete ones and returns where the incomplete tail starts; -1 after a fatal protocol error
  // (the connection is dead).
  ssize_t SplitMessages(char* buf, size_t have, size_t* scan);

  std::future<Result> SendImpl(const std::string& session_id, const std::string& method,
                               const Json& params);
  std::shared_ptr<Session::Queue> QueueFor(const std::string& session_id, bool create);
  void ReaderLoop();
  void Dispatch(const char* data, size_t len);
  void Die(std::string why);
  // Marks |session_id| detached with |why| and fails its pending commands.
  void Detach(const std::string& session_id, const std::string& why);

  Framing framing_ = Framing::kPipe;
  std::string initial_;  // kWebSocket: bytes read past the handshake, parsed first
  std::string fragments_;  // kWebSocket: a message split over continuation frames, so far
  base::UniqueFd to_browser_;
  base::UniqueFd from_browser_;
  std::function<std::string()> describe_exit_;
  base::UniqueFd wake_;  // eventfd: the destructor wakes the reader with it
  std::thread reader_;

  std::mutex write_mu_;  // one whole message at a time on the pipe

  mutable std::mutex mu_;  // guards everything below
  uint64_t next_id_ = 1;
  struct Pending {
    std::promise<Result> promise;
    std::string session_id;
    std::string method;
  };
  std::unordered_map<uint64_t, Pending> pending_;
  std::unordered_map<std::string, std::shared_ptr<Session::Queue>> queues_;
  bool dead_ = false;
  std::string death_;

  std::atomic<pid_t> reader_tid_{0};
  std::atomic<uint64_t> commands_sent_{0};
  std::atomic<uint64_t> bytes_received_{0};
};

// Builds the Status for a DevTools error object {"code": -32000, "message": "..."}.
absl::Status ProtocolError(const std::string& method, const Json& error);

// Reads a value from a JSON object without throwing: nullptr when |j| is not an object or lacks
// |key|.
const Json* Find(const Json& j, std::string_view key);
// The string at |key|, or |fallback|.
std::string GetString(const Json& j, std::string_view key, std::string_view fallback = "");
double GetNumber(const Json& j, std::string_view key, double fallback = 0);

}  // namespace clonebot::web
