// clonebot web: clone web sessions in headless Chromium over the DevTools protocol (src/web).
//   clonebot web snapshot URL -o DIR [--extract SEL]... [--viewport WxH] [--full-page]
//                         [--wait load|domcontentloaded|networkidle|SELECTOR|500ms]...
//   clonebot web record URL -o journey.json [--headless] [--duration 30s] [--until SEL]
//   clonebot web replay journey.json [--sessions N] [--browsers M] [--speed X|max] -o DIR
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "sandbox/sandbox.h"
#include "web/browser.h"
#include "web/capture.h"
#include "web/replay.h"

namespace clonebot::cli {
// Named, not anonymous: the command files are compiled together (a unity build, see
// CMakeLists.txt), and each has its own Fail and flags.
namespace web_cmd {

struct WebFlags {
  // shared
  std::string browser = "headless-shell";
  std::string connect;  // ws:// URL of a running browser
  std::string viewport = "1280x720";
  std::vector<std::string> extract;
  std::string out;
  bool share_renderers = false;
  // snapshot
  std::string url;
  bool full_page = false;
  std::vector<std::string> waits;
  std::string timeout = "30s";
  bool allow_http_error = false;
  // record
  bool headless = false;
  std::string duration;
  std::string until;
  std::string drive;
  std::string url_base;
  bool quiet = false;
  // replay
  std::string journey;
  int sessions = 1;
  int browsers = 1;
  std::string speed = "1";
  std::string step_timeout = "10s";
  bool no_screenshot = false;

  CLI::App* snapshot = nullptr;
  CLI::App* record = nullptr;
  CLI::App* replay = nullptr;
};

int Fail(const std::string& msg, int code = 1) { return cli::Fail("web", msg, code); }

// sandbox::ParseDuration ("30s", "500ms", "2m", plain seconds), naming the flag in its error.
absl::StatusOr<web::Ms> ParseDuration(const std::string& s, const char* flag) {
  auto d = sandbox::ParseDuration(s);
  if (!d.ok()) return absl::InvalidArgumentError(absl::StrCat(flag, ": ", d.status().message()));
  return *d;
}

web::BrowserOptions BrowserFrom(const WebFlags& f) {
  web::BrowserOptions b;
  b.browser = f.browser;
  b.share_renderers = f.share_renderers;
  b.connect = f.connect;
  return b;
}

int RunSnapshot(const WebFlags& f) {
  web::SnapshotOptions o;
  o.url = f.url;
  o.out_dir = f.out;
  o.extract = f.extract;
  o.full_page = f.full_page;
  o.allow_http_error = f.allow_http_error;
  o.browser = BrowserFrom(f);
  auto vp = web::ParseViewport(f.viewport);
  if (!vp.ok()) return Fail(std::string(vp.status().message()), 2);
  o.viewport = *vp;
  auto to = ParseDuration(f.timeout, "--timeout");
  if (!to.ok()) return Fail(std::string(to.status().message()), 2);
  o.timeout = *to;
  for (const auto& w : f.waits) {
    auto c = web::ParseWaitCondition(w);
    if (!c.ok()) return Fail(std::string(c.status().message()), 2);
    o.waits.push_back(*c);
  }
  auto meta = web::TakeSnapshot(o);
  if (!meta.ok()) return Fail(absl::StrCat("snapshot: ", meta.status().message()));
  const auto& m = *meta;
  printf("%s: HTTP %d, %s; screenshot %dx%d, %d elements extracted, %zu console errors, %.0f ms\n",
         f.out.c_str(), m["status"].get<int>(), m["final_url"].get<std::string>().c_str(),
         m["screenshot"]["width"].get<int>(), m["screenshot"]["height"].get<int>(),
         m["extract"]["count"].get<int>(), m["console_errors"].size(),
         m["timings_ms"]["total"].get<double>());
  return 0;
}

int RunRecord(const WebFlags& f) {
  web::RecordOptions o;
  o.url = f.url;
  o.out = f.out;
  o.browser = BrowserFrom(f);
  auto vp = web::ParseViewport(f.viewport);
  if (!vp.ok()) return Fail(std::string(vp.status().message()), 2);
  o.viewport = *vp;
  if (!f.duration.empty()) {
    auto d = ParseDuration(f.duration, "--duration");
    if (!d.ok()) return Fail(std::string(d.status().message()), 2);
    o.duration = *d;
  }
  o.until = f.until;
  if (!f.extract.empty()) o.final_extract = f.extract;
  o.drive = f.drive;
  o.drive_url_base = f.url_base;
  // A visible window needs the full browser and a display (an attached browser has its own).
  bool display = getenv("DISPLAY") != nullptr || getenv("WAYLAND_DISPLAY") != nullptr;
  if (!f.headless && f.connect.empty()) {
    if (!display) {
      return Fail("record: no display ($DISPLAY is not set): use --headless (and --drive, "
                  "--duration or --until to end it), or run under a display",
                  2);
    }
    if (f.browser == "headless-shell") o.browser.browser = "chromium";
    o.browser.headless = false;
  }
  if (!f.quiet) {
    o.progress = [](const std::string& line) { fprintf(stderr, "record: %s\n", line.c_str()); };
    fprintf(stderr, "record: recording %s; stop with Ctrl-C%s\n", f.url.c_str(),
            f.headless ? "" : " or by closing the window");
  }
  auto n = web::Record(o);
  if (!n.ok()) return Fail(absl::StrCat("record: ", n.status().message()));
  if (!f.quiet) fprintf(stderr, "record: %zu steps written to %s\n", *n, f.out.c_str());
  return 0;
}

int RunReplay(const WebFlags& f) {
  web::ReplayOptions o;
  o.journey = f.journey;
  o.out_dir = f.out;
  o.url_base = f.url_base;
  o.sessions = f.sessions;
  o.browsers = f.browsers;
  o.extract = f.extract;
  o.screenshot = !f.no_screenshot;
  o.browser = BrowserFrom(f);
  o.progress = !f.quiet;
  if (f.speed == "max") {
    o.speed = 0;
  } else if (!absl::SimpleAtod(f.speed, &o.speed) || o.speed <= 0 || o.speed > 1000) {
    return Fail(absl::StrCat("--speed: '", f.speed, "' is not a factor in (0, 1000] or max"), 2);
  }
  auto st = ParseDuration(f.step_timeout, "--step-timeout");
  if (!st.ok()) return Fail(std::string(st.status().message()), 2);
  o.step_timeout = *st;
  auto summary = web::Replay(o);
  if (!summary.ok()) return Fail(absl::StrCat("replay: ", summary.status().message()));
  fputs(web::FormatSummary(*summary).c_str(), stdout);
  printf("summary    %s/summary.json\n", f.out.c_str());
  if (web::Interrupted()) return 128 + web::InterruptSignal();
  return (*summary)["failed"].get<int>() == 0 ? 0 : 1;
}

}  // namespace web_cmd

RunFn RegisterWeb(CLI::App& app) {
  using namespace web_cmd;
  auto f = std::make_shared<WebFlags>();
  CLI::App* sub = app.add_subcommand(
      "web", "Clone web sessions in headless Chromium: snapshot, record, replay (src/web/README.md)");
  sub->require_subcommand(1);
  auto add_browser = [&](CLI::App* c) {
    c->add_option("--browser", f->browser,
                  "headless-shell (default: Debian's chromium-headless-shell), chromium, or a path");
    c->add_option("--connect", f->connect,
                  "attach to a running browser by its DevTools URL (ws://HOST:PORT/devtools/browser/ID) "
                  "instead of starting one; it is left running")
        ->excludes(c->get_option("--browser"));
  };

  f->snapshot = sub->add_subcommand("snapshot", "Screenshot, HTML and element extraction of a page");
  f->snapshot->add_option("url", f->url, "URL to load")->required();
  f->snapshot->add_option("-o,--output", f->out, "Output directory")->required();
  f->snapshot->add_option("--extract", f->extract, "CSS selector to extract (repeatable)");
  f->snapshot->add_option("--viewport", f->viewport, "WIDTHxHEIGHT (default 1280x720)");
  f->snapshot->add_flag("--full-page", f->full_page, "Screenshot the whole page, not the viewport");
  f->snapshot->add_option("--wait", f->waits,
                          "load (default), domcontentloaded, networkidle, a CSS selector, or a "
                          "delay like 500ms; repeatable, applied in order");
  f->snapshot->add_option("--timeout", f->timeout, "Navigation and wait limit (default 30s)");
  f->snapshot->add_flag("--allow-http-error", f->allow_http_error,
                        "Exit 0 even when the page answers HTTP 4xx/5xx");
  add_browser(f->snapshot);

  f->record = sub->add_subcommand("record", "Record a user's journey through a page as a trajectory");
  f->record->add_option("url", f->url, "Start URL")->required();
  f->record->add_option("-o,--output", f->out, "Trajectory file to write")->required();
  f->record->add_flag("--headless", f->headless, "No window (end with --duration, --until or Ctrl-C)");
  f->record->add_option("--viewport", f->viewport, "WIDTHxHEIGHT (default 1280x720)");
  f->record->add_option("--duration", f->duration, "Stop after this long (e.g. 60s)");
  f->record->add_option("--until", f->until, "Stop once this CSS selector matches");
  f->record->add_option("--extract", f->extract,
                        "Selectors whose final state is saved for replay to compare "
                        "(default: input, textarea, select)");
  f->record->add_option("--drive", f->drive,
                        "Perform this trajectory as real input while recording (tests, demos)");
  f->record->add_option("--url-base", f->url_base, "Resolves relative URLs of --drive");
  f->record->add_flag("-q,--quiet", f->quiet, "No progress lines");
  add_browser(f->record);

  f->replay = sub->add_subcommand("replay", "Replay a trajectory in N concurrent browser sessions");
  f->replay->add_option("journey", f->journey, "Trajectory file (docs/formats/trajectory.md)")
      ->required();
  f->replay->add_option("-o,--output", f->out, "Output directory")->required();
  f->replay->add_option("--sessions", f->sessions, "Concurrent sessions (default 1)");
  f->replay->add_option("--browsers", f->browsers, "Browsers the sessions share (default 1)");
  f->replay->add_option("--speed", f->speed, "Time factor (2 = twice as fast) or max (default 1)");
  f->replay->add_option("--extract", f->extract,
                        "Selectors to extract at the end (default: the recording's)");
  f->replay->add_option("--url-base", f->url_base, "Resolves relative URLs of the trajectory");
  f->replay->add_option("--step-timeout", f->step_timeout,
                        "How long a step waits for its element (default 10s)");
  f->replay->add_flag("--no-screenshot", f->no_screenshot, "No final screenshot per session");
  f->replay->add_flag("--share-renderers", f->share_renderers,
                      "All sessions of a browser in one context, at most 8 renderers: about "
                      "half the memory at 100 sessions; sessions share cookies, storage and "
                      "cache, and a renderer crash fails every session in that renderer");
  f->replay->add_flag("-q,--quiet", f->quiet, "No line per finished session");
  add_browser(f->replay);

  return [f] {
    // A snapshot has nothing half-done worth saving: Ctrl-C ends it at once.
    web::InstallTeardown(/*graceful=*/!f->snapshot->parsed());
    if (f->snapshot->parsed()) return RunSnapshot(*f);
    if (f->record->parsed()) return RunRecord(*f);
    if (f->replay->parsed()) return RunReplay(*f);
    return 2;
  };
}

}  // namespace clonebot::cli
