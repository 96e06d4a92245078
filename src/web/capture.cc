#include "web/capture.h"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/status.h"
#include "web/js.h"
#include "web/replay.h"
#include "web/trajectory.h"

namespace clonebot::web {

namespace fs = std::filesystem;

namespace {

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double R3(double x) { return std::round(x * 1000) / 1000; }

// Checks every selector's syntax in the blank page, before any real work.
absl::Status CheckSelectors(Page& page, const std::vector<std::string>& sels) {
  if (sels.empty()) return absl::OkStatus();
  auto r = page.Extract(sels);
  return r.ok() ? absl::OkStatus() : r.status();
}

}  // namespace

absl::StatusOr<Json> TakeSnapshot(const SnapshotOptions& opts) {
  auto t_all = Clock::now();
  Json timings = Json::object();
  ASSIGN_OR_RETURN(auto browser, Browser::Launch(opts.browser));
  timings["launch"] = R3(MsSince(t_all));
  auto t = Clock::now();
  PageOptions po;
  po.viewport = opts.viewport;
  po.track_console = true;
  po.track_network = true;
  for (const auto& w : opts.waits) po.lifecycle |= w.kind == WaitCondition::kNetworkIdle;
  ASSIGN_OR_RETURN(auto page, Page::Open(browser->shared_cdp(), po));
  RETURN_IF_ERROR(CheckSelectors(*page, opts.extract));
  for (const auto& w : opts.waits) {
    if (w.kind == WaitCondition::kSelector) RETURN_IF_ERROR(CheckSelectors(*page, {w.selector}));
  }
  timings["open"] = R3(MsSince(t));

  ASSIGN_OR_RETURN(NavigateResult nav, page->Navigate(opts.url, opts.waits, opts.timeout));
  timings["navigation"] = R3(nav.navigate_ms);
  timings["load"] = R3(nav.load_ms);

  t = Clock::now();
  ASSIGN_OR_RETURN(std::string png, page->Screenshot(opts.full_page));
  timings["screenshot"] = R3(MsSince(t));
  t = Clock::now();
  ASSIGN_OR_RETURN(std::string html, page->Html());
  timings["html"] = R3(MsSince(t));
  t = Clock::now();
  Json items = Json::array();
  if (!opts.extract.empty()) {
    ASSIGN_OR_RETURN(items, page->Extract(opts.extract));
  }
  timings["extract"] = R3(MsSince(t));
  auto final_url = page->CurrentUrl();
  auto title = page->Evaluate("document.title");
  std::vector<std::string> console = page->ConsoleErrors();
  (void)page->Close();
  std::string product = browser->product();
  (void)browser->Close();
  timings["total"] = R3(MsSince(t_all));

  uint32_t w = 0, h = 0;
  PngSize(png, &w, &h);
  Json meta = {
      {"format", "clonebot-web-snapshot"},
      {"version", 1},
      {"url", opts.url},
      {"final_url", final_url.ok() ? *final_url : opts.url},
      {"title", title.ok() && title->is_string() ? title->get<std::string>() : ""},
      {"status", nav.status},
      {"status_text", nav.status_text},
      {"viewport", {{"width", opts.viewport.width}, {"height", opts.viewport.height}}},
      {"full_page", opts.full_page},
      {"screenshot", {{"file", "screenshot.png"}, {"width", w}, {"height", h}, {"bytes", png.size()}}},
      {"extract", {{"file", "extract.json"}, {"selectors", opts.extract}, {"count", items.size()}}},
      {"browser", product},
      {"taken_at", base::Rfc3339UtcNow()},
      {"timings_ms", timings},
      {"console_errors", console},
  };
  std::error_code ec;
  fs::create_directories(opts.out_dir, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat("cannot create ", opts.out_dir, ": ",
                                                   ec.message()));
  }
  fs::path dir(opts.out_dir);
  RETURN_IF_ERROR(base::WriteFileAtomic((dir / "screenshot.png").string(), png));
  RETURN_IF_ERROR(base::WriteFileAtomic((dir / "page.html").string(), html));
  RETURN_IF_ERROR(base::WriteFileAtomic((dir / "extract.json").string(), items.dump(1) + "\n"));
  // meta.json last: its presence says the snapshot is whole.
  RETURN_IF_ERROR(base::WriteFileAtomic((dir / "meta.json").string(), meta.dump(1) + "\n"));
  if (nav.status >= 400 && !opts.allow_http_error) {
    return absl::FailedPreconditionError(absl::StrCat(
        opts.url, " answered HTTP ", nav.status, nav.status_text.empty() ? "" : " ",
        nav.status_text, " (the snapshot is written; --allow-http-error accepts it)"));
  }
  return meta;
}

// --- record ----------------------------------------------------------------------------------

namespace {

// Turns one binding payload into a step (nullopt if it is not one of ours).
std::optional<Step> StepFromPayload(const Json& p, double t0_epoch_ms) {
  std::string kind = GetString(p, "kind");
  Step s;
  s.t = std::max(0.0, GetNumber(p, "ts") - t0_epoch_ms);
  if (const Json* sel = Find(p, "sel"); sel && sel->is_array()) {
    for (const auto& x : *sel) {
      // The structural path of an element with a unique id is that id again: keep one.
      if (x.is_string() && std::find(s.selectors.begin(), s.selectors.end(),
                                     x.get_ref<const std::string&>()) == s.selectors.end()) {
        s.selectors.push_back(x.get<std::string>());
      }
    }
  }
  if (kind == "click") {
    s.kind = Step::kClick;
    s.button = GetString(p, "button", "left");
    s.count = std::clamp(static_cast<int>(GetNumber(p, "count", 1)), 1, 3);
    s.x = std::clamp(GetNumber(p, "x", 0.5), 0.0, 1.0);
    s.y = std::clamp(GetNumber(p, "y", 0.5), 0.0, 1.0);
    if (s.selectors.empty()) return std::nullopt;
  } else if (kind == "type") {
    s.kind = Step::kType;
    s.text = GetString(p, "text");
    if (s.text.empty()) return std::nullopt;
  } else if (kind == "key") {
    s.kind = Step::kKey;
    s.key = GetString(p, "key");
  } else if (kind == "scroll") {
    s.kind = Step::kScroll;
    s.px = GetNumber(p, "px");
    s.py = GetNumber(p, "py");
    s.dx = GetNumber(p, "dx");
    s.dy = GetNumber(p, "dy");
  } else if (kind == "select") {
    s.kind = Step::kSelect;
    s.value = GetString(p, "value");
    if (s.selectors.empty()) return std::nullopt;
  } else {
    return std::nullopt;
  }
  return s;
}

// Appends |s|, merging a wheel burst (scrolls of one target within 100 ms) into one step.
void AddStep(std::vector<Step>* steps, Step s) {
  if (s.kind == Step::kScroll && !steps->empty()) {
    Step& last = steps->back();
    if (last.kind == Step::kScroll && last.selectors == s.selectors && s.t - last.t < 100) {
      last.dx += s.dx;
      last.dy += s.dy;
      return;
    }
  }
  steps->push_back(std::move(s));
}

}  // namespace

absl::StatusOr<size_t> Record(const RecordOptions& opts) {
  std::optional<Trajectory> drive;
  if (!opts.drive.empty()) {
    ASSIGN_OR_RETURN(drive, LoadTrajectory(opts.drive));
  }
  ASSIGN_OR_RETURN(auto browser, Browser::Launch(opts.browser));
  PageOptions po;
  po.viewport = opts.viewport;
  po.track_network = true;  // the start page's HTTP status
  ASSIGN_OR_RETURN(auto page, Page::Open(browser->shared_cdp(), po));
  RETURN_IF_ERROR(CheckSelectors(*page, opts.final_extract));
  if (!opts.until.empty()) RETURN_IF_ERROR(CheckSelectors(*page, {opts.until}));
  Session& s = page->session();
  s.Subscribe("Runtime.bindingCalled");
  {
    std::vector<std::future<absl::StatusOr<Json>>> futs;
    // Runtime.bindingCalled is only reported while the Runtime domain is enabled.
    futs.push_back(s.Send("Runtime.enable"));
    futs.push_back(s.Send("Runtime.addBinding", {{"name", "__clonebotRecord"}}));
    futs.push_back(s.Send("Page.addScriptToEvaluateOnNewDocument", {{"source", js::kRecorder}}));
    for (auto& f : futs) {
      auto r = f.get();
      if (!r.ok()) return r.status();
    }
  }

  Trajectory traj;
  traj.start_url = opts.url;
  traj.viewport = opts.viewport;
  traj.recorded_at = base::Rfc3339UtcNow();
  traj.browser = browser->product();
  Step nav;
  nav.kind = Step::kNavigate;
  nav.url = opts.url;
  traj.steps.push_back(nav);

  double t0_epoch_ms = static_cast<double>(base::RealtimeNs()) / 1e6;
  auto t0 = Clock::now();
  ASSIGN_OR_RETURN(NavigateResult nr, page->Navigate(opts.url, {}, Ms(30000)));
  if (nr.status >= 400) {
    return absl::FailedPreconditionError(absl::StrCat(opts.url, " answered HTTP ", nr.status));
  }
  // The first document's own frameNavigated is not a step.
  s.Drain("Page.frameNavigated");
  s.Drain("Page.loadEventFired");
  traj.steps[0].load_t = nr.load_ms;

  // The driver: a trajectory performed as real input on the same page.
  std::atomic<bool> drive_done{false};
  absl::Status drive_status = absl::OkStatus();
  std::thread driver;
  std::unique_ptr<Page> drive_page;
  if (drive) {
    // Its own session on the same target: the events of the recording session stay untouched.
    PageOptions dpo;
    dpo.viewport = opts.viewport;
    dpo.target_id = page->target_id();
    ASSIGN_OR_RETURN(drive_page, Page::Open(browser->shared_cdp(), dpo));
    driver = std::thread([&] {
      StepRunner runner(*drive_page, 1.0, opts.drive_url_base, Ms(10000));
      std::vector<StepRunner::StepResult> results;
      drive_status = runner.Run(drive->steps, 1, Clock::now(), &results,
                                [] { return Interrupted(); });
      drive_done = true;
    });
  }

  auto deadline = opts.duration.count() > 0 ? t0 + opts.duration : Clock::time_point::max();
  std::string stop_reason;
  auto last_until_check = Clock::now();
  Clock::time_point drive_end{};
  for (;;) {
    if (Interrupted()) {
      stop_reason = "interrupted";
      break;
    }
    if (Clock::now() >= deadline) {
      stop_reason = "duration reached";
      break;
    }
    if (drive && drive_done.load()) {
      // Let the last input's events arrive.
      if (drive_end == Clock::time_point{}) drive_end = Clock::now();
      if (Clock::now() - drive_end > Ms(300)) {
        stop_reason = "drive finished";
        break;
      }
    }
    auto ev = s.WaitFor(
        [](const Event& e) {
          return e.method == "Runtime.bindingCalled" || e.method == "Page.frameNavigated" ||
                 e.method == "Page.loadEventFired";
        },
        Clock::now() + Ms(100));
    if (!ev.ok()) {
      if (absl::IsDeadlineExceeded(ev.status())) {
        if (!opts.until.empty() && Clock::now() - last_until_check > Ms(250)) {
          last_until_check = Clock::now();
          auto found = page->Evaluate(absl::StrCat("!!document.querySelector(",
                                                   Json(opts.until).dump(), ")"));
          if (found.ok() && found->is_boolean() && found->get<bool>()) {
            stop_reason = "until selector matched";
            break;
          }
        }
        continue;
      }
      stop_reason = std::string(ev.status().message());  // window closed, browser gone
      break;
    }
    if (ev->method == "Page.loadEventFired") {
      // The main frame's document loaded: the latest navigated step's load time.
      for (auto it = traj.steps.rbegin(); it != traj.steps.rend(); ++it) {
        if (it->kind == Step::kNavigated) {
          if (it->load_t < 0) {
            it->load_t = std::chrono::duration<double, std::milli>(ev->received - t0).count();
          }
          break;
        }
      }
      continue;
    }
    if (ev->method == "Page.frameNavigated") {
      const Json* f = Find(ev->params, "frame");
      if (f == nullptr || Find(*f, "parentId") != nullptr) continue;
      Step st;
      st.kind = Step::kNavigated;
      st.url = GetString(*f, "url");
      st.t = std::chrono::duration<double, std::milli>(ev->received - t0).count();
      if (opts.progress) opts.progress(absl::StrCat("navigated ", st.url));
      traj.steps.push_back(std::move(st));
      continue;
    }
    if (GetString(ev->params, "name") != "__clonebotRecord") continue;
    std::string payload = GetString(ev->params, "payload");
    Json p = Json::parse(payload, nullptr, false);
    if (p.is_discarded()) continue;
    auto step = StepFromPayload(p, t0_epoch_ms);
    if (!step) continue;
    if (opts.progress) {
      std::string what = absl::StrCat(StepKindName(step->kind), " ",
                                      step->selectors.empty() ? "" : step->selectors[0]);
      if (step->kind == Step::kType) absl::StrAppend(&what, " ", Json(step->text).dump());
      if (step->kind == Step::kKey) absl::StrAppend(&what, " ", step->key);
      opts.progress(what);
    }
    AddStep(&traj.steps, std::move(*step));
  }
  if (driver.joinable()) driver.join();
  if (drive_page) (void)drive_page->Close();
  // Navigations are timed by our clock, actions by the page's: put them in time order.
  std::stable_sort(traj.steps.begin() + 1, traj.steps.end(),
                   [](const Step& a, const Step& b) { return a.t < b.t; });
  if (page->session().detached().empty() && browser->cdp().alive()) {
    auto items = page->Extract(opts.final_extract);
    if (items.ok()) traj.final_state = {{"extract", opts.final_extract}, {"items", *items}};
  }
  (void)page->Close();
  (void)browser->Close();
  RETURN_IF_ERROR(base::WriteFileAtomic(opts.out, TrajectoryToJson(traj)));
  if (!drive_status.ok()) {
    return absl::Status(drive_status.code(),
                        absl::StrCat("--drive failed (the trajectory is written): ",
                                     drive_status.message()));
  }
  if (opts.progress) opts.progress(absl::StrCat("stopped: ", stop_reason));
  return traj.steps.size();
}

}  // namespace clonebot::web
