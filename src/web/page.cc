#include "web/page.h"

#include <string.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status.h"
#include "web/js.h"

namespace clonebot::web {

namespace {

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Waits for every future and returns the first error.
absl::Status WaitAll(std::vector<std::future<absl::StatusOr<Json>>>& futs, Ms timeout,
                     std::string_view what) {
  auto deadline = Clock::now() + timeout;
  absl::Status first = absl::OkStatus();
  for (auto& f : futs) {
    if (f.wait_until(deadline) != std::future_status::ready) {
      return absl::DeadlineExceededError(absl::StrCat(std::string(what), ": no answer from the browser"));
    }
    auto r = f.get();
    if (!r.ok() && first.ok()) first = r.status();
  }
  return first;
}

struct KeyInfo {
  const char* key;
  const char* code;
  int vk;
  const char* text;  // nullptr: the key makes no text
};
constexpr KeyInfo kKeys[] = {
    {"Enter", "Enter", 13, "\r"},       {"Tab", "Tab", 9, nullptr},
    {"Backspace", "Backspace", 8, nullptr}, {"Delete", "Delete", 46, nullptr},
    {"Escape", "Escape", 27, nullptr},  {"ArrowLeft", "ArrowLeft", 37, nullptr},
    {"ArrowUp", "ArrowUp", 38, nullptr}, {"ArrowRight", "ArrowRight", 39, nullptr},
    {"ArrowDown", "ArrowDown", 40, nullptr}, {"Home", "Home", 36, nullptr},
    {"End", "End", 35, nullptr},        {"PageUp", "PageUp", 33, nullptr},
    {"PageDown", "PageDown", 34, nullptr},
};

std::string JsCall(const char* fn, const Json& args) {
  std::string s = absl::StrCat("(", fn, ")(");
  bool first = true;
  for (const auto& a : args) {
    if (!first) s += ",";
    first = false;
    s += a.dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  s += ")";
  return s;
}

}  // namespace

absl::StatusOr<Viewport> ParseViewport(std::string_view sv) {
  std::string s(sv);
  size_t x = s.find('x');
  Viewport v;
  if (x == std::string::npos || !absl::SimpleAtoi(s.substr(0, x), &v.width) ||
      !absl::SimpleAtoi(s.substr(x + 1), &v.height) || v.width < 16 || v.height < 16 ||
      v.width > 16384 || v.height > 16384) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad viewport '", s, "': want WIDTHxHEIGHT, each 16..16384, e.g. 1280x720"));
  }
  return v;
}

absl::StatusOr<WaitCondition> ParseWaitCondition(std::string_view sv) {
  std::string s(sv);
  WaitCondition w;
  if (s == "load") return w;
  if (s == "domcontentloaded") {
    w.kind = WaitCondition::kDomContentLoaded;
    return w;
  }
  if (s == "networkidle") {
    w.kind = WaitCondition::kNetworkIdle;
    return w;
  }
  if (s.size() > 2 && s.substr(s.size() - 2) == "ms") {
    int64_t ms;
    if (absl::SimpleAtoi(s.substr(0, s.size() - 2), &ms)) {
      if (ms < 0 || ms > 600000) {
        return absl::InvalidArgumentError(absl::StrCat("bad wait '", s, "': 0..600000ms"));
      }
      w.kind = WaitCondition::kDelay;
      w.delay = Ms(ms);
      return w;
    }
  }
  if (s.empty()) return absl::InvalidArgumentError("empty --wait");
  w.kind = WaitCondition::kSelector;
  w.selector = std::string(s);
  return w;
}

absl::StatusOr<std::unique_ptr<Page>> Page::Open(std::shared_ptr<Connection> conn,
                                                 const PageOptions& opts) {
  Session browser = conn->Browser();
  std::string ctx = opts.context_id;
  bool own = false;
  if (ctx.empty() && opts.target_id.empty()) {
    ASSIGN_OR_RETURN(Json c, browser.Call("Target.createBrowserContext"));
    ctx = GetString(c, "browserContextId");
    own = true;
  }
  auto dispose = [&] {
    if (own) (void)browser.Call("Target.disposeBrowserContext", {{"browserContextId", ctx}});
  };
  std::string target = opts.target_id;
  if (target.empty()) {
    auto t = browser.Call("Target.createTarget",
                          {{"url", "about:blank"}, {"browserContextId", ctx}});
    if (!t.ok()) {
      dispose();
      return t.status();
    }
    target = GetString(*t, "targetId");
  }
  auto a = browser.Call("Target.attachToTarget", {{"targetId", target}, {"flatten", true}});
  if (!a.ok()) {
    if (opts.target_id.empty()) (void)browser.Call("Target.closeTarget", {{"targetId", target}});
    dispose();
    return a.status();
  }
  std::unique_ptr<Page> p(new Page(conn, conn->OpenSession(GetString(*a, "sessionId"))));
  p->target_id_ = target;
  p->context_id_ = ctx;
  p->own_context_ = own;
  p->attached_only_ = !opts.target_id.empty();
  p->viewport_ = opts.viewport;
  Session& s = p->session_;
  for (const char* m : {"Page.loadEventFired", "Page.domContentEventFired", "Page.frameNavigated",
                        "Page.lifecycleEvent", "Page.javascriptDialogOpening"}) {
    s.Subscribe(m);
  }
  std::vector<std::future<absl::StatusOr<Json>>> futs;
  futs.push_back(s.Send("Page.enable"));
  futs.push_back(s.Send("Emulation.setDeviceMetricsOverride",
                        {{"width", opts.viewport.width},
                         {"height", opts.viewport.height},
                         {"deviceScaleFactor", 1},
                         {"mobile", false}}));
  if (opts.track_console) {
    for (const char* m : {"Runtime.consoleAPICalled", "Runtime.exceptionThrown", "Log.entryAdded"}) {
      s.Subscribe(m);
    }
    futs.push_back(s.Send("Runtime.enable"));
    futs.push_back(s.Send("Log.enable"));
  }
  if (opts.track_network) {
    s.Subscribe("Network.responseReceived");
    futs.push_back(s.Send("Network.enable", {{"maxTotalBufferSize", 0},
                                             {"maxResourceBufferSize", 0}}));
  }
  if (opts.lifecycle) futs.push_back(s.Send("Page.setLifecycleEventsEnabled", {{"enabled", true}}));
  if (absl::Status st = WaitAll(futs, Ms(30000), "opening a page"); !st.ok()) {
    (void)p->Close();
    return st;
  }
  return p;
}

Page::~Page() { (void)Close(); }

absl::Status Page::Close() {
  if (closed_) return absl::OkStatus();
  closed_ = true;
  Session browser = conn_->Browser();
  absl::Status st = absl::OkStatus();
  if (conn_->alive()) {
    // Disposing of the context closes its targets; close the target only when the context is
    // shared.
    if (attached_only_) {
      auto r = browser.Call("Target.detachFromTarget", {{"sessionId", session_.id()}}, Ms(10000));
      if (!r.ok()) st = r.status();
    } else if (own_context_) {
      auto r = browser.Call("Target.disposeBrowserContext", {{"browserContextId", context_id_}},
                            Ms(10000));
      if (!r.ok()) st = r.status();
    } else {
      auto r = browser.Call("Target.closeTarget", {{"targetId", target_id_}}, Ms(10000));
      if (!r.ok()) st = r.status();
    }
  }
  conn_->CloseSession(session_.id());
  return st;
}

absl::StatusOr<NavigateResult> Page::Navigate(const std::string& url,
                                              const std::vector<WaitCondition>& waits,
                                              Ms timeout, const std::function<void()>& on_commit) {
  NavigateResult res;
  res.url = url;
  auto deadline = Clock::now() + timeout;
  // Events of the previous document must not satisfy this navigation's waits.
  session_.Drain("Page.loadEventFired");
  session_.Drain("Page.domContentEventFired");
  session_.Drain("Page.lifecycleEvent");
  session_.Drain("Network.responseReceived");
  auto t0 = Clock::now();
  auto navr = session_.Call("Page.navigate", {{"url", url}}, timeout);
  if (!navr.ok() && absl::IsDeadlineExceeded(navr.status())) {
    // Page.navigate answers once the server has answered and the document commits.
    return absl::DeadlineExceededError(absl::StrCat(
        "loading ", url, ": no response within ", timeout.count(), " ms (the timeout)"));
  }
  if (!navr.ok()) return navr.status();
  Json nav = std::move(*navr);
  res.navigate_ms = MsSince(t0);
  std::string error = GetString(nav, "errorText");
  if (!error.empty()) {
    return absl::UnavailableError(absl::StrCat("cannot load ", url, ": ", error));
  }
  std::string loader = GetString(nav, "loaderId");
  if (on_commit) on_commit();
  std::vector<WaitCondition> todo = waits;
  if (todo.empty()) todo.push_back(WaitCondition{});
  for (const auto& w : todo) {
    if (w.kind == WaitCondition::kNetworkIdle) {
      auto e = session_.WaitFor(
          [&](const Event& ev) {
            return ev.method == "Page.lifecycleEvent" &&
                   GetString(ev.params, "name") == "networkIdle" &&
                   (loader.empty() || GetString(ev.params, "loaderId") == loader);
          },
          deadline);
      if (!e.ok()) {
        return absl::Status(e.status().code(),
                            absl::StrCat("waiting for networkidle on ", url, ": ",
                                         e.status().message()));
      }
      continue;
    }
    RETURN_IF_ERROR(Wait(w, deadline));
  }
  res.load_ms = MsSince(t0);
  // The document's response: it arrives before the load event, so it is queued by now.
  for (auto& ev : session_.Drain("Network.responseReceived")) {
    if (GetString(ev.params, "type") != "Document") continue;
    if (!loader.empty() && GetString(ev.params, "loaderId") != loader) continue;
    if (const Json* r = Find(ev.params, "response")) {
      res.status = static_cast<int>(GetNumber(*r, "status"));
      res.status_text = GetString(*r, "statusText");
    }
  }
  return res;
}

absl::Status Page::Wait(const WaitCondition& w, Clock::time_point deadline) {
  switch (w.kind) {
    case WaitCondition::kLoad:
    case WaitCondition::kDomContentLoaded: {
      const char* m = w.kind == WaitCondition::kLoad ? "Page.loadEventFired"
                                                     : "Page.domContentEventFired";
      auto e = session_.WaitFor(m, deadline);
      if (!e.ok()) return e.status();
      return absl::OkStatus();
    }
    case WaitCondition::kNetworkIdle: {
      auto e = session_.WaitFor(
          [](const Event& ev) {
            return ev.method == "Page.lifecycleEvent" &&
                   GetString(ev.params, "name") == "networkIdle";
          },
          deadline);
      return e.ok() ? absl::OkStatus() : e.status();
    }
    case WaitCondition::kDelay:
      std::this_thread::sleep_for(w.delay);
      return absl::OkStatus();
    case WaitCondition::kSelector: {
      auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now());
      if (left.count() < 0) left = Ms(0);
      ASSIGN_OR_RETURN(Json v, Evaluate(JsCall(js::kWaitSelector, Json::array({w.selector,
                                                                                left.count()})),
                                        left + Ms(5000)));
      if (!v.is_boolean() || !v.get<bool>()) {
        return absl::DeadlineExceededError(
            absl::StrCat("no element matches '", w.selector, "' in time"));
      }
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Json> Page::Evaluate(const std::string& expression, Ms timeout) {
  ASSIGN_OR_RETURN(Json r, session_.Call("Runtime.evaluate",
                                         {{"expression", expression},
                                          {"returnByValue", true},
                                          {"awaitPromise", true}},
                                         timeout));
  if (const Json* ex = Find(r, "exceptionDetails")) {
    std::string what = GetString(*ex, "text", "exception");
    if (const Json* e = Find(*ex, "exception")) {
      std::string d = GetString(*e, "description");
      if (!d.empty()) what = d.substr(0, d.find('\n'));
    }
    return absl::InvalidArgumentError(what);
  }
  const Json* result = Find(r, "result");
  if (result == nullptr) return Json();
  if (auto it = result->find("value"); it != result->end()) return std::move(*it);
  return Json();
}

absl::StatusOr<std::string> Page::Screenshot(bool full_page, bool optimize_for_speed) {
  Json params = {{"format", "png"}};
  if (optimize_for_speed) params["optimizeForSpeed"] = true;
  if (full_page) {
    ASSIGN_OR_RETURN(Json m, session_.Call("Page.getLayoutMetrics"));
    double h = viewport_.height;
    if (const Json* cs = Find(m, "cssContentSize")) h = std::max(h, GetNumber(*cs, "height", h));
    params["captureBeyondViewport"] = true;
    params["clip"] = {{"x", 0}, {"y", 0}, {"width", viewport_.width}, {"height", h}, {"scale", 1}};
  }
  ASSIGN_OR_RETURN(Json r, session_.Call("Page.captureScreenshot", std::move(params), Ms(60000)));
  auto it = r.find("data");
  if (it == r.end() || !it->is_string()) {
    return absl::InternalError("Page.captureScreenshot: no data in the answer");
  }
  std::string png = std::move(it->get_ref<std::string&>());
  if (!Base64DecodeInPlace(&png)) return absl::InternalError("screenshot: bad base64");
  return png;
}

absl::StatusOr<std::string> Page::Html() {
  ASSIGN_OR_RETURN(Json v, Evaluate("(document.doctype ? new XMLSerializer().serializeToString("
                                    "document.doctype) + '\\n' : '') + "
                                    "document.documentElement.outerHTML"));
  if (!v.is_string()) return absl::InternalError("page HTML: not a string");
  return std::move(v.get_ref<std::string&>());
}

absl::StatusOr<Json> Page::Extract(const std::vector<std::string>& selectors) {
  ASSIGN_OR_RETURN(Json v, Evaluate(JsCall(js::kExtract, Json::array({selectors}))));
  if (const Json* e = Find(v, "error")) {
    return absl::InvalidArgumentError(e->is_string() ? e->get<std::string>() : "extract failed");
  }
  const Json* items = Find(v, "items");
  if (items == nullptr || !items->is_array()) return absl::InternalError("extract: no items");
  return std::move(v["items"]);
}

absl::StatusOr<Json> Page::CallFunction(const char* fn, const Json& args, Ms timeout) {
  return Evaluate(JsCall(fn, args), timeout);
}

std::future<absl::StatusOr<Json>> Page::SendFunction(const char* fn, const Json& args) {
  return session_.Send("Runtime.evaluate", {{"expression", JsCall(fn, args)},
                                            {"returnByValue", true},
                                            {"awaitPromise", true}});
}

absl::StatusOr<std::string> Page::CurrentUrl() {
  ASSIGN_OR_RETURN(Json v, Evaluate("location.href"));
  return v.is_string() ? v.get<std::string>() : std::string();
}

absl::StatusOr<Box> Page::FindElement(const std::vector<std::string>& candidates, Ms timeout) {
  if (candidates.empty()) return absl::InvalidArgumentError("no selector to find");
  ASSIGN_OR_RETURN(Json v, Evaluate(JsCall(js::kFind, Json::array({candidates, timeout.count()})),
                                    timeout + Ms(5000)));
  if (const Json* e = Find(v, "error")) {
    return absl::NotFoundError(e->is_string() ? e->get<std::string>() : "not found");
  }
  return BoxFromJson(v);
}

Box BoxFromJson(const Json& v) {
  Box b;
  b.x = GetNumber(v, "x");
  b.y = GetNumber(v, "y");
  b.width = GetNumber(v, "width");
  b.height = GetNumber(v, "height");
  b.used = GetString(v, "used");
  const Json* sc = web::Find(v, "scrolled");
  b.scrolled = sc != nullptr && sc->is_boolean() && sc->get<bool>();
  return b;
}

absl::Status Page::WaitAcks(Acks* acks, Ms timeout) {
  absl::Status st = WaitAll(*acks, timeout, "input");
  acks->clear();
  return st;
}

// Hands |futs| to |acks| when given, else waits for them.
static absl::Status Deliver(Page::Acks& futs, Page::Acks* acks, std::string_view what) {
  if (acks == nullptr) return WaitAll(futs, Ms(30000), what);
  for (auto& f : futs) acks->push_back(std::move(f));
  return absl::OkStatus();
}

absl::Status Page::Click(double x, double y, const std::string& button, int count,
                         Clock::time_point* sent, Acks* acks) {
  std::vector<std::future<absl::StatusOr<Json>>> futs;
  futs.push_back(session_.Send("Input.dispatchMouseEvent",
                               {{"type", "mouseMoved"}, {"x", x}, {"y", y}}));
  if (sent) *sent = Clock::now();
  int buttons = button == "right" ? 2 : button == "middle" ? 4 : 1;
  for (int i = 1; i <= std::max(count, 1); ++i) {
    futs.push_back(session_.Send("Input.dispatchMouseEvent", {{"type", "mousePressed"},
                                                              {"x", x},
                                                              {"y", y},
                                                              {"button", button},
                                                              {"buttons", buttons},
                                                              {"clickCount", i}}));
    futs.push_back(session_.Send("Input.dispatchMouseEvent", {{"type", "mouseReleased"},
                                                              {"x", x},
                                                              {"y", y},
                                                              {"button", button},
                                                              {"buttons", 0},
                                                              {"clickCount", i}}));
  }
  return Deliver(futs, acks, "click");
}

absl::Status Page::TypeText(const std::string& text, Clock::time_point* sent, Acks* acks) {
  std::vector<std::future<absl::StatusOr<Json>>> futs;
  bool one_ascii = text.size() == 1 && text[0] >= 0x20 && text[0] < 0x7f;
  if (sent) *sent = Clock::now();
  if (!one_ascii) {
    futs.push_back(session_.Send("Input.insertText", {{"text", text}}));
    return Deliver(futs, acks, "typing");
  }
  char c = text[0];
  int vk = 0;
  std::string code;
  if (isalpha(static_cast<unsigned char>(c))) {
    vk = toupper(static_cast<unsigned char>(c));
    code = absl::StrCat("Key", std::string(1, static_cast<char>(vk)));
  } else if (isdigit(static_cast<unsigned char>(c))) {
    vk = c;
    code = absl::StrCat("Digit", std::string(1, c));
  } else if (c == ' ') {
    vk = 32;
    code = "Space";
  }
  Json down = {{"type", "keyDown"}, {"key", text}, {"text", text}, {"unmodifiedText", text}};
  Json up = {{"type", "keyUp"}, {"key", text}};
  if (vk != 0) {
    down["windowsVirtualKeyCode"] = vk;
    up["windowsVirtualKeyCode"] = vk;
    down["code"] = code;
    up["code"] = code;
  }
  futs.push_back(session_.Send("Input.dispatchKeyEvent", std::move(down)));
  futs.push_back(session_.Send("Input.dispatchKeyEvent", std::move(up)));
  return Deliver(futs, acks, "typing");
}

absl::Status Page::PressKey(const std::string& key, Clock::time_point* sent, Acks* acks) {
  const KeyInfo* k = nullptr;
  for (const auto& ki : kKeys) {
    if (key == ki.key) k = &ki;
  }
  if (k == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown key '", key, "'"));
  Json down = {{"type", k->text ? "keyDown" : "rawKeyDown"},
               {"key", k->key},
               {"code", k->code},
               {"windowsVirtualKeyCode", k->vk}};
  if (k->text) {
    down["text"] = k->text;
    down["unmodifiedText"] = k->text;
  }
  Json up = {{"type", "keyUp"}, {"key", k->key}, {"code", k->code},
             {"windowsVirtualKeyCode", k->vk}};
  std::vector<std::future<absl::StatusOr<Json>>> futs;
  if (sent) *sent = Clock::now();
  futs.push_back(session_.Send("Input.dispatchKeyEvent", std::move(down)));
  futs.push_back(session_.Send("Input.dispatchKeyEvent", std::move(up)));
  return Deliver(futs, acks, "key press");
}

absl::Status Page::Wheel(double x, double y, double dx, double dy, Clock::time_point* sent,
                         Acks* acks) {
  if (sent) *sent = Clock::now();
  Acks futs;
  futs.push_back(session_.Send("Input.dispatchMouseEvent", {{"type", "mouseWheel"},
                                                            {"x", x},
                                                            {"y", y},
                                                            {"deltaX", dx},
                                                            {"deltaY", dy}}));
  return Deliver(futs, acks, "wheel");
}

std::vector<std::string> Page::ConsoleErrors() {
  std::deque<Event> events;
  for (const char* m : {"Runtime.consoleAPICalled", "Runtime.exceptionThrown", "Log.entryAdded"}) {
    for (auto& e : session_.Drain(m)) events.push_back(std::move(e));
  }
  std::stable_sort(events.begin(), events.end(),
                   [](const Event& a, const Event& b) { return a.received < b.received; });
  for (auto& ev : events) {
    if (ev.method == "Runtime.consoleAPICalled") {
      if (GetString(ev.params, "type") != "error") continue;
      std::vector<std::string> parts;
      if (const Json* args = Find(ev.params, "args"); args && args->is_array()) {
        for (const auto& a : *args) {
          if (const Json* v = Find(a, "value"); v && v->is_string()) {
            parts.push_back(v->get<std::string>());
          } else if (v) {
            parts.push_back(v->dump());
          } else {
            parts.push_back(GetString(a, "description", GetString(a, "type")));
          }
        }
      }
      console_errors_.push_back(absl::StrCat("console.error: ", absl::StrJoin(parts, " ")));
    } else if (ev.method == "Runtime.exceptionThrown") {
      const Json* d = Find(ev.params, "exceptionDetails");
      std::string what = d ? GetString(*d, "text", "exception") : "exception";
      if (d) {
        if (const Json* e = Find(*d, "exception")) {
          std::string desc = GetString(*e, "description");
          if (!desc.empty()) what = desc.substr(0, desc.find('\n'));
        }
      }
      console_errors_.push_back(absl::StrCat("uncaught: ", what));
    } else if (ev.method == "Log.entryAdded") {
      const Json* e = Find(ev.params, "entry");
      if (e == nullptr || GetString(*e, "level") != "error") continue;
      std::string url = GetString(*e, "url");
      console_errors_.push_back(absl::StrCat(GetString(*e, "source", "log"), ": ",
                                             GetString(*e, "text"),
                                             url.empty() ? "" : absl::StrCat(" (", url, ")")));
    }
  }
  return console_errors_;
}

bool Base64DecodeInPlace(std::string* s) {
  static const auto table = [] {
    std::array<int8_t, 256> t;
    t.fill(-1);
    const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(a[i])] = static_cast<int8_t>(i);
    return t;
  }();
  char* d = s->data();
  size_t out = 0;
  uint32_t acc = 0;
  int bits = 0;
  size_t n = s->size();
  size_t i = 0;
  for (; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(d[i]);
    if (c == '=') break;
    if (c == '\n' || c == '\r') continue;
    int v = table[c];
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      d[out++] = static_cast<char>((acc >> bits) & 0xff);  // out < i: writing behind the reader
    }
  }
  for (; i < n; ++i) {
    if (d[i] != '=') return false;
  }
  s->resize(out);
  return true;
}

bool PngSize(std::string_view png, uint32_t* width, uint32_t* height) {
  static const unsigned char kSig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (png.size() < 24 || memcmp(png.data(), kSig, 8) != 0 || png.substr(12, 4) != "IHDR") {
    return false;
  }
  auto be32 = [&](size_t o) {
    const auto* p = reinterpret_cast<const unsigned char*>(png.data() + o);
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
  };
  *width = be32(16);
  *height = be32(20);
  return true;
}

}  // namespace clonebot::web
