// Trajectory: a recorded web journey (docs/formats/trajectory.md, format version 1).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "web/cdp.h"
#include "web/page.h"

namespace clonebot::web {

struct Step {
  enum Kind { kNavigate, kNavigated, kClick, kType, kKey, kScroll, kSelect };
  Kind kind = kClick;
  double t = 0;  // milliseconds from the start of the journey
  // navigate, navigated: when the document had loaded during the recording (-1: unknown, taken
  // as t). Replay plans the steps after a navigation from the moment it has loaded.
  double load_t = -1;
  // Candidates for the target element, most robust first (selector, then alternatives).
  std::vector<std::string> selectors;
  std::string url;     // navigate, navigated
  std::string text;    // type
  std::string key;     // key
  std::string value;   // select
  std::string button = "left";  // click
  int count = 1;                // click
  double x = 0.5, y = 0.5;      // click: point as fractions of the element's box
  double px = 0, py = 0;        // scroll: the pointer in viewport CSS pixels
  double dx = 0, dy = 0;        // scroll: wheel deltas
};

const char* StepKindName(Step::Kind k);

struct Trajectory {
  static constexpr int kVersion = 1;
  std::string start_url;
  Viewport viewport;
  std::string recorded_at;  // ISO 8601 UTC, informational
  std::string browser;      // product string of the recording browser, informational
  std::vector<Step> steps;
  Json final_state;         // optional: extraction at the end of the recording
};

// Parses |text| (the contents of |name|, for messages). Every error names the file and the
// place: "journey.json: steps[3]: 'selector' must be a string".
absl::StatusOr<Trajectory> ParseTrajectory(std::string_view text, std::string_view name);
absl::StatusOr<Trajectory> LoadTrajectory(const std::string& path);
// Pretty JSON, one step per line.
std::string TrajectoryToJson(const Trajectory& t);

// Resolves |url| against |base| when it is relative ("/form" + "http://127.0.0.1:8000").
std::string ResolveUrl(const std::string& url, const std::string& base);

}  // namespace clonebot::web
