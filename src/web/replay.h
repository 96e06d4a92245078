// Replay of a trajectory: real input events at the recorded offsets, in N concurrent sessions,
// each in its own browser context (or, with share_renderers, one context per browser).
//
// Threads: one per session (it sleeps until each step's planned time and blocks on its
// commands), one DevTools reader per browser, one memory sampler. A session's failure (a
// crashed tab, an element that never appears) ends that session only.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "web/browser.h"
#include "web/page.h"
#include "web/trajectory.h"

namespace clonebot::web {

// Runs the steps of a trajectory on one page. Timing: a step is planned at anchor + (t - a) /
// speed, where anchor is when the latest navigation finished loading in this replay and a is
// when it had loaded in the recording (load_t): a page that loads slower than it did shifts the
// steps after it instead of making them all late. Before the planned moment the runner does what
// does not change the page (finding the element, which waits for it if the page is slower than
// it was), then sleeps until that moment and sends the input. The timing error of a step is
// (send time - planned time).
//
// Lookahead: a lookup is a round trip to the renderer, and a renderer starved of CPU (many
// sessions on few cores) answers in tens or hundreds of milliseconds. So after each navigation
// the runner locates the targets of the steps ahead in one round trip (js::kLocateAll). When a
// step's planned time is too near for a fresh lookup (within max(150 ms, 4 round trips); always
// at --speed max), it uses that box and sends, pipelined before the input, a check (js::kVerifyAt) that
// the element is still at that point; a failed check fails the step (a click landed elsewhere:
// the layout changed). The check is a page call and the click is input, which the browser does
// not order: it sees the page at about the time of the click, not exactly. A lookup that scrolls
// the page, a wheel step or a navigation drops the boxes looked up ahead. Typing into an element
// that the previous click did not focus needs an awaited focus call first (puppeteer's type()
// does the same), so such a step is late when the renderer is slow.
class StepRunner {
 public:
  struct StepResult {
    double planned_ms = 0;  // offset from the start, after --speed
    double actual_ms = 0;   // when the input was sent
    double error_ms = 0;    // actual - planned (0 for steps with no input, e.g. navigated)
    bool timed = false;     // false for navigate/navigated and at --speed max
    std::string detail;     // the selector that matched, for the log
  };

  // |speed| 0 runs the steps back to back. |url_base| resolves relative URLs.
  StepRunner(Page& page, double speed, std::string url_base, Ms step_timeout)
      : page_(page), speed_(speed), url_base_(std::move(url_base)), step_timeout_(step_timeout) {}

  // Runs |steps| from |first|; the journey's time zero is |start|. Stops at the first failing
  // step (its index is in the error). |interrupted| is polled between steps.
  absl::Status Run(const std::vector<Step>& steps, size_t first, Clock::time_point start,
                   std::vector<StepResult>* results, const std::function<bool()>& interrupted);

 private:
  absl::Status RunOne(size_t index, const Step& s, Clock::time_point planned, StepResult* r);
  void SleepUntil(Clock::time_point t);
  // Locates the targets of the clicks in [from, the next navigation or wheel step) in one round
  // trip, or takes the answer of the lookahead sent when the navigation committed.
  void LookAhead(size_t from);
  std::vector<size_t> AheadSteps(size_t from) const;
  Json AheadLists(size_t from) const;
  // A fresh lookup (timed into the round-trip estimate); drops the lookahead if it scrolled.
  absl::StatusOr<Box> Lookup(const std::vector<std::string>& candidates);
  // Whether there is no time for a fresh lookup before |planned|.
  bool Hurried(Clock::time_point planned) const;
  // Waits for the input answers and pipelined checks; the first failure.
  absl::Status CheckPending();
  // The same for those already answered, without waiting.
  absl::Status ReapReady();

  Page& page_;
  double speed_;
  std::string url_base_;
  Ms step_timeout_;
  std::vector<std::string> focused_;  // candidates of the element typed into last
  Page::Acks acks_;                   // answers to input not yet checked
  struct Check {
    std::future<absl::StatusOr<Json>> answer;  // a Runtime.evaluate result: value must be true
    std::string what;                          // the error if it is not
  };
  std::vector<Check> checks_;
  std::map<size_t, Box> ahead_;       // step index -> box located ahead
  std::optional<std::future<absl::StatusOr<Json>>> early_ahead_;  // sent at commit
  const std::vector<Step>* steps_ = nullptr;  // the journey Run() is running
  double rtt_ms_ = 5;                 // moving average of lookup round trips
  Clock::time_point anchor_{};        // when the latest navigation had loaded here
  double anchor_t_ = 0;               // ... and in the recording (ms)
};

struct ReplayOptions {
  std::string journey;       // path of the trajectory
  std::string url_base;      // resolves relative URLs in the trajectory
  std::string out_dir;
  int sessions = 1;
  int browsers = 1;
  double speed = 1.0;        // 0: as fast as possible
  std::vector<std::string> extract;  // empty: the selectors of the recording's final state
  bool screenshot = true;
  Ms step_timeout = Ms(10000);
  BrowserOptions browser;    // browser.share_renderers selects the shared-renderers mode
  Ms sample_period = Ms(200);  // memory sampling (longer if a sample costs over 10% of a core)
  bool progress = true;      // one line per finished session on stderr
};

// Runs the replay and writes out_dir/session-NNNN/{screenshot.png,extract.json,result.json} and
// out_dir/summary.json (docs/formats/web.md). Returns the summary; an error only when nothing
// could run (bad trajectory, no browser).
absl::StatusOr<Json> Replay(const ReplayOptions& opts);

// The summary as the table `clonebot web replay` prints.
std::string FormatSummary(const Json& summary);

// Compares a session's extraction with the recording's final state: "" when they agree on
// every element's text, value and checked, else the first difference.
std::string CompareFinalState(const Json& expected, const Json& actual);

}  // namespace clonebot::web
