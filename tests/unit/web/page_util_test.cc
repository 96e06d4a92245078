// The pure helpers of web/page.h: base64 decoding in place, PNG header, flag parsers.
#include <string>

#include "gtest/gtest.h"
#include "web/page.h"

namespace clonebot::web {
namespace {

TEST(Base64Test, DecodesInPlace) {
  const std::pair<std::string, std::string> cases[] = {
      {"", ""},          {"Zg==", "f"},       {"Zm8=", "fo"},          {"Zm9v", "foo"},
      {"Zm9vYg==", "foob"}, {"Zm9vYmE=", "fooba"}, {"Zm9vYmFy", "foobar"},
      {"AP8A/w==", std::string("\x00\xff\x00\xff", 4)}, {"Zm9v\nYmFy", "foobar"},
  };
  for (const auto& [in, want] : cases) {
    std::string s = in;
    ASSERT_TRUE(Base64DecodeInPlace(&s)) << in;
    EXPECT_EQ(s, want) << in;
  }
}

TEST(Base64Test, RejectsGarbage) {
  for (const char* bad : {"Zm9v!", "Zg=a", "Z m9v"}) {
    std::string s = bad;
    EXPECT_FALSE(Base64DecodeInPlace(&s)) << bad;
  }
}

TEST(PngTest, ReadsIhdr) {
  std::string png("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x05\x00\x00\x00\x02\xd0", 24);
  uint32_t w = 0, h = 0;
  ASSERT_TRUE(PngSize(png, &w, &h));
  EXPECT_EQ(w, 1280u);
  EXPECT_EQ(h, 720u);
  EXPECT_FALSE(PngSize("GIF89a......................", &w, &h));
  EXPECT_FALSE(PngSize(png.substr(0, 20), &w, &h));
}

TEST(FlagsTest, Viewport) {
  auto v = ParseViewport("800x600");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->width, 800);
  EXPECT_EQ(v->height, 600);
  for (const char* bad : {"", "800", "800x", "x600", "8x600", "800x99999", "axb", "800x600x1"}) {
    EXPECT_FALSE(ParseViewport(bad).ok()) << bad;
  }
}

TEST(FlagsTest, WaitConditions) {
  EXPECT_EQ(ParseWaitCondition("load")->kind, WaitCondition::kLoad);
  EXPECT_EQ(ParseWaitCondition("domcontentloaded")->kind, WaitCondition::kDomContentLoaded);
  EXPECT_EQ(ParseWaitCondition("networkidle")->kind, WaitCondition::kNetworkIdle);
  auto d = ParseWaitCondition("500ms");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->kind, WaitCondition::kDelay);
  EXPECT_EQ(d->delay, Ms(500));
  auto s = ParseWaitCondition("#late");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->kind, WaitCondition::kSelector);
  EXPECT_EQ(s->selector, "#late");
  // "ms" that is not a number is a selector (an element named <xms> is legal CSS).
  EXPECT_EQ(ParseWaitCondition("items")->kind, WaitCondition::kSelector);
  EXPECT_FALSE(ParseWaitCondition("").ok());
  EXPECT_FALSE(ParseWaitCondition("9999999ms").ok());
}

}  // namespace
}  // namespace clonebot::web
