// Flag parsers of `clonebot run`: values a user writes, and the errors they get.
#include <sys/resource.h>

#include "gtest/gtest.h"
#include "sandbox/sandbox.h"

namespace clonebot::sandbox {
namespace {

TEST(ParseSize, UnitsAndFractions) {
  EXPECT_EQ(*ParseSize("4096"), 4096u);
  EXPECT_EQ(*ParseSize("256M"), 256ull << 20);
  EXPECT_EQ(*ParseSize("256m"), 256ull << 20);
  EXPECT_EQ(*ParseSize("1G"), 1ull << 30);
  EXPECT_EQ(*ParseSize("1GiB"), 1ull << 30);
  EXPECT_EQ(*ParseSize("1.5G"), 3ull << 29);
  EXPECT_EQ(*ParseSize("64k"), 64ull << 10);
}

TEST(ParseSize, Rejects) {
  for (const char* bad : {"", "M", "12Q", "-1G", "1e3", "abc", "1.2.3G", "99999999999T"}) {
    auto r = ParseSize(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
  EXPECT_NE(ParseSize("12Q").status().message().find("12Q"), std::string::npos);
}

TEST(ParseCpu, PercentAndCpus) {
  EXPECT_DOUBLE_EQ(*ParseCpu("50%"), 0.5);
  EXPECT_DOUBLE_EQ(*ParseCpu("200%"), 2.0);
  EXPECT_DOUBLE_EQ(*ParseCpu("1.5"), 1.5);
  EXPECT_FALSE(ParseCpu("fast").ok());
  EXPECT_FALSE(ParseCpu("0%").ok());
  EXPECT_FALSE(ParseCpu("50%%").ok());
}

TEST(ParseDuration, Units) {
  EXPECT_EQ(ParseDuration("10s")->count(), 10000);
  EXPECT_EQ(ParseDuration("500ms")->count(), 500);
  EXPECT_EQ(ParseDuration("2m")->count(), 120000);
  EXPECT_EQ(ParseDuration("1h")->count(), 3600000);
  EXPECT_EQ(ParseDuration("1.5")->count(), 1500);
  EXPECT_FALSE(ParseDuration("soon").ok());
  EXPECT_FALSE(ParseDuration("10d").ok());
  EXPECT_FALSE(ParseDuration("0s").ok());
}

TEST(ParseRlimit, NamesValuesAndPairs) {
  auto r = ParseRlimit("nofile=1024");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->resource, RLIMIT_NOFILE);
  EXPECT_EQ(r->soft, 1024u);
  EXPECT_EQ(r->hard, 1024u);
  r = ParseRlimit("AS=1G:2G");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->resource, RLIMIT_AS);
  EXPECT_EQ(r->soft, 1ull << 30);
  EXPECT_EQ(r->hard, 2ull << 30);
  r = ParseRlimit("rlimit_core=unlimited");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->resource, RLIMIT_CORE);
  EXPECT_EQ(r->soft, static_cast<uint64_t>(RLIM_INFINITY));
}

TEST(ParseRlimit, Rejects) {
  auto r = ParseRlimit("nofiles=10");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nofiles"), std::string::npos);
  EXPECT_NE(r.status().message().find("nofile,"), std::string::npos);  // lists the known names
  EXPECT_FALSE(ParseRlimit("nofile").ok());
  EXPECT_FALSE(ParseRlimit("nofile=").ok());
  EXPECT_FALSE(ParseRlimit("nofile=x").ok());
  EXPECT_FALSE(ParseRlimit("nofile=20:10").ok());  // soft above hard
}

TEST(ParseBind, SourceTargetAndChecks) {
  auto b = ParseBind("/usr/share", false);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->source, "/usr/share");
  EXPECT_EQ(b->target, "/usr/share");
  EXPECT_FALSE(b->writable);
  b = ParseBind("/usr/share:/data/", true);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->target, "/data");
  EXPECT_TRUE(b->writable);
  EXPECT_EQ(ParseBind("/definitely/not/here", false).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(ParseBind("/usr:relative", false).ok());
  EXPECT_FALSE(ParseBind("/usr:/", false).ok());
  EXPECT_FALSE(ParseBind("/usr:/proc/self", false).ok());
  EXPECT_FALSE(ParseBind("/usr:/a/../b", false).ok());
  EXPECT_FALSE(ParseBind(":/x", false).ok());
}

TEST(ReportJson, CarriesEveryField) {
  Report r;
  r.exit_code = 137;
  r.signaled = true;
  r.signal = 9;
  r.ended_by = "oom";
  r.peak_memory = 67108864;
  r.cgroup = "v1";
  std::string j = ReportJson(r);
  for (const char* key : {"\"exit_code\":137", "\"signaled\":true", "\"signal\":9", "\"ended_by\":\"oom\"",
                          "\"peak_memory_bytes\":67108864", "\"cgroup\":\"v1\"", "\"wall_ms\"", "\"cpu_ms\""})
    EXPECT_NE(j.find(key), std::string::npos) << key << " in " << j;
}

}  // namespace
}  // namespace clonebot::sandbox
