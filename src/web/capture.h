// `clonebot web snapshot` (one page: screenshot, HTML, extraction, meta) and `clonebot web
// record` (a user's journey as a trajectory). Output formats: docs/formats/web.md and
// docs/formats/trajectory.md.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "web/browser.h"
#include "web/page.h"

namespace clonebot::web {

struct SnapshotOptions {
  std::string url;
  std::string out_dir;
  std::vector<std::string> extract;
  Viewport viewport;
  bool full_page = false;
  std::vector<WaitCondition> waits;  // empty: load
  Ms timeout = Ms(30000);
  bool allow_http_error = false;
  BrowserOptions browser;
};

// Writes out_dir/{screenshot.png,page.html,extract.json,meta.json} and returns meta.json's
// content. A bad selector or an unreachable URL fails before anything is written; an HTTP error
// status writes everything and then fails (unless allow_http_error).
absl::StatusOr<Json> TakeSnapshot(const SnapshotOptions& opts);

struct RecordOptions {
  std::string url;
  std::string out;  // trajectory path
  Viewport viewport;
  BrowserOptions browser;
  Ms duration{0};                       // stop after this long (0: no limit)
  std::string until;                    // stop once this selector matches
  std::vector<std::string> final_extract = {"input", "textarea", "select"};
  // A trajectory performed as real input while recording (tests, demos): the recording of a
  // driven journey must reproduce it.
  std::string drive;
  std::string drive_url_base;
  // Called with one line per recorded action.
  std::function<void(const std::string&)> progress;
};

// Records until SIGINT/SIGTERM, the window or page closes, --duration, --until, or the end of
// --drive; then writes the trajectory (atomically). Returns the number of steps.
absl::StatusOr<size_t> Record(const RecordOptions& opts);

}  // namespace clonebot::web
