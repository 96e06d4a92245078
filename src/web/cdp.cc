#include "web/cdp.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <string.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "web/websocket.h"

namespace clonebot::web {

namespace {

std::future<absl::StatusOr<Json>> Ready(absl::StatusOr<Json> r) {
  std::promise<absl::StatusOr<Json>> p;
  p.set_value(std::move(r));
  return p.get_future();
}

// Writes all of |data|, retrying on EINTR and short writes. Returns errno or 0. On a socket,
// a closed peer is EPIPE without SIGPIPE, whoever owns the signal's disposition.
int WriteAll(int fd, const char* data, size_t len, bool socket = false) {
  while (len > 0) {
    ssize_t n = socket ? ::send(fd, data, len, MSG_NOSIGNAL) : ::write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  return 0;
}

}  // namespace

const Json* Find(const Json& j, std::string_view key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::string GetString(const Json& j, std::string_view key, std::string_view fallback) {
  const Json* v = Find(j, key);
  if (v == nullptr || !v->is_string()) return std::string(fallback);
  return v->get_ref<const std::string&>();
}

double GetNumber(const Json& j, std::string_view key, double fallback) {
  const Json* v = Find(j, key);
  if (v == nullptr || !v->is_number()) return fallback;
  return v->get<double>();
}

absl::Status ProtocolError(const std::string& method, const Json& error) {
  std::string msg = GetString(error, "message", "unknown error");
  std::string data = GetString(error, "data");
  if (!data.empty()) absl::StrAppend(&msg, " (", data, ")");
  return absl::FailedPreconditionError(absl::StrCat(method, ": ", msg));
}

// --- Session ---------------------------------------------------------------------------------

absl::StatusOr<Json> Session::Call(const std::string& method, Json params, Ms timeout) {
  auto fut = Send(method, std::move(params));
  if (fut.wait_for(timeout) != std::future_status::ready) {
    return absl::DeadlineExceededError(
        absl::StrCat(method, ": no answer from the browser within ", timeout.count(), " ms"));
  }
  return fut.get();
}

std::future<absl::StatusOr<Json>> Session::Send(const std::string& method, Json params) {
  return conn_->SendImpl(id_, method, params);
}

void Session::Subscribe(const std::string& method) {
  std::lock_guard lock(q_->mu);
  q_->subscribed.emplace(method);
}

absl::StatusOr<Event> Session::WaitFor(const std::function<bool(const Event&)>& match,
                                       Clock::time_point deadline) {
  std::unique_lock lock(q_->mu);
  for (;;) {
    for (auto it = q_->events.begin(); it != q_->events.end(); ++it) {
      if (match(*it)) {
        Event e = std::move(*it);
        q_->events.erase(it);
        return e;
      }
    }
    if (!q_->detached.empty()) return absl::UnavailableError(q_->detached);
    if (q_->cv.wait_until(lock, deadline) == std::cv_status::timeout &&
        Clock::now() >= deadline) {
      // One last look: the event may have arrived with the timeout.
      for (auto it = q_->events.begin(); it != q_->events.end(); ++it) {
        if (match(*it)) {
          Event e = std::move(*it);
          q_->events.erase(it);
          return e;
        }
      }
      return absl::DeadlineExceededError("timed out");
    }
  }
}

absl::StatusOr<Event> Session::WaitFor(const std::string& method, Clock::time_point deadline) {
  auto r = WaitFor([method](const Event& e) { return e.method == method; }, deadline);
  if (!r.ok() && absl::IsDeadlineExceeded(r.status())) {
    return absl::DeadlineExceededError(absl::StrCat("no ", method, " event in time"));
  }
  return r;
}

std::deque<Event> Session::Drain(const std::string& method) {
  std::lock_guard lock(q_->mu);
  std::deque<Event> out;
  if (method.empty()) {
    out.swap(q_->events);
    return out;
  }
  for (auto it = q_->events.begin(); it != q_->events.end();) {
    if (it->method == method) {
      out.push_back(std::move(*it));
      it = q_->events.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::string Session::detached() const {
  std::lock_guard lock(q_->mu);
  return q_->detached;
}

// --- Connection ------------------------------------------------------------------------------

Connection::Connection(base::UniqueFd to_browser, base::UniqueFd from_browser,
                       std::function<std::string()> describe_exit)
    : to_browser_(std::move(to_browser)),
      from_browser_(std::move(from_browser)),
      describe_exit_(std::move(describe_exit)) {}

std::shared_ptr<Connection> Connection::Start(base::UniqueFd to_browser,
                                              base::UniqueFd from_browser,
                                              std::function<std::string()> describe_exit,
                                              Framing framing, std::string initial) {
  std::shared_ptr<Connection> c(
      new Connection(std::move(to_browser), std::move(from_browser), std::move(describe_exit)));
  c->framing_ = framing;
  c->initial_ = std::move(initial);
  c->queues_.emplace("", std::make_shared<Session::Queue>());
  c->wake_ = base::UniqueFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  // The reader holds a raw pointer: the destructor joins it before anything is freed.
  c->reader_ = std::thread([raw = c.get()] { raw->ReaderLoop(); });
  return c;
}

Connection::~Connection() {
  Shutdown();
  if (wake_.valid()) {
    uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof one);
  }
  if (reader_.joinable()) reader_.join();
  Die("the DevTools connection was closed");
}

void Connection::Shutdown() {
  {
    std::lock_guard wlock(write_mu_);
    if (framing_ == Framing::kWebSocket && to_browser_.valid()) {
      // A close frame (status 1000), then EOF: the server closes its side and the reader ends.
      std::string close = WsEncodeFrame(kWsClose, std::string_view("\x03\xe8", 2));
      (void)WriteAll(to_browser_.get(), close.data(), close.size(), /*socket=*/true);
      (void)::shutdown(to_browser_.get(), SHUT_WR);
    }
    to_browser_.reset();
  }
  // The reader ends when the browser closes fd 4 (it exits) or the owner kills it; Browser
  // waits for the process before destroying the connection.
}

Session Connection::Browser() { return Session(shared_from_this(), "", QueueFor("", true)); }

Session Connection::OpenSession(const std::string& session_id) {
  return Session(shared_from_this(), session_id, QueueFor(session_id, true));
}

void Connection::CloseSession(const std::string& session_id) {
  if (session_id.empty()) return;
  std::lock_guard lock(mu_);
  queues_.erase(session_id);
}

std::shared_ptr<Session::Queue> Connection::QueueFor(const std::string& session_id, bool create) {
  std::lock_guard lock(mu_);
  auto it = queues_.find(session_id);
  if (it != queues_.end()) return it->second;
  if (!create) return nullptr;
  auto q = std::make_shared<Session::Queue>();
  if (dead_) q->detached = death_;
  queues_.emplace(session_id, q);
  return q;
}

bool Connection::alive() const {
  std::lock_guard lock(mu_);
  return !dead_;
}

std::string Connection::death() const {
  std::lock_guard lock(mu_);
  return death_;
}

std::future<Connection::Result> Connection::SendImpl(const std::string& session_id,
                                                     const std::string& method,
                                                     const Json& params) {
  uint64_t id;
  std::future<Result> fut;
  {
    std::lock_guard lock(mu_);
    if (dead_) return Ready(absl::UnavailableError(absl::StrCat(method, ": ", death_)));
    if (!session_id.empty()) {
      auto it = queues_.find(session_id);
      if (it != queues_.end()) {
        std::lock_guard qlock(it->second->mu);
        if (!it->second->detached.empty()) {
          return Ready(absl::UnavailableError(absl::StrCat(method, ": ", it->second->detached)));
        }
      }
    }
    id = next_id_++;
    Pending& p = pending_[id];
    p.session_id = session_id;
    p.method = method;
    fut = p.promise.get_future();
  }
  // Serialize outside mu_: params may be large (Runtime.evaluate with a script).
  std::string msg;
  msg.reserve(64 + method.size() + session_id.size());
  absl::StrAppend(&msg, "{\"id\":", id, ",\"method\":\"", method, "\"");
  if (!session_id.empty()) absl::StrAppend(&msg, ",\"sessionId\":\"", session_id, "\"");
  msg += ",\"params\":";
  msg += params.is_null() ? std::string("{}")
                          : params.dump(-1, ' ', false, Json::error_handler_t::replace);
  msg += "}";
  int err = WriteMessage(std::move(msg), kWsText);
  commands_sent_.fetch_add(1, std::memory_order_relaxed);
  if (err != 0) {
    Die(err == EPIPE ? std::string(framing_ == Framing::kWebSocket ? "the browser closed the WebSocket connection"
                                                                   : "the browser closed its DevTools pipe")
                     : absl::StrCat("writing to the browser: ", strerror(err)));
  }
  return fut;
}

int Connection::WriteMessage(std::string msg, uint8_t ws_opcode) {
  std::string framed;
  if (framing_ == Framing::kWebSocket) {
    framed = WsEncodeFrame(ws_opcode, msg);
  } else {
    msg.push_back('\0');
    framed = std::move(msg);
  }
  std::lock_guard wlock(write_mu_);
  return to_browser_.valid()
             ? WriteAll(to_browser_.get(), framed.data(), framed.size(), framing_ == Framing::kWebSocket)
             : EPIPE;
}

void Connection::Die(std::string why) {
  std::unordered_map<uint64_t, Pending> pending;
  std::vector<std::shared_ptr<Session::Queue>> queues;
  {
    std::lock_guard lock(mu_);
    if (dead_) return;
    dead_ = true;
    death_ = std::move(why);
    pending.swap(pending_);
    for (auto& [_, q] : queues_) {
      std::lock_guard qlock(q->mu);
      if (q->detached.empty()) q->detached = death_;
      queues.push_back(q);
    }
  }
  for (auto& q : queues) q->cv.notify_all();
  for (auto& [_, p] : pending) {
    p.promise.set_value(absl::UnavailableError(absl::StrCat(p.method, ": ", death_)));
  }
}

void Connection::Detach(const std::string& session_id, const std::string& why) {
  std::vector<Pending> failed;
  std::shared_ptr<Session::Queue> q;
  {
    // Under mu_, so that SendImpl (which checks the mark under mu_) cannot slip a command in
    // between the mark and the sweep.
    std::lock_guard lock(mu_);
    auto it = queues_.find(session_id);
    if (it != queues_.end()) {
      q = it->second;
      std::lock_guard qlock(q->mu);
      if (q->detached.empty()) q->detached = why;
    }
    for (auto pit = pending_.begin(); pit != pending_.end();) {
      if (pit->second.session_id == session_id) {
        failed.push_back(std::move(pit->second));
        pit = pending_.erase(pit);
      } else {
        ++pit;
      }
    }
  }
  if (q) q->cv.notify_all();
  for (auto& p : failed) {
    p.promise.set_value(absl::UnavailableError(absl::StrCat(p.method, ": ", why)));
  }
}

void Connection::ReaderLoop() {
  reader_tid_ = gettid();
  // One growing buffer; messages are parsed in place and the tail of an incomplete message is
  // moved to the front. Reads are large so that a multi-MiB screenshot takes few syscalls.
  std::string buf;
  buf.resize(std::max<size_t>(1 << 20, initial_.size()));
  size_t have = 0;  // bytes in buf
  size_t scan = 0;  // bytes before this offset hold no NUL
  int fd = from_browser_.get();
  if (!initial_.empty()) {
    memcpy(buf.data(), initial_.data(), initial_.size());
    have = initial_.size();
    initial_.clear();
    ssize_t start = SplitMessages(buf.data(), have, &scan);
    if (start < 0) return;
    memmove(buf.data(), buf.data() + start, have - static_cast<size_t>(start));
    have -= static_cast<size_t>(start);
    scan -= static_cast<size_t>(start);
  }
  for (;;) {
    if (have == buf.size()) {
      if (buf.size() >= kMaxMessage) {
        Die(absl::StrCat("the browser sent a message over ", kMaxMessage >> 20, " MiB"));
        return;
      }
      buf.resize(buf.size() * 2);
    }
    pollfd pfd[2] = {{fd, POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    int pr = ::poll(pfd, wake_.valid() ? 2 : 1, -1);
    if (pr < 0 && errno == EINTR) continue;
    if (pfd[1].revents != 0) {
      Die("the DevTools connection was closed");
      return;
    }
    ssize_t n = ::read(fd, buf.data() + have, buf.size() - have);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      std::string why = n == 0 ? (framing_ == Framing::kWebSocket ? "the browser closed the WebSocket connection"
                                                                  : "the browser closed its DevTools pipe")
                               : absl::StrCat("reading from the browser: ", strerror(errno));
      if (describe_exit_) {
        std::string exit = describe_exit_();
        if (!exit.empty()) why = absl::StrCat("the browser ", exit);
      }
      Die(why);
      return;
    }
    bytes_received_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    have += static_cast<size_t>(n);
    ssize_t sstart = SplitMessages(buf.data(), have, &scan);
    if (sstart < 0) return;
    size_t start = static_cast<size_t>(sstart);
    if (start > 0) {
      memmove(buf.data(), buf.data() + start, have - start);
      have -= start;
      scan -= start;
    }
  }
}

ssize_t Connection::SplitMessages(char* buf, size_t have, size_t* scan) {
  size_t start = 0;
  if (framing_ == Framing::kPipe) {
    for (;;) {
      const char* nul = static_cast<const char*>(memchr(buf + *scan, '\0', have - *scan));
      if (nul == nullptr) {
        *scan = have;
        return static_cast<ssize_t>(start);
      }
      size_t end = static_cast<size_t>(nul - buf);
      Dispatch(buf + start, end - start);
      start = end + 1;
      *scan = start;
    }
  }
  // WebSocket: complete frames from |start|; a text message is dispatched straight from the
  // buffer unless it was fragmented.
  for (;;) {
    *scan = start;
    WsFrameHeader h;
    int r = WsParseHeader(reinterpret_cast<const uint8_t*>(buf + start), have - start, &h);
    if (r < 0) {
      Die("the browser sent a malformed WebSocket frame");
      return -1;
    }
    if (r == 0) return static_cast<ssize_t>(start);
    if (h.length > kMaxMessage || fragments_.size() + h.length > kMaxMessage) {
      Die(absl::StrCat("the browser sent a message over ", kMaxMessage >> 20, " MiB"));
      return -1;
    }
    if (have - start - h.header_size < h.length) {
      // Incomplete: the caller grows the buffer if the frame cannot fit (|scan| = |have|).
      *scan = have;
      return static_cast<ssize_t>(start);
    }
    char* payload = buf + start + h.header_size;
    size_t len = static_cast<size_t>(h.length);
    if (h.masked)  // servers must not mask; unmask anyway rather than misread
      for (size_t i = 0; i < len; ++i) payload[i] = static_cast<char>(payload[i] ^ h.mask[i & 3]);
    start += h.header_size + len;
    switch (h.opcode) {
      case kWsText:
      case kWsBinary:
      case kWsContinuation:
        if (h.opcode != kWsContinuation && !fragments_.empty()) {
          Die("the browser began a WebSocket message inside another");
          return -1;
        }
        if (h.fin && fragments_.empty()) {
          Dispatch(payload, len);
        } else {
          fragments_.append(payload, len);
          if (h.fin) {
            std::string whole = std::move(fragments_);
            fragments_.clear();
            Dispatch(whole.data(), whole.size());
          }
        }
        break;
      case kWsPing:
        if (int err = WriteMessage(std::string(payload, len), kWsPong); err != 0 && err != EPIPE) {
          Die(absl::StrCat("writing to the browser: ", strerror(err)));
          return -1;
        }
        break;
      case kWsPong:
        break;
      case kWsClose:
        Die("the browser closed the WebSocket connection");
        return -1;
      default:
        Die(absl::StrCat("the browser sent a WebSocket frame of unknown type ", h.opcode));
        return -1;
    }
  }
}

void Connection::Dispatch(const char* data, size_t len) {
  Json msg = Json::parse(data, data + len, nullptr, /*allow_exceptions=*/false);
  if (msg.is_discarded() || !msg.is_object()) return;  // not ours to crash on
  std::string session_id = GetString(msg, "sessionId");

  if (const Json* idv = Find(msg, "id"); idv != nullptr && idv->is_number_unsigned()) {
    uint64_t id = idv->get<uint64_t>();
    Pending p;
    {
      std::lock_guard lock(mu_);
      auto it = pending_.find(id);
      if (it == pending_.end()) return;  // timed out and forgotten, or failed by a detach
      p = std::move(it->second);
      pending_.erase(it);
    }
    if (const Json* err = Find(msg, "error")) {
      p.promise.set_value(ProtocolError(p.method, *err));
    } else if (Json* res = msg.is_object() && msg.contains("result") ? &msg["result"] : nullptr) {
      p.promise.set_value(std::move(*res));
    } else {
      p.promise.set_value(Json::object());
    }
    return;
  }

  std::string method = GetString(msg, "method");
  if (method.empty()) return;
  Json params;
  if (auto it = msg.find("params"); it != msg.end()) params = std::move(*it);

  // Lifecycle events that end a session, whether or not anyone subscribed.
  if (method == "Target.detachedFromTarget" && session_id.empty()) {
    std::string sid = GetString(params, "sessionId");
    if (!sid.empty()) Detach(sid, "the page was detached (its target closed)");
  } else if (method == "Inspector.targetCrashed" && !session_id.empty()) {
    Detach(session_id, "the page crashed (its renderer process died)");
  } else if (method == "Inspector.detached" && !session_id.empty()) {
    Detach(session_id, absl::StrCat("the page was detached: ", GetString(params, "reason")));
  }

  auto q = QueueFor(session_id, /*create=*/false);
  if (!q) return;
  {
    std::lock_guard qlock(q->mu);
    if (q->subscribed.find(method) == q->subscribed.end()) return;
    if (q->events.size() >= kMaxQueued) {
      q->events.pop_front();
    }
    q->events.push_back(Event{std::move(method), std::move(params), Clock::now()});
  }
  q->cv.notify_all();
}

}  // namespace clonebot::web
