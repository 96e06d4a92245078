// Page: one tab in its own browser context, and what clonebot does with it: navigate and wait,
// screenshot, HTML, extraction, element lookup and real input events.
//
// A Page is used by one thread at a time (its session's events are consumed by that thread).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "web/cdp.h"

namespace clonebot::web {

struct Viewport {
  int width = 1280;
  int height = 720;
};

// "1280x720" -> Viewport; an error names the bad text.
absl::StatusOr<Viewport> ParseViewport(std::string_view s);

// What to wait for after a navigation (applied in order): --wait load|domcontentloaded|
// networkidle|500ms|SELECTOR.
struct WaitCondition {
  enum Kind { kLoad, kDomContentLoaded, kNetworkIdle, kDelay, kSelector } kind = kLoad;
  Ms delay{0};
  std::string selector;
};
absl::StatusOr<WaitCondition> ParseWaitCondition(std::string_view s);

struct PageOptions {
  Viewport viewport;
  // Empty: the page gets a browser context of its own, disposed with it. Else the page opens in
  // this context (shared renderers mode) and leaves it alone.
  std::string context_id;
  // Non-empty: attach a second session to this existing target instead of opening a new one
  // (Close() then only detaches). Its events are its own.
  std::string target_id;
  bool track_console = false;  // Runtime + Log domains: console errors and exceptions
  bool track_network = false;  // Network domain: the document's HTTP status
  bool lifecycle = false;      // Page.lifecycleEvent (networkidle)
};

struct NavigateResult {
  std::string url;           // the URL asked for
  int status = 0;            // HTTP status of the document (0 when not tracked or not HTTP)
  std::string status_text;
  double navigate_ms = 0;    // Page.navigate sent -> answered (the navigation committed)
  double load_ms = 0;        // Page.navigate sent -> the last wait condition met
};

struct Box {
  double x = 0, y = 0, width = 0, height = 0;  // viewport CSS pixels
  std::string used;                            // the candidate selector that matched
  bool scrolled = false;                       // the lookup scrolled the page to show it
};
// {x, y, width, height, used, scrolled} as js::kFind and js::kLocateAll return it.
Box BoxFromJson(const Json& v);

class Page {
 public:
  static absl::StatusOr<std::unique_ptr<Page>> Open(std::shared_ptr<Connection> conn,
                                                    const PageOptions& opts);
  ~Page();
  // Closes the target and disposes of its own browser context. Idempotent.
  absl::Status Close();

  Session& session() { return session_; }
  const std::string& target_id() const { return target_id_; }

  // Navigates and waits for each condition in turn (load if |waits| is empty). Fails with the
  // network error ("net::ERR_CONNECTION_REFUSED") when the document could not be fetched.
  // |on_commit|, when set, runs as soon as Page.navigate has answered (the new document exists,
  // it has not loaded): work to overlap with the load.
  absl::StatusOr<NavigateResult> Navigate(const std::string& url,
                                          const std::vector<WaitCondition>& waits,
                                          Ms timeout = Ms(30000),
                                          const std::function<void()>& on_commit = {});
  absl::Status Wait(const WaitCondition& w, Clock::time_point deadline);

  // PNG bytes of the viewport, or of the whole page at the viewport's width.
  absl::StatusOr<std::string> Screenshot(bool full_page, bool optimize_for_speed = false);
  absl::StatusOr<std::string> Html();
  // Calls the JS function expression |fn| with |args| (a JSON array) and returns its value.
  absl::StatusOr<Json> CallFunction(const char* fn, const Json& args, Ms timeout = Ms(30000));
  // The same without waiting: the answer (the Runtime.evaluate result) is in the future.
  std::future<absl::StatusOr<Json>> SendFunction(const char* fn, const Json& args);
  // js::kExtract over |selectors|: the list of items, or the page's error (a bad selector).
  absl::StatusOr<Json> Extract(const std::vector<std::string>& selectors);
  // The URL of the main frame's document now.
  absl::StatusOr<std::string> CurrentUrl();
  // Evaluates |expression| (awaiting a promise) and returns its value; a thrown exception is an
  // error carrying its description.
  absl::StatusOr<Json> Evaluate(const std::string& expression, Ms timeout = Ms(30000));

  // Waits for an element named by one of |candidates| (see js::kFind) and returns its box,
  // scrolling it into view if needed.
  absl::StatusOr<Box> FindElement(const std::vector<std::string>& candidates, Ms timeout);

  // Input events, as a user makes them. The send time of the first event is the action's time
  // and is stored in |*sent| when not null. With |acks| null each returns once the browser has
  // handled the events; else the answers are appended to |acks| for the caller to check later
  // (the browser still handles a session's commands in order), so that the next action need not
  // wait for the renderer.
  using Acks = std::vector<std::future<absl::StatusOr<Json>>>;
  absl::Status Click(double x, double y, const std::string& button, int count,
                     Clock::time_point* sent = nullptr, Acks* acks = nullptr);
  // One character of text: keyDown (with its text) and keyUp, or Input.insertText for text
  // that no single key makes.
  absl::Status TypeText(const std::string& text, Clock::time_point* sent = nullptr,
                        Acks* acks = nullptr);
  // A named key (Enter, Tab, Backspace, Delete, Escape, Arrow*, Home, End, PageUp, PageDown).
  absl::Status PressKey(const std::string& key, Clock::time_point* sent = nullptr,
                        Acks* acks = nullptr);
  absl::Status Wheel(double x, double y, double dx, double dy, Clock::time_point* sent = nullptr,
                     Acks* acks = nullptr);
  // Waits for every answer in |acks| and clears it; the first error.
  static absl::Status WaitAcks(Acks* acks, Ms timeout = Ms(30000));

  // Console errors and uncaught exceptions seen so far (track_console), one line each.
  std::vector<std::string> ConsoleErrors();

 private:
  Page(std::shared_ptr<Connection> conn, Session session) : conn_(std::move(conn)),
                                                           session_(std::move(session)) {}
  std::shared_ptr<Connection> conn_;
  Session session_;
  std::string target_id_;
  std::string context_id_;
  bool own_context_ = false;
  bool attached_only_ = false;
  bool closed_ = false;
  Viewport viewport_;
  std::vector<std::string> console_errors_;
};

// Decodes base64 in place (the output is never longer than the input); false on bad input.
bool Base64DecodeInPlace(std::string* s);

// Width and height from a PNG's IHDR chunk; false if |png| is not a PNG.
bool PngSize(std::string_view png, uint32_t* width, uint32_t* height);

}  // namespace clonebot::web
