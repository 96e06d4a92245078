#include "web/replay.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/file.h"
#include "base/status.h"
#include "web/js.h"

namespace clonebot::web {

namespace fs = std::filesystem;

namespace {

double MsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::string StripFragment(const std::string& url) { return url.substr(0, url.find('#')); }

// Nearest-rank percentile of |v| (sorted in place); 0 for an empty list.
double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  if (rank < 1) rank = 1;
  return v[std::min(rank, v.size()) - 1];
}

Json Stats(std::vector<double> v) {
  double max = v.empty() ? 0 : *std::max_element(v.begin(), v.end());
  auto r3 = [](double x) { return std::round(x * 1000) / 1000; };
  return {{"p50", r3(Percentile(v, 50))}, {"p99", r3(Percentile(v, 99))}, {"max", r3(max)},
          {"count", v.size()}};
}

}  // namespace

// --- StepRunner ------------------------------------------------------------------------------

void StepRunner::SleepUntil(Clock::time_point t) {
  // steady_clock is CLOCK_MONOTONIC: an absolute sleep does not drift with wake-up latency.
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

absl::Status StepRunner::Run(const std::vector<Step>& steps, size_t first,
                             Clock::time_point start, std::vector<StepResult>* results,
                             const std::function<bool()>& interrupted) {
  steps_ = &steps;
  anchor_ = start;
  // Starting after a navigation (record --drive skips the first navigate, already done): time
  // zero is when that navigation had loaded.
  anchor_t_ = 0;
  if (first > 0 && first <= steps.size()) {
    const Step& prev = steps[first - 1];
    anchor_t_ = prev.load_t >= 0 ? prev.load_t : prev.t;
    LookAhead(first);
  }
  for (size_t i = first; i < steps.size(); ++i) {
    if (interrupted && interrupted()) return absl::CancelledError("interrupted");
    const Step& s = steps[i];
    Clock::time_point planned =
        speed_ > 0 ? anchor_ + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double, std::milli>(
                                       std::max(0.0, s.t - anchor_t_) / speed_))
                   : Clock::now();
    StepResult r;
    r.planned_ms = MsBetween(start, planned);
    absl::Status st = RunOne(i, s, planned, &r);
    if (!st.ok()) {
      return absl::Status(st.code(), absl::StrCat("step ", i, " (", StepKindName(s.kind),
                                                  s.selectors.empty() ? "" : " ",
                                                  s.selectors.empty() ? "" : s.selectors[0],
                                                  "): ", st.message()));
    }
    // Input answers and checks are collected in batches: a failed one (a detached page, an
    // element that moved) ends the run here at the latest.
    if (absl::Status c = ReapReady(); !c.ok()) {
      return absl::Status(c.code(), absl::StrCat("step ", i, " or one before it: ", c.message()));
    }
    r.actual_ms = r.timed ? r.planned_ms + r.error_ms : MsBetween(start, Clock::now());
    results->push_back(std::move(r));
    if (i + 1 == steps.size()) {
      if (absl::Status c = CheckPending(); !c.ok()) {
        return absl::Status(c.code(), absl::StrCat("step ", i, " or one before it: ", c.message()));
      }
    }
    if (s.kind == Step::kNavigate || s.kind == Step::kNavigated) {
      anchor_ = Clock::now();
      anchor_t_ = s.load_t >= 0 ? s.load_t : s.t;
      LookAhead(i + 1);
    }
  }
  return absl::OkStatus();
}

// Runtime.evaluate's errors when the document it ran in was replaced under it.
static bool IsNavigationRace(const absl::Status& st) {
  std::string_view m(st.message().data(), st.message().size());
  return m.find("Inspected target navigated or closed") != std::string_view::npos ||
         m.find("Execution context was destroyed") != std::string_view::npos ||
         m.find("Cannot find context with specified id") != std::string_view::npos;
}

bool StepRunner::Hurried(Clock::time_point planned) const {
  // At --speed max every step is due now: a lookup round trip per click would be the
  // critical path, so the boxes located ahead are used (with their checks).
  if (speed_ <= 0) return true;
  double left = MsBetween(Clock::now(), planned);
  // A round trip's time varies several-fold under load (5 ms idle, 100+ ms with ten sessions
  // loading on two cores): keep a wide margin.
  return left < std::max(150.0, 4 * rtt_ms_ + 10);
}

absl::StatusOr<Box> StepRunner::Lookup(const std::vector<std::string>& candidates) {
  auto t0 = Clock::now();
  auto b = page_.FindElement(candidates, step_timeout_);
  // The previous action navigated (a link, a form) and the journey has no "navigated" step for
  // it: the lookup ran in the document that went away. Wait for the new one, then look again.
  for (int retry = 0; retry < 3 && !b.ok() && IsNavigationRace(b.status()); ++retry) {
    auto load = page_.session().WaitFor("Page.loadEventFired", Clock::now() + step_timeout_);
    if (!load.ok() && !absl::IsDeadlineExceeded(load.status())) return load.status();
    ahead_.clear();
    b = page_.FindElement(candidates, step_timeout_);
  }
  double ms = MsBetween(t0, Clock::now());
  // Only quick answers say something about the round trip (a slow one waited for the element).
  if (b.ok() && ms < 1000) rtt_ms_ = 0.7 * rtt_ms_ + 0.3 * ms;
  if (b.ok() && b->scrolled) ahead_.clear();
  return b;
}

std::vector<size_t> StepRunner::AheadSteps(size_t from) const {
  std::vector<size_t> index;
  for (size_t i = from; i < steps_->size(); ++i) {
    const Step& s = (*steps_)[i];
    if (s.kind == Step::kNavigate || s.kind == Step::kNavigated || s.kind == Step::kScroll) break;
    if (s.kind == Step::kClick && !s.selectors.empty()) index.push_back(i);
  }
  return index;
}

Json StepRunner::AheadLists(size_t from) const {
  Json lists = Json::array();
  for (size_t i : AheadSteps(from)) lists.push_back((*steps_)[i].selectors);
  return lists;
}

void StepRunner::LookAhead(size_t from) {
  ahead_.clear();
  std::vector<size_t> index = AheadSteps(from);
  if (index.empty()) {
    early_ahead_.reset();
    return;
  }
  absl::StatusOr<Json> r = absl::UnavailableError("no early lookahead");
  if (early_ahead_) {
    // Sent at commit; its answer is a Runtime.evaluate result.
    auto e = early_ahead_->get();
    early_ahead_.reset();
    if (e.ok()) {
      const Json* res = Find(*e, "result");
      const Json* val = res ? Find(*res, "value") : nullptr;
      if (val && val->is_array()) r = *val;
    }
  }
  bool any = false;
  if (r.ok() && r->is_array()) {
    for (const auto& v : *r) any |= v.is_object();
  }
  if (!any) {
    // It ran in the document that was being replaced, or nothing was there yet: ask again.
    auto t0 = Clock::now();
    r = page_.CallFunction(js::kLocateAll, Json::array({AheadLists(from)}), step_timeout_);
    double ms = MsBetween(t0, Clock::now());
    if (ms < 1000) rtt_ms_ = 0.7 * rtt_ms_ + 0.3 * ms;
  }
  if (!r.ok() || !r->is_array() || r->size() != index.size()) return;
  for (size_t k = 0; k < index.size(); ++k) {
    const Json& v = (*r)[k];
    if (!v.is_object()) continue;
    ahead_[index[k]] = BoxFromJson(v);
  }
}

// The value of a Runtime.evaluate answer must be true, else |what| is the error.
static absl::Status CheckAnswer(absl::StatusOr<Json> v, const std::string& what) {
  if (!v.ok() && IsNavigationRace(v.status())) {
    return absl::FailedPreconditionError(
        "the page navigated under a step that was looked up ahead (a journey needs a "
        "\"navigated\" step after an action that navigates)");
  }
  if (!v.ok()) return v.status();
  const Json* res = Find(*v, "result");
  const Json* val = res ? Find(*res, "value") : nullptr;
  if (val == nullptr || !val->is_boolean() || !val->get<bool>()) return absl::AbortedError(what);
  return absl::OkStatus();
}

absl::Status StepRunner::ReapReady() {
  auto ready = [](auto& f) { return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready; };
  for (auto it = acks_.begin(); it != acks_.end();) {
    if (!ready(*it)) {
      ++it;
      continue;
    }
    auto r = it->get();
    it = acks_.erase(it);
    if (!r.ok()) return r.status();
  }
  for (auto it = checks_.begin(); it != checks_.end();) {
    if (!ready(it->answer)) {
      ++it;
      continue;
    }
    absl::Status st = CheckAnswer(it->answer.get(), it->what);
    it = checks_.erase(it);
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::Status StepRunner::CheckPending() {
  absl::Status first = Page::WaitAcks(&acks_);
  for (auto& c : checks_) {
    absl::Status st = CheckAnswer(c.answer.get(), c.what);
    if (first.ok()) first = st;
  }
  checks_.clear();
  return first;
}

absl::Status StepRunner::RunOne(size_t index, const Step& s, Clock::time_point planned,
                                StepResult* r) {
  Session& session = page_.session();
  Clock::time_point sent{};
  auto fire = [&]() {
    // Events of earlier navigations must not satisfy a later "navigated" step.
    session.Drain("Page.frameNavigated");
    session.Drain("Page.loadEventFired");
    if (speed_ > 0) SleepUntil(planned);
  };
  auto timed = [&] {
    r->timed = speed_ > 0;
    r->error_ms = speed_ > 0 ? MsBetween(planned, sent) : 0;
  };
  // The box of this step's element: looked up now if there is time, else the one located ahead
  // (with a pipelined check at send time). |verify| says whether to send the check.
  auto locate = [&](Box* box, bool* verify) -> absl::Status {
    auto it = ahead_.find(index);
    *verify = false;
    if (it != ahead_.end() && Hurried(planned)) {
      *box = it->second;
      *verify = true;
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(*box, Lookup(s.selectors));
    return absl::OkStatus();
  };
  switch (s.kind) {
    case Step::kNavigate: {
      if (speed_ > 0) SleepUntil(planned);
      RETURN_IF_ERROR(CheckPending());
      // The lookahead is sent as soon as the navigation commits and answers at the load event
      // (js::kLocateAll awaits it in the page): no round trip between load and the first step.
      early_ahead_.reset();
      auto nav = page_.Navigate(ResolveUrl(s.url, url_base_), {}, step_timeout_ * 3, [&] {
        early_ahead_ = page_.SendFunction(js::kLocateAll, Json::array({AheadLists(index + 1)}));
      });
      if (!nav.ok()) return nav.status();
      r->detail = s.url;
      return absl::OkStatus();
    }
    case Step::kNavigated: {
      RETURN_IF_ERROR(CheckPending());
      std::string want = StripFragment(ResolveUrl(s.url, url_base_));
      auto deadline = Clock::now() + step_timeout_;
      auto nav = session.WaitFor(
          [&](const Event& e) {
            if (e.method != "Page.frameNavigated") return false;
            const Json* f = Find(e.params, "frame");
            return f && Find(*f, "parentId") == nullptr &&
                   StripFragment(GetString(*f, "url")) == want;
          },
          deadline);
      if (!nav.ok()) {
        return absl::Status(nav.status().code(),
                            absl::StrCat("the page did not navigate to ", want, ": ",
                                         nav.status().message()));
      }
      auto load = session.WaitFor("Page.loadEventFired", deadline);
      if (!load.ok()) return load.status();
      r->detail = s.url;
      return absl::OkStatus();
    }
    case Step::kClick: {
      Box b;
      bool verify;
      RETURN_IF_ERROR(locate(&b, &verify));
      r->detail = b.used;
      double x = b.x + b.width * s.x, y = b.y + b.height * s.y;
      fire();
      if (verify) {
        checks_.push_back(Check{page_.SendFunction(js::kVerifyAt, Json::array({s.selectors, x, y})),
                                absl::StrCat("the element ", b.used,
                                             " was no longer at the point clicked (the layout "
                                             "changed after it was located)")});
      }
      RETURN_IF_ERROR(page_.Click(x, y, s.button, s.count, &sent, &acks_));
      timed();
      // A click focuses what it clicks (when that can take the focus): typing into the same
      // element next needs no focus call.
      focused_ = s.selectors;
      return absl::OkStatus();
    }
    case Step::kType:
    case Step::kKey: {
      if (!s.selectors.empty() && s.selectors != focused_) {
        // Focus is a page call and keys are input: the browser does not order the two, so the
        // focus is awaited, after the earlier input has been handled (a click on another element
        // would take the focus back). A click on the same element gave it the focus already.
        if (absl::Status c = CheckPending(); !c.ok()) return c;
        ASSIGN_OR_RETURN(Box b, Lookup(s.selectors));
        r->detail = b.used;
        ASSIGN_OR_RETURN(Json ok, page_.CallFunction(js::kEnsureFocus, Json::array({s.selectors}),
                                                     step_timeout_));
        if (!ok.is_boolean() || !ok.get<bool>()) {
          return absl::NotFoundError(absl::StrCat("cannot focus ", s.selectors[0]));
        }
        focused_ = s.selectors;
      }
      fire();
      if (s.kind == Step::kType) {
        RETURN_IF_ERROR(page_.TypeText(s.text, &sent, &acks_));
      } else {
        RETURN_IF_ERROR(page_.PressKey(s.key, &sent, &acks_));
        if (s.key == "Tab" || s.key == "Enter") focused_.clear();
      }
      timed();
      return absl::OkStatus();
    }
    case Step::kScroll: {
      if (!s.selectors.empty()) {
        auto b = Lookup(s.selectors);
        if (!b.ok()) return b.status();
      }
      fire();
      RETURN_IF_ERROR(page_.Wheel(s.px, s.py, s.dx, s.dy, &sent, &acks_));
      ahead_.clear();
      timed();
      return absl::OkStatus();
    }
    case Step::kSelect: {
      ASSIGN_OR_RETURN(Box b, Lookup(s.selectors));
      r->detail = b.used;
      fire();
      sent = Clock::now();
      // A <select>'s popup is not part of the page in headless mode: set the value as the popup
      // would and fire the events it fires.
      checks_.push_back(Check{
          page_.SendFunction(
              "((sel, v) => { const el = document.querySelector(sel); if (!el) return false;"
              " el.value = v; el.dispatchEvent(new Event('input', {bubbles: true}));"
              " el.dispatchEvent(new Event('change', {bubbles: true})); return true; })",
              Json::array({b.used, s.value})),
          absl::StrCat("select ", b.used, " vanished")});
      timed();
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

// --- final state -----------------------------------------------------------------------------

std::string CompareFinalState(const Json& expected, const Json& actual) {
  const Json* want = Find(expected, "items");
  if (want == nullptr || !want->is_array()) return "";
  if (!actual.is_array()) return "no extraction";
  if (want->size() != actual.size()) {
    return absl::StrCat(want->size(), " elements recorded, ", actual.size(), " now");
  }
  for (size_t i = 0; i < want->size(); ++i) {
    const Json& a = (*want)[i];
    const Json& b = actual[i];
    for (const char* k : {"selector", "text", "value", "checked"}) {
      const Json* x = Find(a, k);
      const Json* y = Find(b, k);
      if ((x == nullptr) != (y == nullptr) || (x && *x != *y)) {
        return absl::StrCat(GetString(a, "selector"), "[", GetNumber(a, "index"), "].", k, ": ",
                            x ? x->dump() : "none", " recorded, ", y ? y->dump() : "none",
                            " now");
      }
    }
  }
  return "";
}

// --- Replay ----------------------------------------------------------------------------------

namespace {

// A session thread sleeps until a step's moment and then sends a few bytes: on a machine whose
// cores are busy with renderers, the wake-up waits for a time slice (tens of ms here at 10
// sessions on 2 cores). A lower nice value lets the scheduler preempt a renderer for it; the
// threads use little CPU, so this costs the browser nothing measurable. Needs CAP_SYS_NICE
// (root); without it the schedule is kept less tightly.
void RaiseThreadPriority() {
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), -10);
}

struct SessionOutcome {
  bool ok = false;
  std::string error;
  double latency_ms = 0;
  std::vector<std::pair<std::string, double>> phases;
  std::vector<StepRunner::StepResult> steps;
  std::string state_diff;  // "" = matches (or nothing to compare)
  bool compared = false;
};

void RunSession(int index, Browser& browser, const std::string& context, const Trajectory& traj,
                const ReplayOptions& opts, const std::vector<std::string>& extract,
                Clock::time_point run_start, SessionOutcome* out) {
  auto t = Clock::now();
  auto phase = [&](const char* name) {
    auto now = Clock::now();
    out->phases.emplace_back(name, MsBetween(t, now));
    t = now;
  };
  fs::path dir = fs::path(opts.out_dir) / absl::StrFormat("session-%04d", index + 1);
  std::error_code ec;
  fs::create_directories(dir, ec);
  auto fail = [&](const absl::Status& st) {
    out->ok = false;
    out->error = std::string(st.message());
  };
  auto finish = [&] { out->latency_ms = MsBetween(run_start, Clock::now()); };

  PageOptions po;
  po.viewport = traj.viewport;
  po.context_id = context;
  auto page = Page::Open(browser.shared_cdp(), po);
  if (!page.ok()) {
    fail(page.status());
    finish();
    return;
  }
  phase("open");
  StepRunner runner(**page, opts.speed, opts.url_base, opts.step_timeout);
  auto start = Clock::now();
  absl::Status st = runner.Run(traj.steps, 0, start, &out->steps, [] { return Interrupted(); });
  // The first step is the navigation: a phase of its own.
  if (!out->steps.empty()) {
    double nav_ms = out->steps[0].actual_ms;
    out->phases.emplace_back("navigate", nav_ms);
    out->phases.emplace_back("steps", MsBetween(start, Clock::now()) - nav_ms);
  }
  t = Clock::now();
  if (!st.ok()) {
    fail(st);
    (void)(*page)->Close();
    finish();
    return;
  }
  if (opts.screenshot) {
    auto png = (*page)->Screenshot(false, /*optimize_for_speed=*/true);
    if (!png.ok()) {
      fail(png.status());
      (void)(*page)->Close();
      finish();
      return;
    }
    if (auto w = base::WriteFileAtomic((dir / "screenshot.png").string(), *png, false); !w.ok()) {
      fail(w);
    }
    phase("screenshot");
  }
  if (!extract.empty()) {
    auto items = (*page)->Extract(extract);
    if (!items.ok()) {
      fail(items.status());
      (void)(*page)->Close();
      finish();
      return;
    }
    (void)base::WriteFileAtomic((dir / "extract.json").string(), items->dump(1) + "\n", false);
    if (!traj.final_state.is_null() && opts.extract.empty()) {
      out->compared = true;
      out->state_diff = CompareFinalState(traj.final_state, *items);
    }
    phase("extract");
  }
  // A context that fails to close is the browser's problem, not the session's result.
  (void)(*page)->Close();
  phase("close");
  out->ok = out->error.empty();
  finish();
}

Json SessionJson(int index, const SessionOutcome& o) {
  Json steps = Json::array();
  for (const auto& s : o.steps) {
    Json j = {{"planned_ms", std::round(s.planned_ms * 1000) / 1000},
              {"actual_ms", std::round(s.actual_ms * 1000) / 1000}};
    if (s.timed) j["error_ms"] = std::round(s.error_ms * 1000) / 1000;
    if (!s.detail.empty()) j["matched"] = s.detail;
    steps.push_back(std::move(j));
  }
  Json phases = Json::object();
  for (const auto& [k, v] : o.phases) phases[k] = std::round(v * 1000) / 1000;
  Json j = {{"session", index + 1},
            {"ok", o.ok},
            {"latency_ms", std::round(o.latency_ms * 1000) / 1000},
            {"phases_ms", phases},
            {"steps", steps}};
  if (!o.error.empty()) j["error"] = o.error;
  if (o.compared) {
    j["final_state_matches"] = o.state_diff.empty();
    if (!o.state_diff.empty()) j["final_state_diff"] = o.state_diff;
  }
  return j;
}

}  // namespace

absl::StatusOr<Json> Replay(const ReplayOptions& opts) {
  ASSIGN_OR_RETURN(Trajectory traj, LoadTrajectory(opts.journey));
  if (opts.sessions < 1 || opts.sessions > 10000) {
    return absl::InvalidArgumentError("--sessions must be 1..10000");
  }
  if (opts.browsers < 1 || opts.browsers > 64) {
    return absl::InvalidArgumentError("--browsers must be 1..64");
  }
  if (traj.steps[0].url.find("://") == std::string::npos && opts.url_base.empty() &&
      traj.steps[0].url.rfind("data:", 0) != 0 && traj.steps[0].url.rfind("about:", 0) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        opts.journey, ": the start URL '", traj.steps[0].url,
        "' is relative: give --url-base (e.g. http://127.0.0.1:8000)"));
  }
  std::vector<std::string> extract = opts.extract;
  if (extract.empty()) {
    if (const Json* sels = Find(traj.final_state, "extract"); sels && sels->is_array()) {
      for (const auto& s : *sels) {
        if (s.is_string()) extract.push_back(s.get<std::string>());
      }
    }
  }
  std::error_code ec;
  fs::create_directories(opts.out_dir, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("cannot create ", opts.out_dir, ": ",
                                                         ec.message()));

  auto launch_start = Clock::now();
  std::vector<std::unique_ptr<Browser>> browsers;
  std::vector<std::string> contexts;
  int nbrowsers = std::min(opts.browsers, opts.sessions);
  for (int i = 0; i < nbrowsers; ++i) {
    ASSIGN_OR_RETURN(auto b, Browser::Launch(opts.browser));
    std::string ctx;
    if (opts.browser.share_renderers) {
      ASSIGN_OR_RETURN(Json c, b->cdp().Browser().Call("Target.createBrowserContext"));
      ctx = GetString(c, "browserContextId");
    }
    contexts.push_back(ctx);
    browsers.push_back(std::move(b));
  }
  double launch_ms = MsBetween(launch_start, Clock::now());
  if (opts.speed > 0) {
    for (auto& b : browsers) {
      // Answers to lookups are on the schedule's critical path too.
      for (int i = 0; i < 100 && b->cdp().reader_tid() == 0; ++i) usleep(1000);
      if (pid_t tid = b->cdp().reader_tid(); tid > 0) {
        (void)setpriority(PRIO_PROCESS, static_cast<id_t>(tid), -10);
      }
    }
  }

  // Memory: the peak of the browsers' total PSS and of our own PSS, sampled.
  std::atomic<bool> sampling{true};
  std::atomic<uint64_t> peak_browser_pss{0}, peak_total_pss{0};
  std::mutex sample_mu;
  std::condition_variable sample_cv;
  std::thread sampler([&] {
    std::unique_lock lock(sample_mu);
    while (sampling.load()) {
      auto t0 = Clock::now();
      uint64_t b = 0;
      for (auto& br : browsers) b += br->PssBytes();
      uint64_t total = b + ProcessPss(getpid());
      if (b > peak_browser_pss.load()) peak_browser_pss = b;
      if (total > peak_total_pss.load()) peak_total_pss = total;
      // Reading smaps_rollup walks every page table of every browser process: tens of ms of
      // CPU at 100 sessions. Spend at most a tenth of one core on it.
      auto cost = Clock::now() - t0;
      auto wait = std::max<Clock::duration>(opts.sample_period, cost * 9);
      sample_cv.wait_for(lock, wait, [&] { return !sampling.load(); });
    }
  });

  std::vector<SessionOutcome> outcomes(static_cast<size_t>(opts.sessions));
  std::atomic<int> done{0};
  auto run_start = Clock::now();
  {
    std::vector<std::thread> threads;
    threads.reserve(outcomes.size());
    for (int i = 0; i < opts.sessions; ++i) {
      Browser& b = *browsers[static_cast<size_t>(i % nbrowsers)];
      const std::string& ctx = contexts[static_cast<size_t>(i % nbrowsers)];
      threads.emplace_back([&, i, &b = b, &ctx = ctx] {
        if (opts.speed > 0) RaiseThreadPriority();
        RunSession(i, b, ctx, traj, opts, extract, run_start, &outcomes[static_cast<size_t>(i)]);
        int n = ++done;
        if (opts.progress) {
          const auto& o = outcomes[static_cast<size_t>(i)];
          std::string line = absl::StrFormat("session %d/%d %s %.0f ms%s%s\n", n, opts.sessions,
                                             o.ok ? "ok" : "FAILED", o.latency_ms,
                                             o.ok ? "" : ": ", o.error);
          fputs(line.c_str(), stderr);
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  double wall_ms = MsBetween(run_start, Clock::now());
  {
    std::lock_guard lock(sample_mu);
    sampling = false;
  }
  sample_cv.notify_all();
  sampler.join();

  std::string product = browsers.empty() ? "" : browsers[0]->product();
  for (size_t i = 0; i < browsers.size(); ++i) {
    // An attached browser outlives us: the shared context goes with the sessions.
    if (browsers[i]->attached() && !contexts[i].empty() && browsers[i]->cdp().alive())
      (void)browsers[i]->cdp().Browser().Call("Target.disposeBrowserContext", {{"browserContextId", contexts[i]}},
                                              Ms(10000));
    (void)browsers[i]->Close();
  }

  // Summary.
  int ok = 0, failed = 0, matched = 0, compared = 0;
  std::vector<double> latency, errors;
  std::map<std::string, std::vector<double>> phases;
  Json failures = Json::array();
  Json sessions = Json::array();
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const auto& o = outcomes[i];
    (o.ok ? ok : failed)++;
    if (!o.ok) failures.push_back({{"session", i + 1}, {"error", o.error}});
    latency.push_back(o.latency_ms);
    for (const auto& s : o.steps) {
      if (s.timed) errors.push_back(s.error_ms);
    }
    for (const auto& [k, v] : o.phases) phases[k].push_back(v);
    if (o.compared) {
      ++compared;
      if (o.state_diff.empty()) ++matched;
    }
    Json sj = SessionJson(static_cast<int>(i), o);
    fs::path dir = fs::path(opts.out_dir) / absl::StrFormat("session-%04zu", i + 1);
    (void)base::WriteFileAtomic((dir / "result.json").string(), sj.dump(1) + "\n", false);
  }
  Json phase_json = Json::object();
  for (auto& [k, v] : phases) phase_json[k] = Stats(v);
  std::vector<double> abs_errors;
  for (double e : errors) abs_errors.push_back(std::fabs(e));
  Json summary = {
      {"format", "clonebot-replay-summary"},
      {"version", 1},
      {"journey", opts.journey},
      {"browser", product},
      {"executable", browsers.empty() ? "" : browsers[0]->executable()},
      {"sessions", opts.sessions},
      {"browsers", nbrowsers},
      {"share_renderers", opts.browser.share_renderers},
      {"speed", opts.speed},
      {"ok", ok},
      {"failed", failed},
      {"launch_ms", std::round(launch_ms * 1000) / 1000},
      {"wall_ms", std::round(wall_ms * 1000) / 1000},
      {"latency_ms", Stats(latency)},
      {"timing_error_ms", Stats(errors)},
      {"timing_error_abs_ms", Stats(abs_errors)},
      {"phases_ms", phase_json},
      {"memory",
       {{"driver_peak_rss_bytes", SelfPeakRss()},
        {"browser_peak_pss_bytes", peak_browser_pss.load()},
        {"total_peak_pss_bytes", peak_total_pss.load()}}},
      {"failures", failures},
  };
  if (compared > 0) summary["final_state"] = {{"compared", compared}, {"matching", matched}};
  (void)base::WriteFileAtomic((fs::path(opts.out_dir) / "summary.json").string(),
                              summary.dump(1) + "\n");
  return summary;
}

std::string FormatSummary(const Json& s) {
  auto num = [&](const Json& j, const char* a, const char* b) {
    const Json* x = Find(j, a);
    return x ? GetNumber(*x, b) : 0.0;
  };
  std::string out;
  absl::StrAppendFormat(&out, "sessions   %d ok, %d failed of %d  (%d browser%s: %s%s)\n",
                        static_cast<int>(GetNumber(s, "ok")), static_cast<int>(GetNumber(s, "failed")),
                        static_cast<int>(GetNumber(s, "sessions")),
                        static_cast<int>(GetNumber(s, "browsers")),
                        GetNumber(s, "browsers") == 1 ? "" : "s", GetString(s, "browser"),
                        Find(s, "share_renderers") && s["share_renderers"].get<bool>()
                            ? ", shared renderers"
                            : "");
  absl::StrAppendFormat(&out, "wall       %.3f s  (browser launch %.0f ms before it)\n",
                        GetNumber(s, "wall_ms") / 1000, GetNumber(s, "launch_ms"));
  absl::StrAppendFormat(&out, "latency    p50 %.3f s  p99 %.3f s  max %.3f s\n",
                        num(s, "latency_ms", "p50") / 1000, num(s, "latency_ms", "p99") / 1000,
                        num(s, "latency_ms", "max") / 1000);
  if (num(s, "timing_error_ms", "count") > 0) {
    absl::StrAppendFormat(&out, "timing     error p50 %.2f ms  p99 %.2f ms  max %.2f ms  (%d steps)\n",
                          num(s, "timing_error_ms", "p50"), num(s, "timing_error_ms", "p99"),
                          num(s, "timing_error_ms", "max"),
                          static_cast<int>(num(s, "timing_error_ms", "count")));
  }
  if (const Json* ph = Find(s, "phases_ms"); ph && ph->is_object()) {
    out += "phases     p50/p99 ms:";
    for (const char* k : {"open", "navigate", "steps", "screenshot", "extract", "close"}) {
      if (const Json* p = Find(*ph, k)) {
        absl::StrAppendFormat(&out, "  %s %.0f/%.0f", k, GetNumber(*p, "p50"), GetNumber(*p, "p99"));
      }
    }
    out += "\n";
  }
  if (const Json* m = Find(s, "memory")) {
    absl::StrAppendFormat(&out, "memory     driver peak RSS %.1f MiB, browser peak PSS %.1f MiB, total peak PSS %.1f MiB\n",
                          GetNumber(*m, "driver_peak_rss_bytes") / 1048576.0,
                          GetNumber(*m, "browser_peak_pss_bytes") / 1048576.0,
                          GetNumber(*m, "total_peak_pss_bytes") / 1048576.0);
  }
  if (const Json* f = Find(s, "final_state")) {
    absl::StrAppendFormat(&out, "state      %d of %d sessions end in the recorded final state\n",
                          static_cast<int>(GetNumber(*f, "matching")),
                          static_cast<int>(GetNumber(*f, "compared")));
  }
  return out;
}

}  // namespace clonebot::web
