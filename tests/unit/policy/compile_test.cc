// Compile() through the userspace BPF interpreter: every action, every operator, first-match
// order, the io_uring rule, the default sandbox policy, and a randomized comparison of the
// compiled program with a direct evaluation of the rules.
#include <linux/audit.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "policy/bpf_interp.h"
#include "policy/policy.h"
#include "policy_test_util.h"

namespace clonebot::policy {
namespace {

using testing::MustCompile;
using testing::MustParse;
using testing::Verdict;
using testing::Yaml;

bool HasNote(const Compiled& c, std::string_view needle) {
  for (const std::string& n : c.notes)
    if (n.find(needle) != std::string::npos) return true;
  return false;
}

TEST(PolicyCompile, SocketFamily) {
  Compiled c = MustCompile(MustParse(Yaml("allow",
                                          "  - syscall: socket\n"
                                          "    when: arg0 == AF_INET\n"
                                          "    action: errno(EACCES)\n")));
  EXPECT_EQ(Verdict(c, "socket", {AF_INET, SOCK_STREAM}), "errno(EACCES)");
  EXPECT_EQ(Verdict(c, "socket", {AF_UNIX, SOCK_STREAM}), "allow");
  EXPECT_EQ(Verdict(c, "socket", {AF_INET6, SOCK_STREAM}), "allow");
  // 64-bit comparison: high bits set is not AF_INET.
  EXPECT_EQ(Verdict(c, "socket", {0x100000000ull | AF_INET}), "allow");
  EXPECT_EQ(Verdict(c, "connect", {AF_INET}), "allow");
  EXPECT_FALSE(c.program.empty());
  EXPECT_TRUE(ValidateSeccompBpf(c.program).ok());
}

TEST(PolicyCompile, EveryActionAsRule) {
  Compiled c = MustCompile(MustParse(Yaml("errno(EPERM)",
                                          "  - {syscall: getpid, action: errno(ENOENT)}\n"
                                          "  - {syscall: getppid, action: kill-process}\n"
                                          "  - {syscall: gettid, action: kill-thread}\n"
                                          "  - {syscall: getuid, action: log}\n"
                                          "  - {syscall: getgid, action: trace(7)}\n"
                                          "  - {syscall: geteuid, action: trace}\n"
                                          "  - {syscall: getegid, action: allow}\n")));
  EXPECT_EQ(Verdict(c, "getpid"), "errno(ENOENT)");
  EXPECT_EQ(Verdict(c, "getppid"), "kill-process");
  EXPECT_EQ(Verdict(c, "gettid"), "kill-thread");
  EXPECT_EQ(Verdict(c, "getuid"), "log");
  EXPECT_EQ(Verdict(c, "getgid"), "trace(7)");
  EXPECT_EQ(Verdict(c, "geteuid"), "trace");
  EXPECT_EQ(Verdict(c, "getegid"), "allow");
  EXPECT_EQ(Verdict(c, "read"), "errno(EPERM)");
}

TEST(PolicyCompile, EveryActionAsDefault) {
  for (const char* def : {"allow", "errno(EACCES)", "kill-process", "kill-thread", "log", "trace(3)"}) {
    Compiled c = MustCompile(MustParse(Yaml(def, "  - {syscall: getppid, action: errno(ENOSYS)}\n")),
                             CompileOptions{.deny_io_uring_unless_named = false});
    EXPECT_EQ(Verdict(c, "read"), def);
    EXPECT_EQ(Verdict(c, "io_uring_setup"), def);
    EXPECT_EQ(Verdict(c, "getppid"), "errno(ENOSYS)") << def;
  }
}

TEST(PolicyCompile, EveryOperator) {
  const uint64_t v = 10;
  const uint64_t xs[] = {0, 9, 10, 11, 0xffffffff, 0x100000000, 0x10000000a, ~uint64_t{0}};
  struct Op {
    const char* text;
    bool (*holds)(uint64_t x, uint64_t v);
  } ops[] = {
      {"==", [](uint64_t x, uint64_t v) { return x == v; }}, {"!=", [](uint64_t x, uint64_t v) { return x != v; }},
      {"<", [](uint64_t x, uint64_t v) { return x < v; }},   {"<=", [](uint64_t x, uint64_t v) { return x <= v; }},
      {">", [](uint64_t x, uint64_t v) { return x > v; }},   {">=", [](uint64_t x, uint64_t v) { return x >= v; }},
  };
  for (const Op& op : ops) {
    for (unsigned arg : {0u, 3u, 5u}) {
      Compiled c = MustCompile(MustParse(Yaml(
          "allow", absl::StrCat("  - syscall: getppid\n    when: arg", arg, " ", op.text, " ", v, "\n",
                                "    action: errno(EACCES)\n"))));
      for (uint64_t x : xs) {
        std::vector<uint64_t> args(6, 0);
        args[arg] = x;
        EXPECT_EQ(Verdict(c, "getppid", args), op.holds(x, v) ? "errno(EACCES)" : "allow")
            << "arg" << arg << " " << op.text << " " << v << " with x=" << x;
      }
    }
  }
  // Values with high bits: the comparison covers all 64 bits.
  Compiled big = MustCompile(MustParse(Yaml("allow", "  - syscall: getppid\n    when: arg1 > 0x1ffffffff\n"
                                                     "    action: kill-thread\n")));
  EXPECT_EQ(Verdict(big, "getppid", {0, 0x1ffffffff}), "allow");
  EXPECT_EQ(Verdict(big, "getppid", {0, 0x200000000}), "kill-thread");
  EXPECT_EQ(Verdict(big, "getppid", {0, 0xffffffff}), "allow");
}

TEST(PolicyCompile, MaskedEqual) {
  Compiled c = MustCompile(MustParse(Yaml("allow",
                                          "  - syscall: socket\n"
                                          "    when: arg1 & SOCK_RAW == SOCK_RAW\n"
                                          "    action: errno(EPERM)\n"
                                          "  - syscall: clone\n"
                                          "    when: arg0 & CLONE_NEWUSER|CLONE_NEWNET == CLONE_NEWUSER\n"
                                          "    action: kill-process\n")));
  EXPECT_EQ(Verdict(c, "socket", {AF_INET, SOCK_RAW}), "errno(EPERM)");
  EXPECT_EQ(Verdict(c, "socket", {AF_INET, SOCK_RAW | SOCK_CLOEXEC}), "errno(EPERM)");
  EXPECT_EQ(Verdict(c, "socket", {AF_INET, SOCK_DGRAM}), "allow");
  EXPECT_EQ(Verdict(c, "socket", {AF_INET, SOCK_STREAM | SOCK_NONBLOCK}), "allow");
  EXPECT_EQ(Verdict(c, "clone", {CLONE_NEWUSER | SIGCHLD}), "kill-process");
  EXPECT_EQ(Verdict(c, "clone", {CLONE_NEWUSER | CLONE_NEWNET | SIGCHLD}), "allow");
  EXPECT_EQ(Verdict(c, "clone", {SIGCHLD}), "allow");
}

TEST(PolicyCompile, ConditionsAreAnded) {
  Compiled c = MustCompile(MustParse(Yaml("allow",
                                          "  - syscall: socket\n"
                                          "    when: [\"arg0 == AF_INET\", \"arg1 & SOCK_RAW == SOCK_RAW\"]\n"
                                          "    action: kill-process\n")));
  EXPECT_EQ(Verdict(c, "socket", {AF_INET, SOCK_RAW}), "kill-process");
  EXPECT_EQ(Verdict(c, "socket", {AF_INET6, SOCK_RAW}), "allow");
  EXPECT_EQ(Verdict(c, "socket", {AF_INET, SOCK_STREAM}), "allow");
}

TEST(PolicyCompile, FirstUnconditionalRuleWins) {
  Policy p = MustParse(Yaml("allow",
                            "  - syscalls: [socket]\n"
                            "    action: errno(EACCES)\n"
                            "  - syscalls: [socket, connect]\n"
                            "    action: kill-process\n"));
  Compiled c = MustCompile(p);
  EXPECT_EQ(Verdict(c, "socket", {AF_INET}), "errno(EACCES)");
  EXPECT_EQ(Verdict(c, "connect"), "kill-process");
  EXPECT_TRUE(HasNote(c, "t.yaml:6:5: never applies to socket: earlier rules decide those calls")) << c.notes.size();

  // The other order: now kill-process wins for socket.
  Compiled r = MustCompile(MustParse(Yaml("allow",
                                          "  - syscalls: [socket, connect]\n"
                                          "    action: kill-process\n"
                                          "  - syscalls: [socket]\n"
                                          "    action: errno(EACCES)\n")));
  EXPECT_EQ(Verdict(r, "socket", {AF_INET}), "kill-process");
  EXPECT_TRUE(HasNote(r, "t.yaml:6:5: never applies: earlier rules decide every call it matches"));
}

TEST(PolicyCompile, ClassThenConditionalRuleIsShadowed) {
  // The example of docs/policy.md: the @network-io rule already decides every socket call.
  Compiled c = MustCompile(MustParse(Yaml("allow",
                                          "  - syscalls: [socket, connect, \"@network-io\"]\n"
                                          "    action: errno(EACCES)\n"
                                          "  - syscall: socket\n"
                                          "    when: [\"arg0 == AF_INET\"]\n"
                                          "    action: kill-process\n")));
  EXPECT_EQ(Verdict(c, "socket", {AF_INET}), "errno(EACCES)");
  EXPECT_EQ(Verdict(c, "accept4"), "errno(EACCES)");
  EXPECT_TRUE(HasNote(c, "t.yaml:6:5: never applies"));
}

TEST(PolicyCompile, ConditionalRulesBeforeFallback) {
  Compiled c = MustCompile(MustParse(Yaml("allow",
                                          "  - syscall: socket\n"
                                          "    when: arg0 == AF_INET\n"
                                          "    action: errno(EACCES)\n"
                                          "  - syscall: socket\n"
                                          "    when: arg0 == AF_INET6\n"
                                          "    action: errno(EAFNOSUPPORT)\n"
                                          "  - syscall: socket\n"
                                          "    action: kill-process\n")));
  EXPECT_EQ(Verdict(c, "socket", {AF_INET}), "errno(EACCES)");
  EXPECT_EQ(Verdict(c, "socket", {AF_INET6}), "errno(EAFNOSUPPORT)");
  EXPECT_EQ(Verdict(c, "socket", {AF_UNIX}), "kill-process");
  EXPECT_EQ(Verdict(c, "socket", {0x100000002}), "kill-process");
}

TEST(PolicyCompile, AllowListWithFallback) {
  // Allow three families, refuse the rest: the allow rules repeat the default, but they must
  // still come before the fallback.
  Compiled c = MustCompile(MustParse(Yaml("allow",
                                          "  - syscall: socket\n    when: arg0 == AF_UNIX\n    action: allow\n"
                                          "  - syscall: socket\n    when: arg0 == AF_INET\n    action: allow\n"
                                          "  - syscall: socket\n    when: arg0 == AF_INET6\n    action: allow\n"
                                          "  - syscall: socket\n    action: errno(EAFNOSUPPORT)\n")));
  for (uint64_t fam : {AF_UNIX, AF_INET, AF_INET6}) EXPECT_EQ(Verdict(c, "socket", {fam}), "allow") << fam;
  for (uint64_t fam : std::vector<uint64_t>{0, 3, 9, 11, AF_NETLINK, AF_PACKET, 0x100000001ull, ~0ull})
    EXPECT_EQ(Verdict(c, "socket", {fam}), "errno(EAFNOSUPPORT)") << fam;
}

TEST(PolicyCompile, OverlappingConditionsFirstMatch) {
  Compiled c = MustCompile(MustParse(Yaml("allow",
                                          "  - {syscall: getppid, when: arg0 > 5, action: errno(EPERM)}\n"
                                          "  - {syscall: getppid, when: arg0 > 2, action: kill-process}\n")));
  EXPECT_EQ(Verdict(c, "getppid", {6}), "errno(EPERM)");
  EXPECT_EQ(Verdict(c, "getppid", {3}), "kill-process");
  EXPECT_EQ(Verdict(c, "getppid", {2}), "allow");

  Compiled r = MustCompile(MustParse(Yaml("allow",
                                          "  - {syscall: getppid, when: arg0 > 2, action: kill-process}\n"
                                          "  - {syscall: getppid, when: arg0 > 5, action: errno(EPERM)}\n")));
  EXPECT_EQ(Verdict(r, "getppid", {6}), "kill-process");
  EXPECT_EQ(Verdict(r, "getppid", {3}), "kill-process");
  EXPECT_TRUE(HasNote(r, "t.yaml:5:5: never applies"));

  // Different arguments: a call matching both takes the first rule's action.
  Compiled m = MustCompile(MustParse(Yaml("allow",
                                          "  - {syscall: socket, when: arg0 == AF_INET, action: errno(EACCES)}\n"
                                          "  - {syscall: socket, when: arg1 == SOCK_RAW, action: kill-process}\n")));
  EXPECT_EQ(Verdict(m, "socket", {AF_INET, SOCK_RAW}), "errno(EACCES)");
  EXPECT_EQ(Verdict(m, "socket", {AF_INET6, SOCK_RAW}), "kill-process");
  EXPECT_EQ(Verdict(m, "socket", {AF_INET6, SOCK_STREAM}), "allow");
}

TEST(PolicyCompile, RuleWithDefaultActionIsNoOp) {
  Compiled c = MustCompile(MustParse(Yaml("errno(EPERM)",
                                          "  - {syscall: getppid, action: errno(EPERM)}\n"
                                          "  - {syscall: read, action: allow}\n")));
  EXPECT_EQ(Verdict(c, "getppid"), "errno(EPERM)");
  EXPECT_EQ(Verdict(c, "read"), "allow");
  EXPECT_EQ(Verdict(c, "write"), "errno(EPERM)");
}

TEST(PolicyCompile, IoUringDeniedUnlessAllowedByName) {
  // A default allow does not count.
  Compiled c = MustCompile(MustParse(Yaml("allow", "  - {syscall: getppid, action: log}\n")));
  EXPECT_EQ(Verdict(c, "io_uring_setup"), "errno(EPERM)");
  EXPECT_EQ(Verdict(c, "io_uring_enter"), "errno(EPERM)");
  EXPECT_EQ(Verdict(c, "io_uring_register"), "errno(EPERM)");
  EXPECT_TRUE(HasNote(c, "io_uring_setup denied (EPERM): the policy does not allow it by name"));
  EXPECT_TRUE(HasNote(c, "io_uring_enter denied (EPERM)"));

  // Neither does a class.
  Compiled cls = MustCompile(MustParse(Yaml("errno(ENOSYS)", "  - {syscalls: [\"@io_uring\"], action: allow}\n")));
  EXPECT_EQ(Verdict(cls, "io_uring_setup"), "errno(EPERM)");
  EXPECT_EQ(Verdict(cls, "io_uring_register"), "errno(EPERM)");
  EXPECT_TRUE(HasNote(cls, "io_uring_setup denied"));

  // Naming io_uring_setup with allow turns the rule off.
  Compiled named = MustCompile(MustParse(Yaml(
      "errno(ENOSYS)", "  - {syscalls: [io_uring_setup, io_uring_enter, io_uring_register], action: allow}\n")));
  EXPECT_EQ(Verdict(named, "io_uring_setup"), "allow");
  EXPECT_EQ(Verdict(named, "io_uring_enter"), "allow");
  EXPECT_FALSE(HasNote(named, "io_uring"));

  // A rule that denies it by name keeps its own action.
  Compiled own = MustCompile(MustParse(Yaml("allow", "  - {syscall: io_uring_setup, action: kill-process}\n")));
  EXPECT_EQ(Verdict(own, "io_uring_setup"), "kill-process");
  EXPECT_EQ(Verdict(own, "io_uring_enter"), "errno(EPERM)");
  EXPECT_FALSE(HasNote(own, "io_uring_setup denied"));

  // Off: the policy decides alone.
  Compiled off = MustCompile(MustParse(Yaml("allow", "  - {syscall: getppid, action: log}\n")),
                             CompileOptions{.deny_io_uring_unless_named = false});
  EXPECT_EQ(Verdict(off, "io_uring_setup"), "allow");
  EXPECT_TRUE(off.notes.empty());
}

TEST(PolicyCompile, DefaultSandboxPolicy) {
  Policy p = DefaultSandboxPolicy();
  EXPECT_EQ(p.origin, "builtin:default");
  EXPECT_EQ(p.default_action.kind, ActionKind::kAllow);
  Compiled c = MustCompile(p);
  for (const char* denied : {"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "bpf",
                             "perf_event_open", "keyctl", "add_key", "request_key", "acct", "swapon", "swapoff",
                             "reboot", "open_by_handle_at", "lookup_dcookie", "io_uring_setup", "io_uring_enter",
                             "io_uring_register"})
    EXPECT_EQ(Verdict(c, denied), "errno(EPERM)") << denied;
  for (const char* allowed : {"read", "write", "openat", "execve", "clone", "clone3", "socket", "ptrace", "mount",
                              "userfaultfd", "getppid"})
    EXPECT_EQ(Verdict(c, allowed), "allow") << allowed;
  EXPECT_TRUE(HasNote(c, "io_uring_setup denied"));
  std::string text = Explain(p, c);
  EXPECT_NE(text.find("policy:  builtin:default (clonepolicy-v1)"), std::string::npos) << text;
  EXPECT_NE(text.find("default: allow"), std::string::npos);
  EXPECT_NE(text.find("kexec_load, kexec_file_load, reboot (replacing or restarting the kernel) -> errno(EPERM)"),
            std::string::npos);
  EXPECT_NE(text.find(absl::StrCat("bpf:     ", c.program.size(), " instructions, written by libseccomp")),
            std::string::npos) << text;
  // The generator annotates its listing with the syscalls and the fall-through.
  auto g = Compile(p, CompileOptions{.backend = CompileOptions::Backend::kGenerator});
  ASSERT_TRUE(g.ok());
  std::string gtext = Explain(p, *g);
  EXPECT_NE(gtext.find("# no rule matched: the default action"), std::string::npos);
  EXPECT_NE(gtext.find("; kexec_load"), std::string::npos) << gtext;
  for (const char* denied : {"kexec_load", "bpf", "io_uring_setup"}) EXPECT_EQ(Verdict(*g, denied), "errno(EPERM)");
}

TEST(PolicyCompile, OtherArchitecturesAreKilled) {
  Compiled c = MustCompile(MustParse(Yaml("allow", "")));
  auto nr = ResolveSyscall("getppid");
  ASSERT_TRUE(nr.ok());
  seccomp_data d = MakeSeccompData(*nr);
  EXPECT_EQ(DescribeSeccompRet(*RunSeccompBpf(c.program, d)), "allow");
  d.arch = AUDIT_ARCH_I386;
  EXPECT_EQ(DescribeSeccompRet(*RunSeccompBpf(c.program, d)), "kill-thread");
  // x32 shares AUDIT_ARCH_X86_64 and sets bit 30 of the number.
  d = MakeSeccompData(0x40000000 | *nr);
  EXPECT_EQ(DescribeSeccompRet(*RunSeccompBpf(c.program, d)), "kill-thread");
  // -1: a call a ptrace tracer skipped; it gets the default action, as with libseccomp.
  Compiled deny = MustCompile(MustParse(Yaml("errno(ENOSYS)", "")));
  EXPECT_EQ(DescribeSeccompRet(*RunSeccompBpf(deny.program, MakeSeccompData(-1))), "errno(ENOSYS)");
  EXPECT_EQ(DescribeSeccompRet(*RunSeccompBpf(deny.program, MakeSeccompData(-2))), "kill-thread");
}

TEST(PolicyCompile, LongProgramsJumpThroughTrampolines) {
  // 300 rules of ~4 instructions: the early "next rule" and dispatch jumps exceed 255.
  std::string rules;
  for (int i = 0; i < 300; i++)
    absl::StrAppend(&rules, "  - {syscall: getppid, when: \"arg0 == ", i, "\", action: errno(", i + 1, ")}\n");
  rules += "  - {syscalls: [\"@network-io\", \"@process\", \"@mount\"], action: log}\n";
  Compiled c = MustCompile(MustParse(Yaml("allow", rules)));
  EXPECT_GT(c.program.size(), 1200u);
  bool has_ja = false;
  for (const sock_filter& f : c.program) has_ja |= f.code == (BPF_JMP | BPF_JA);
  EXPECT_TRUE(has_ja);
  EXPECT_EQ(Verdict(c, "getppid", {0}), "errno(EPERM)");
  EXPECT_EQ(Verdict(c, "getppid", {149}), "errno(150)");  // above EHWPOISON (133): no name
  EXPECT_EQ(Verdict(c, "getppid", {299}), "errno(300)");
  EXPECT_EQ(Verdict(c, "getppid", {300}), "allow");
  EXPECT_EQ(Verdict(c, "getppid", {0x100000000}), "allow");
  EXPECT_EQ(Verdict(c, "socket"), "log");
  EXPECT_EQ(Verdict(c, "umount2"), "log");
  EXPECT_EQ(Verdict(c, "read"), "allow");
}

TEST(PolicyCompile, ErrorsNameTheRule) {
  // 1100 rules of 4 instructions each do not fit the kernel's 4096.
  std::string rules;
  for (int i = 0; i < 1100; i++)
    absl::StrAppend(&rules, "  - {syscall: getppid, when: \"arg0 == ", i, "\", action: kill-process}\n");
  auto c = Compile(MustParse(Yaml("allow", rules)), CompileOptions{.backend = CompileOptions::Backend::kGenerator});
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(std::string(c.status().message()).starts_with("t.yaml: the filter has "));
  EXPECT_TRUE(std::string(c.status().message()).ends_with(" instructions, more than the kernel's limit of 4096"))
      << c.status();

  Policy bad = MustParse(Yaml("allow", "  - {syscall: getppid, action: log}\n"));
  bad.rules[0].syscalls.push_back("nosuchcall");
  c = Compile(bad);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "t.yaml:4:5: unknown syscall 'nosuchcall'");

  Policy big_errno = MustParse(Yaml("allow", "  - {syscall: getppid, action: log}\n"));
  big_errno.rules[0].action = Action{ActionKind::kErrno, 5000};
  c = Compile(big_errno);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "t.yaml:4:5: errno 5000 is out of range (1..4095)");
}

// ---- Randomized: the compiled program against a direct first-match evaluation ----------------

Action Reference(const Policy& p, const std::string& name, const uint64_t* args) {
  for (const Rule& r : p.rules) {
    if (std::find(r.syscalls.begin(), r.syscalls.end(), name) == r.syscalls.end()) continue;
    bool all = true;
    for (const ArgCond& c : r.args) all = all && CondHolds(c, args);
    if (all) return r.action;
  }
  return p.default_action;
}

std::string Describe(const Policy& p) {
  std::string s = absl::StrCat("default ", FormatAction(p.default_action), "\n");
  for (const Rule& r : p.rules) {
    absl::StrAppend(&s, "  ", r.syscalls[0], r.syscalls.size() > 1 ? "+" + r.syscalls[1] : "", " when");
    for (const ArgCond& c : r.args) absl::StrAppend(&s, " [", FormatCond(c), "]");
    absl::StrAppend(&s, " -> ", FormatAction(r.action), "\n");
  }
  return s;
}

TEST(PolicyCompile, RandomPoliciesMatchFirstMatchSemantics) {
  // CLONEBOT_POLICY_FUZZ=N,SEED runs N policies from another seed (deeper runs by hand).
  int iters = 400;
  uint64_t seed = 20240611;
  if (const char* e = getenv("CLONEBOT_POLICY_FUZZ")) sscanf(e, "%d,%lu", &iters, &seed);
  std::mt19937_64 rng(seed);
  const uint64_t values[] = {0, 1, 2, 3, 7, 8, 10, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000,
                             0x100000002, ~uint64_t{0} - 1, ~uint64_t{0}};
  const uint64_t masks[] = {1, 2, 3, 0xf0, 0xff, 0x100000000, 0xffffffff00000000, 0x8000000000000001};
  const Action actions[] = {{ActionKind::kAllow},      {ActionKind::kErrno, 1}, {ActionKind::kErrno, 13},
                            {ActionKind::kKillProcess}, {ActionKind::kLog},      {ActionKind::kTrace, 0, 3}};
  const std::string names[] = {"socket", "connect", "getppid"};
  auto pick = [&](auto& arr) -> const auto& { return arr[rng() % std::size(arr)]; };
  auto near = [&](uint64_t v) { return v + (rng() % 3) - 1; };

  int compiled = 0, checked = 0, by_libseccomp = 0;
  for (int iter = 0; iter < iters; iter++) {
    Policy p;
    p.origin = "random";
    p.default_action = actions[rng() % 4];
    // Every other policy has the shape libseccomp compiles (one rule per syscall, one comparison
    // per argument), so that both backends meet the reference.
    const bool shaped = iter % 2 == 0;
    const int nrules = shaped ? 1 + rng() % 3 : 1 + rng() % 5;
    for (int i = 0; i < nrules; i++) {
      Rule r;
      r.line = i + 1;
      r.syscalls.push_back(shaped ? names[i] : pick(names));
      if (!shaped && rng() % 3 == 0 && r.syscalls[0] != "getppid") r.syscalls.push_back("getppid");
      const int nconds = rng() % 4;
      const unsigned first_arg = rng() % 3;
      for (int k = 0; k < nconds; k++) {
        ArgCond c;
        c.index = shaped ? (first_arg + k) % 3 : rng() % 3;
        c.op = static_cast<CmpOp>(rng() % 7);
        c.value = pick(values);
        if (c.op == CmpOp::kMaskedEq) {
          c.mask = pick(masks);
          c.value = rng() % 8 == 0 ? c.value : (c.value & c.mask);
        }
        r.args.push_back(c);
      }
      r.action = pick(actions);
      p.rules.push_back(std::move(r));
    }
    auto c = Compile(p, CompileOptions{.deny_io_uring_unless_named = false});
    ASSERT_TRUE(c.ok()) << c.status() << "\n" << Describe(p);
    ASSERT_TRUE(ValidateSeccompBpf(c->program).ok());
    compiled++;
    if (c->backend == "libseccomp") by_libseccomp++;
    for (int t = 0; t < 300; t++) {
      uint64_t args[6] = {};
      for (int a = 0; a < 3; a++) args[a] = rng() % 4 == 0 ? rng() : near(pick(values));
      const std::string& name = pick(names);
      const Action want = Reference(p, name, args);
      auto nr = ResolveSyscall(name);
      auto ret = RunSeccompBpf(c->program, MakeSeccompData(*nr, std::span<const uint64_t>(args, 6)));
      ASSERT_TRUE(ret.ok()) << ret.status();
      auto got = ActionFromSeccompRet(*ret);
      ASSERT_TRUE(got.has_value());
      ASSERT_EQ(FormatAction(*got), FormatAction(want))
          << name << "(" << args[0] << ", " << args[1] << ", " << args[2] << ")\n"
          << Describe(p) << c->listing;
      checked++;
    }
  }
  EXPECT_EQ(compiled, iters);
  EXPECT_EQ(checked, compiled * 300);
  EXPECT_GT(by_libseccomp, iters / 4);  // the libseccomp backend was checked too
}

}  // namespace
}  // namespace clonebot::policy
