#include "web/trajectory.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/status.h"

namespace clonebot::web {

namespace {

struct KindName {
  Step::Kind kind;
  const char* name;
};
constexpr KindName kKinds[] = {
    {Step::kNavigate, "navigate"}, {Step::kNavigated, "navigated"}, {Step::kClick, "click"},
    {Step::kType, "type"},         {Step::kKey, "key"},             {Step::kScroll, "scroll"},
    {Step::kSelect, "select"},
};

constexpr const char* kKeysAllowed[] = {"Enter",     "Tab",     "Backspace", "Delete", "Escape",
                                        "ArrowLeft", "ArrowUp", "ArrowRight", "ArrowDown",
                                        "Home",      "End",     "PageUp",    "PageDown"};

// Field readers that name the place of an error.
class Reader {
 public:
  Reader(std::string_view file, std::string where) : file_(file), where_(std::move(where)) {}
  absl::Status Err(const std::string& msg) const {
    return absl::InvalidArgumentError(absl::StrCat(file_, ": ", where_, where_.empty() ? "" : ": ",
                                                   msg));
  }
  absl::Status String(const Json& o, const char* key, std::string* out, bool required) const {
    const Json* v = Find(o, key);
    if (v == nullptr) return required ? Err(absl::StrCat("missing '", key, "'")) : absl::OkStatus();
    if (!v->is_string()) return Err(absl::StrCat("'", key, "' must be a string"));
    *out = v->get<std::string>();
    return absl::OkStatus();
  }
  absl::Status Number(const Json& o, const char* key, double* out, bool required) const {
    const Json* v = Find(o, key);
    if (v == nullptr) return required ? Err(absl::StrCat("missing '", key, "'")) : absl::OkStatus();
    if (!v->is_number() || !std::isfinite(v->get<double>())) {
      return Err(absl::StrCat("'", key, "' must be a number"));
    }
    *out = v->get<double>();
    return absl::OkStatus();
  }

 private:
  std::string file_;
  std::string where_;
};

}  // namespace

const char* StepKindName(Step::Kind k) {
  for (const auto& kn : kKinds) {
    if (kn.kind == k) return kn.name;
  }
  return "?";
}

absl::StatusOr<Trajectory> ParseTrajectory(std::string_view text, std::string_view name) {
  Json doc = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  Reader top(name, "");
  if (doc.is_discarded()) return top.Err("not valid JSON");
  if (!doc.is_object()) return top.Err("not a JSON object");
  std::string format;
  RETURN_IF_ERROR(top.String(doc, "format", &format, true));
  if (format != "clonebot-trajectory") {
    return top.Err(absl::StrCat("format is '", format, "', not 'clonebot-trajectory'"));
  }
  double version = 0;
  RETURN_IF_ERROR(top.Number(doc, "version", &version, true));
  if (version != Trajectory::kVersion) {
    return top.Err(absl::StrCat("version ", version, " is not supported (this clonebot reads ",
                                Trajectory::kVersion, ")"));
  }
  Trajectory t;
  RETURN_IF_ERROR(top.String(doc, "start_url", &t.start_url, true));
  RETURN_IF_ERROR(top.String(doc, "recorded_at", &t.recorded_at, false));
  RETURN_IF_ERROR(top.String(doc, "browser", &t.browser, false));
  if (const Json* vp = Find(doc, "viewport")) {
    Reader r(name, "viewport");
    double w = 0, h = 0;
    RETURN_IF_ERROR(r.Number(*vp, "width", &w, true));
    RETURN_IF_ERROR(r.Number(*vp, "height", &h, true));
    if (w < 16 || h < 16 || w > 16384 || h > 16384) return r.Err("width and height: 16..16384");
    t.viewport = Viewport{static_cast<int>(w), static_cast<int>(h)};
  }
  if (const Json* f = Find(doc, "final")) t.final_state = *f;
  const Json* steps = Find(doc, "steps");
  if (steps == nullptr || !steps->is_array()) return top.Err("'steps' must be a list");
  double prev_t = 0;
  for (size_t i = 0; i < steps->size(); ++i) {
    const Json& s = (*steps)[i];
    Reader r(name, absl::StrCat("steps[", i, "]"));
    if (!s.is_object()) return r.Err("not an object");
    Step st;
    std::string kind;
    RETURN_IF_ERROR(r.String(s, "kind", &kind, true));
    bool known = false;
    for (const auto& kn : kKinds) {
      if (kind == kn.name) {
        st.kind = kn.kind;
        known = true;
      }
    }
    if (!known) {
      return r.Err(absl::StrCat("unknown kind '", kind,
                                "' (navigate, navigated, click, type, key, scroll, select)"));
    }
    RETURN_IF_ERROR(r.Number(s, "t", &st.t, true));
    if (st.t < 0) return r.Err("'t' must not be negative");
    if (st.t < prev_t) return r.Err("'t' goes back in time (steps must be in order)");
    prev_t = st.t;
    std::string sel;
    RETURN_IF_ERROR(r.String(s, "selector", &sel, false));
    if (!sel.empty()) st.selectors.push_back(sel);
    if (const Json* alts = Find(s, "alternatives")) {
      if (!alts->is_array()) return r.Err("'alternatives' must be a list of strings");
      for (const auto& a : *alts) {
        if (!a.is_string()) return r.Err("'alternatives' must be a list of strings");
        st.selectors.push_back(a.get<std::string>());
      }
    }
    bool needs_selector = false;
    switch (st.kind) {
      case Step::kNavigate:
      case Step::kNavigated:
        RETURN_IF_ERROR(r.String(s, "url", &st.url, true));
        RETURN_IF_ERROR(r.Number(s, "load_t", &st.load_t, false));
        if (Find(s, "load_t") != nullptr && st.load_t < st.t) return r.Err("'load_t' is before 't'");
        break;
      case Step::kClick: {
        needs_selector = true;
        RETURN_IF_ERROR(r.String(s, "button", &st.button, false));
        if (st.button != "left" && st.button != "middle" && st.button != "right") {
          return r.Err("'button' must be left, middle or right");
        }
        double count = 1;
        RETURN_IF_ERROR(r.Number(s, "count", &count, false));
        if (count < 1 || count > 3) return r.Err("'count' must be 1..3");
        st.count = static_cast<int>(count);
        RETURN_IF_ERROR(r.Number(s, "x", &st.x, false));
        RETURN_IF_ERROR(r.Number(s, "y", &st.y, false));
        if (st.x < 0 || st.x > 1 || st.y < 0 || st.y > 1) {
          return r.Err("'x' and 'y' are fractions of the element's box: 0..1");
        }
        break;
      }
      case Step::kType:
        RETURN_IF_ERROR(r.String(s, "text", &st.text, true));
        if (st.text.empty()) return r.Err("'text' is empty");
        break;
      case Step::kKey: {
        RETURN_IF_ERROR(r.String(s, "key", &st.key, true));
        bool ok = false;
        for (const char* k : kKeysAllowed) ok |= st.key == k;
        if (!ok) return r.Err(absl::StrCat("unknown key '", st.key, "'"));
        break;
      }
      case Step::kScroll:
        RETURN_IF_ERROR(r.Number(s, "px", &st.px, false));
        RETURN_IF_ERROR(r.Number(s, "py", &st.py, false));
        RETURN_IF_ERROR(r.Number(s, "dx", &st.dx, false));
        RETURN_IF_ERROR(r.Number(s, "dy", &st.dy, false));
        break;
      case Step::kSelect:
        needs_selector = true;
        RETURN_IF_ERROR(r.String(s, "value", &st.value, true));
        break;
    }
    if (needs_selector && st.selectors.empty()) return r.Err("missing 'selector'");
    t.steps.push_back(std::move(st));
  }
  if (t.steps.empty() || t.steps[0].kind != Step::kNavigate) {
    return top.Err("the first step must be a navigate");
  }
  return t;
}

absl::StatusOr<Trajectory> LoadTrajectory(const std::string& path) {
  auto text = base::ReadWholeFile(path);
  if (!text) return base::ErrnoError("cannot read %s", path);
  return ParseTrajectory(*text, path);
}

std::string TrajectoryToJson(const Trajectory& t) {
  auto dump = [](const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); };
  Json head = Json::object();
  std::string out = "{\n";
  absl::StrAppend(&out, "  \"format\": \"clonebot-trajectory\",\n  \"version\": ",
                  Trajectory::kVersion, ",\n");
  absl::StrAppend(&out, "  \"start_url\": ", dump(t.start_url), ",\n");
  absl::StrAppend(&out, "  \"viewport\": {\"width\": ", t.viewport.width,
                  ", \"height\": ", t.viewport.height, "},\n");
  if (!t.recorded_at.empty()) absl::StrAppend(&out, "  \"recorded_at\": ", dump(t.recorded_at), ",\n");
  if (!t.browser.empty()) absl::StrAppend(&out, "  \"browser\": ", dump(t.browser), ",\n");
  out += "  \"steps\": [";
  for (size_t i = 0; i < t.steps.size(); ++i) {
    const Step& s = t.steps[i];
    Json j = Json::object();
    // Rounded to microseconds: enough for millisecond timing, and stable text.
    j["t"] = std::round(s.t * 1000) / 1000;
    j["kind"] = StepKindName(s.kind);
    if (!s.selectors.empty()) {
      j["selector"] = s.selectors[0];
      if (s.selectors.size() > 1) {
        j["alternatives"] = std::vector<std::string>(s.selectors.begin() + 1, s.selectors.end());
      }
    }
    switch (s.kind) {
      case Step::kNavigate:
      case Step::kNavigated:
        j["url"] = s.url;
        if (s.load_t >= 0) j["load_t"] = std::round(s.load_t * 1000) / 1000;
        break;
      case Step::kClick:
        j["button"] = s.button;
        j["count"] = s.count;
        j["x"] = std::round(s.x * 1000) / 1000;
        j["y"] = std::round(s.y * 1000) / 1000;
        break;
      case Step::kType:
        j["text"] = s.text;
        break;
      case Step::kKey:
        j["key"] = s.key;
        break;
      case Step::kScroll:
        j["px"] = s.px;
        j["py"] = s.py;
        j["dx"] = s.dx;
        j["dy"] = s.dy;
        break;
      case Step::kSelect:
        j["value"] = s.value;
        break;
    }
    absl::StrAppend(&out, i == 0 ? "\n    " : ",\n    ", dump(j));
  }
  out += t.steps.empty() ? "]" : "\n  ]";
  if (!t.final_state.is_null()) absl::StrAppend(&out, ",\n  \"final\": ", dump(t.final_state));
  out += "\n}\n";
  return out;
}

std::string ResolveUrl(const std::string& url, const std::string& base) {
  if (base.empty() || url.find("://") != std::string::npos || url.rfind("data:", 0) == 0 ||
      url.rfind("about:", 0) == 0) {
    return url;
  }
  std::string b = base;
  while (!b.empty() && b.back() == '/') b.pop_back();
  if (!url.empty() && url[0] == '/') return b + url;
  return b + "/" + url;
}

}  // namespace clonebot::web
