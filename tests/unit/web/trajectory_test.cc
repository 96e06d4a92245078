// Trajectory format v1: parsing, the errors that name their place, and the writer's round trip.
#include "web/trajectory.h"

#include "gtest/gtest.h"

namespace clonebot::web {
namespace {

constexpr const char* kGood = R"({
  "format": "clonebot-trajectory", "version": 1, "start_url": "/form",
  "viewport": {"width": 800, "height": 600},
  "steps": [
    {"t": 0, "kind": "navigate", "url": "/form", "load_t": 40.5},
    {"t": 100, "kind": "click", "selector": "#name", "alternatives": ["input[name=\"name\"]"], "x": 0.25, "y": 0.75, "button": "left", "count": 2},
    {"t": 150, "kind": "type", "selector": "#name", "text": "ë"},
    {"t": 180, "kind": "key", "selector": "#name", "key": "Backspace"},
    {"t": 200, "kind": "scroll", "px": 10, "py": 20, "dx": 0, "dy": 120},
    {"t": 230, "kind": "select", "selector": "select[name=\"color\"]", "value": "blue"},
    {"t": 260, "kind": "click", "selector": "text:a=Next page"},
    {"t": 300, "kind": "navigated", "url": "/nav2", "load_t": 350}
  ],
  "final": {"extract": ["input"], "items": []}
})";

TEST(TrajectoryTest, ParsesEveryKind) {
  auto t = ParseTrajectory(kGood, "j.json");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->start_url, "/form");
  EXPECT_EQ(t->viewport.width, 800);
  ASSERT_EQ(t->steps.size(), 8u);
  EXPECT_EQ(t->steps[0].load_t, 40.5);
  const Step& click = t->steps[1];
  EXPECT_EQ(click.kind, Step::kClick);
  ASSERT_EQ(click.selectors.size(), 2u);
  EXPECT_EQ(click.selectors[1], "input[name=\"name\"]");
  EXPECT_EQ(click.count, 2);
  EXPECT_DOUBLE_EQ(click.x, 0.25);
  EXPECT_EQ(t->steps[2].text, "ë");
  EXPECT_EQ(t->steps[3].key, "Backspace");
  EXPECT_EQ(t->steps[4].dy, 120);
  EXPECT_EQ(t->steps[5].value, "blue");
  EXPECT_EQ(t->steps[7].kind, Step::kNavigated);
  EXPECT_TRUE(t->final_state.is_object());
}

TEST(TrajectoryTest, WriterRoundTrips) {
  auto t = ParseTrajectory(kGood, "j.json");
  ASSERT_TRUE(t.ok());
  std::string text = TrajectoryToJson(*t);
  auto t2 = ParseTrajectory(text, "again.json");
  ASSERT_TRUE(t2.ok()) << t2.status() << "\n" << text;
  ASSERT_EQ(t2->steps.size(), t->steps.size());
  for (size_t i = 0; i < t->steps.size(); ++i) {
    EXPECT_EQ(t2->steps[i].kind, t->steps[i].kind) << i;
    EXPECT_EQ(t2->steps[i].t, t->steps[i].t) << i;
    EXPECT_EQ(t2->steps[i].selectors, t->steps[i].selectors) << i;
    EXPECT_EQ(t2->steps[i].text, t->steps[i].text) << i;
    EXPECT_EQ(t2->steps[i].load_t, t->steps[i].load_t) << i;
  }
  EXPECT_EQ(TrajectoryToJson(*t2), text);  // stable
}

struct BadCase {
  const char* text;
  const char* want;  // a substring of the error
};

TEST(TrajectoryTest, ErrorsNameTheFileAndThePlace) {
  const BadCase cases[] = {
      {"{", "j.json: not valid JSON"},
      {"[]", "not a JSON object"},
      {R"({"format":"x","version":1})", "format is 'x'"},
      {R"({"format":"clonebot-trajectory","version":2,"start_url":"/","steps":[]})",
       "version 2 is not supported"},
      {R"({"format":"clonebot-trajectory","version":1,"start_url":"/","steps":[]})",
       "the first step must be a navigate"},
      {R"({"format":"clonebot-trajectory","version":1,"start_url":"/","steps":[{"t":0,"kind":"navigate","url":"/"},{"t":1,"kind":"hover"}]})",
       "steps[1]: unknown kind 'hover'"},
      {R"({"format":"clonebot-trajectory","version":1,"start_url":"/","steps":[{"t":0,"kind":"navigate","url":"/"},{"t":1,"kind":"click"}]})",
       "steps[1]: missing 'selector'"},
      {R"({"format":"clonebot-trajectory","version":1,"start_url":"/","steps":[{"t":5,"kind":"navigate","url":"/"},{"t":1,"kind":"key","key":"Enter"}]})",
       "steps[1]: 't' goes back in time"},
      {R"({"format":"clonebot-trajectory","version":1,"start_url":"/","steps":[{"t":0,"kind":"navigate","url":"/"},{"t":1,"kind":"key","key":"F13"}]})",
       "steps[1]: unknown key 'F13'"},
      {R"({"format":"clonebot-trajectory","version":1,"start_url":"/","steps":[{"t":0,"kind":"navigate","url":"/"},{"t":1,"kind":"click","selector":"#a","x":2}]})",
       "fractions of the element's box"},
      {R"({"format":"clonebot-trajectory","version":1,"start_url":"/","steps":[{"t":0,"kind":"navigate","url":"/"},{"t":"1","kind":"type","text":"a"}]})",
       "steps[1]: 't' must be a number"},
      {R"({"format":"clonebot-trajectory","version":1,"start_url":"/","viewport":{"width":1},"steps":[]})",
       "viewport: missing 'height'"},
  };
  for (const auto& c : cases) {
    auto t = ParseTrajectory(c.text, "j.json");
    ASSERT_FALSE(t.ok()) << c.text;
    EXPECT_NE(t.status().message().find(c.want), std::string::npos)
        << "got: " << t.status().message() << "\nwant: " << c.want;
    EXPECT_EQ(t.status().message().find('\n'), std::string::npos);  // one line
  }
}

TEST(TrajectoryTest, ResolveUrl) {
  EXPECT_EQ(ResolveUrl("/form", "http://127.0.0.1:8000"), "http://127.0.0.1:8000/form");
  EXPECT_EQ(ResolveUrl("/form", "http://127.0.0.1:8000/"), "http://127.0.0.1:8000/form");
  EXPECT_EQ(ResolveUrl("form", "http://h"), "http://h/form");
  EXPECT_EQ(ResolveUrl("https://x/y", "http://h"), "https://x/y");
  EXPECT_EQ(ResolveUrl("data:text/html,x", "http://h"), "data:text/html,x");
  EXPECT_EQ(ResolveUrl("/form", ""), "/form");
}

}  // namespace
}  // namespace clonebot::web
