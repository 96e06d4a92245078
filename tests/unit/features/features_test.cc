// Pure logic of the feature probe: /proc text parsers and the capability → backend plan.
#include <set>
#include <string>

#include "abi/features.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clonebot::abi {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Hybrid layout as on the development machines: v1 controllers plus a controller-less cgroup2.
constexpr char kHybridCgroup[] =
    "9:name=systemd:/\n"
    "8:pids:/\n"
    "6:freezer:/\n"
    "4:memory:/process_api/41f3\n"
    "2:cpuacct:/\n"
    "1:cpu:/\n"
    "0::/\n";

constexpr char kHybridMountinfo[] =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
    "50 23 0:40 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n";

TEST(ParseProcCgroup, HybridLines) {
  auto e = ParseProcCgroup(kHybridCgroup);
  ASSERT_EQ(e.size(), 7u);
  EXPECT_EQ(e[0].hierarchy_id, 9);
  EXPECT_THAT(e[0].controllers, ElementsAre("name=systemd"));
  EXPECT_EQ(e[3].path, "/process_api/41f3");
  EXPECT_EQ(e[6].hierarchy_id, 0);
  EXPECT_THAT(e[6].controllers, IsEmpty());
  EXPECT_EQ(e[6].path, "/");
}

TEST(ParseProcCgroup, CombinedControllersColonInPathAndGarbage) {
  auto e = ParseProcCgroup("3:cpu,cpuacct:/a:b\nnot a line\nx:memory:/\n5:pids:relative\n0::/user.slice/x.scope");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_THAT(e[0].controllers, ElementsAre("cpu", "cpuacct"));
  EXPECT_EQ(e[0].path, "/a:b");
  EXPECT_EQ(e[1].path, "/user.slice/x.scope");  // no trailing newline
}

TEST(ParseCgroupMounts, KeepsOnlyCgroupsAndControllers) {
  auto m = ParseCgroupMounts(kHybridMountinfo);
  ASSERT_EQ(m.size(), 7u);  // tmpfs and proc are skipped
  EXPECT_EQ(m[0].mount_point, "/sys/fs/cgroup/cpu");
  EXPECT_THAT(m[0].controllers, ElementsAre("cpu"));
  EXPECT_FALSE(m[0].v2);
  EXPECT_THAT(m[5].controllers, ElementsAre("name=systemd"));  // "xattr" is a flag, not a controller
  EXPECT_TRUE(m[6].v2);
  EXPECT_EQ(m[6].mount_point, "/sys/fs/cgroup/unified");
  EXPECT_THAT(m[6].controllers, IsEmpty());
}

TEST(ParseCgroupMounts, OptionalFieldsAndEscapes) {
  auto m = ParseCgroupMounts(
      "29 23 0:26 /sub /sys/fs/cgroup\\040x rw,nosuid shared:4 master:1 - cgroup2 cgroup2 rw,nsdelegate\n"
      "30 23 0:27 / /mnt/cg rw - cgroup cgroup rw,cpu,cpuacct,release_agent=/x\n"
      "truncated line - cgroup\n");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].mount_point, "/sys/fs/cgroup x");
  EXPECT_EQ(m[0].root, "/sub");
  EXPECT_TRUE(m[0].v2);
  EXPECT_THAT(m[1].controllers, ElementsAre("cpu", "cpuacct"));
}

TEST(CgroupDir, RootMountAndSubtreeMount) {
  CgroupMount root{"/sys/fs/cgroup", "/", true, {}};
  EXPECT_EQ(*CgroupDir(root, "/"), "/sys/fs/cgroup");
  EXPECT_EQ(*CgroupDir(root, "/a/b"), "/sys/fs/cgroup/a/b");
  CgroupMount sub{"/mnt/cg", "/a", false, {"memory"}};
  EXPECT_EQ(*CgroupDir(sub, "/a"), "/mnt/cg");
  EXPECT_EQ(*CgroupDir(sub, "/a/b"), "/mnt/cg/b");
  EXPECT_FALSE(CgroupDir(sub, "/ab").has_value());  // a sibling with a common prefix
  EXPECT_FALSE(CgroupDir(sub, "/").has_value());
}

TEST(ResolveCgroupPaths, Hybrid) {
  CgroupInfo info = ResolveCgroupPaths(ParseProcCgroup(kHybridCgroup), ParseCgroupMounts(kHybridMountinfo),
                                       {"memory", "cpu", "pids", "freezer"});
  EXPECT_EQ(info.v2_mount, "/sys/fs/cgroup/unified");
  EXPECT_EQ(info.v2_self_dir, "/sys/fs/cgroup/unified");
  EXPECT_EQ(info.v1_self_dirs.at("memory"), "/sys/fs/cgroup/memory/process_api/41f3");
  EXPECT_EQ(info.v1_self_dirs.at("pids"), "/sys/fs/cgroup/pids");
  EXPECT_EQ(info.v1_self_dirs.size(), 4u);  // cpuacct and name=systemd were not asked for
}

TEST(ResolveCgroupPaths, PureV2) {
  CgroupInfo info = ResolveCgroupPaths(
      ParseProcCgroup("0::/user.slice/session-1.scope\n"),
      ParseCgroupMounts("29 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n"), {"memory"});
  EXPECT_EQ(info.v2_self_dir, "/sys/fs/cgroup/user.slice/session-1.scope");
  EXPECT_TRUE(info.v1_self_dirs.empty());
}

TEST(ParseControllerList, Splits) {
  EXPECT_THAT(ParseControllerList("cpuset cpu io memory pids\n"), ElementsAre("cpuset", "cpu", "io", "memory", "pids"));
  EXPECT_THAT(ParseControllerList("\n"), IsEmpty());
}

TEST(FeatureName, UniqueAndNamed) {
  std::set<std::string> names;
  for (int i = 0; i < kFeatureCount; ++i) {
    std::string n(FeatureName(static_cast<Feature>(i)));
    EXPECT_NE(n, "?") << i;
    EXPECT_TRUE(names.insert(n).second) << n;
  }
}

KernelFeatures With(std::initializer_list<Feature> have) {
  KernelFeatures kf;
  for (Feature f : have) kf.Mutable(f).available = true;
  return kf;
}

TEST(Plan, CgroupV2NeedsMemoryAndPids) {
  KernelFeatures kf = With({Feature::kCgroupV2, Feature::kCgroupV2Writable, Feature::kCgroupV1});
  kf.cgroup.v2_controllers = {"hugetlb"};
  kf.cgroup.v1_self_dirs = {{"memory", "/m"}, {"pids", "/p"}};
  kf.cgroup.v1_writable = {{"memory", true}, {"pids", true}};
  EXPECT_EQ(ChooseCgroupBackend(kf), CgroupBackend::kV1);
  kf.cgroup.v2_controllers = {"cpu", "memory", "pids"};
  EXPECT_EQ(ChooseCgroupBackend(kf), CgroupBackend::kV2);
  kf.Mutable(Feature::kCgroupV2Writable).available = false;
  EXPECT_EQ(ChooseCgroupBackend(kf), CgroupBackend::kV1);
  kf.cgroup.v1_writable["pids"] = false;
  EXPECT_EQ(ChooseCgroupBackend(kf), CgroupBackend::kNone);
}

TEST(Plan, DirtyTrackingOrder) {
  EXPECT_EQ(ChooseDirtyTracking(With({Feature::kUffdWpAsync, Feature::kPagemapScan, Feature::kSoftDirty})),
            DirtyTracking::kUffdWpAsync);
  EXPECT_EQ(ChooseDirtyTracking(With({Feature::kUffdWpAsync, Feature::kSoftDirty})), DirtyTracking::kSoftDirty);
  EXPECT_EQ(ChooseDirtyTracking(With({Feature::kPagemapScan})), DirtyTracking::kPageHash);
}

TEST(Plan, TraceBackend) {
  EXPECT_EQ(ChooseTraceBackend(With({})), TraceBackend::kNone);
  EXPECT_EQ(ChooseTraceBackend(With({Feature::kPtraceSeize, Feature::kSeccompRetTrace})), TraceBackend::kPtraceSyscall);
  EXPECT_EQ(ChooseTraceBackend(With({Feature::kPtraceSeize, Feature::kSeccompRetTrace, Feature::kPtraceTraceSeccomp})),
            TraceBackend::kPtraceSeccomp);
}

TEST(Plan, DevelopmentMachineShape) {
  // What DESIGN.md reports for the development machines.
  KernelFeatures kf = With({Feature::kPtraceSeize, Feature::kPtraceTraceSeccomp, Feature::kPtraceGetSyscallInfo,
                            Feature::kSeccompFilter, Feature::kSeccompRetTrace, Feature::kSeccompUserNotif,
                            Feature::kSeccompNotifAddFd, Feature::kUffdWpAsync, Feature::kPagemapScan,
                            Feature::kLandlock, Feature::kCgroupV1, Feature::kCgroupV2, Feature::kCgroupV2Writable,
                            Feature::kBpfRawTracepoint, Feature::kPidfdGetfd, Feature::kClone3});
  kf.landlock_abi = 7;
  kf.cgroup.v1_self_dirs = {{"memory", "/sys/fs/cgroup/memory"}, {"pids", "/sys/fs/cgroup/pids"}};
  kf.cgroup.v1_writable = {{"memory", true}, {"pids", true}};
  auto plans = PlanCapabilities(kf);
  ASSERT_EQ(plans.size(), 4u);
  EXPECT_EQ(plans[0].capability, "trace");
  EXPECT_THAT(plans[0].uses, HasSubstr("seccomp-bpf prefilter"));
  EXPECT_THAT(plans[0].fallback, HasSubstr("eBPF"));
  EXPECT_EQ(plans[1].capability, "snapshot");
  EXPECT_THAT(plans[1].uses, HasSubstr("uffd-wp async + PAGEMAP_SCAN"));
  EXPECT_THAT(plans[1].fallback, HasSubstr("page hashing"));
  EXPECT_EQ(plans[2].capability, "run");
  EXPECT_THAT(plans[2].uses, HasSubstr("cgroup v1"));
  EXPECT_THAT(plans[2].uses, HasSubstr("landlock ABI 7"));
  EXPECT_THAT(plans[2].uses, HasSubstr("seccomp unotify + ADDFD"));
  EXPECT_EQ(plans[3].capability, "checkpoint");
  EXPECT_THAT(plans[3].uses, HasSubstr("pidfd_getfd"));
}

TEST(Plan, NothingAvailableStillPlans) {
  auto plans = PlanCapabilities(KernelFeatures{});
  ASSERT_EQ(plans.size(), 4u);
  EXPECT_THAT(plans[0].uses, HasSubstr("unavailable"));
  EXPECT_THAT(plans[1].uses, HasSubstr("page hashing"));
  EXPECT_THAT(plans[2].uses, HasSubstr("no cgroup limits"));
}

}  // namespace
}  // namespace clonebot::abi
