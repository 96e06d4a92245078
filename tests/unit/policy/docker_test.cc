// Docker/OCI seccomp profiles: Docker's own default profile (tests/fixtures/seccomp), the
// action and comparison mapping, includes/excludes, and LoadPolicyFile's format detection.
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "policy/policy.h"
#include "policy_test_util.h"

namespace clonebot::policy {
namespace {

using testing::MustCompile;
using testing::Verdict;

std::string FixturePath() {
  std::string here = __FILE__;  // .../tests/unit/policy/docker_test.cc
  return here.substr(0, here.rfind("/unit/")) + "/fixtures/seccomp/docker-default.json";
}

std::string ReadFixture() {
  std::ifstream in(FixturePath());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Policy DockerDefault(const std::string& kernel = "6.1.0-18-amd64") {
  auto p = ParseDockerProfile(ReadFixture(), "docker-default.json", DockerOptions{kernel});
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : Policy{};
}

bool HasNote(const std::vector<std::string>& notes, std::string_view needle) {
  for (const std::string& n : notes)
    if (n.find(needle) != std::string::npos) return true;
  return false;
}

TEST(PolicyDocker, DefaultProfileLoads) {
  Policy p = DockerDefault();
  EXPECT_EQ(p.format, "docker-seccomp");
  EXPECT_EQ(p.default_action, (Action{ActionKind::kErrno, EPERM}));
  // Kept entries: the big allow list, ptrace & co (minKernel 4.8), socket, 5 x personality,
  // arch_prctl, modify_ldt (amd64), clone (not s390), clone3.
  ASSERT_EQ(p.rules.size(), 12u);
  EXPECT_EQ(p.rules[0].entry, 0);
  EXPECT_GT(p.rules[0].syscalls.size(), 280u);
  EXPECT_EQ(p.rules[2].syscalls, (std::vector<std::string>{"socket"}));
  EXPECT_EQ(p.rules[2].args, (std::vector<ArgCond>{{0, CmpOp::kNe, 40, 0}}));
  const Rule& clone = p.rules[10];
  EXPECT_EQ(clone.entry, 16);
  EXPECT_EQ(clone.args, (std::vector<ArgCond>{{0, CmpOp::kMaskedEq, 0, 0x7e020000}}));
  EXPECT_EQ(p.rules[11].action, (Action{ActionKind::kErrno, ENOSYS}));
  EXPECT_EQ(RuleLocation(p, clone), "docker-default.json: syscalls[16]");

  EXPECT_TRUE(HasNote(p.notes, "skipped 14 entries that apply only with capabilities")) << p.notes.size();
  EXPECT_TRUE(HasNote(p.notes, "skipped 5 entries for other architectures"));
  EXPECT_TRUE(HasNote(p.notes, "syscall names unknown on x86_64: chown32 "));
  EXPECT_TRUE(HasNote(p.notes, " _llseek "));
  EXPECT_FALSE(HasNote(p.notes, "minKernel"));
}

TEST(PolicyDocker, DefaultProfileVerdicts) {
  Policy p = DockerDefault();
  Compiled c = MustCompile(p);
  for (const char* ok : {"read", "write", "openat", "close", "execve", "mmap", "futex", "arch_prctl", "modify_ldt",
                         "io_uring_setup", "ptrace", "process_vm_readv", "getppid", "exit_group"})
    EXPECT_EQ(Verdict(c, ok), "allow") << ok;
  // Only with capabilities in Docker: the sandbox has none.
  for (const char* denied : {"mount", "umount2", "bpf", "unshare", "setns", "reboot", "kexec_load", "init_module",
                             "open_by_handle_at", "perf_event_open", "acct", "iopl", "kcmp", "pidfd_getfd",
                             "settimeofday", "syslog", "chroot", "userfaultfd", "keyctl"})
    EXPECT_EQ(Verdict(c, denied), "errno(EPERM)") << denied;
  // clone: namespaces need CAP_SYS_ADMIN.
  EXPECT_EQ(Verdict(c, "clone", {CLONE_NEWUSER | SIGCHLD}), "errno(EPERM)");
  EXPECT_EQ(Verdict(c, "clone", {CLONE_NEWNET | SIGCHLD}), "errno(EPERM)");
  EXPECT_EQ(Verdict(c, "clone", {SIGCHLD}), "allow");
  const uint64_t pthread_flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
                                 CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
  EXPECT_EQ(Verdict(c, "clone", {pthread_flags}), "allow");
  EXPECT_EQ(Verdict(c, "clone3"), "errno(ENOSYS)");
  EXPECT_EQ(Verdict(c, "socket", {AF_INET, SOCK_STREAM}), "allow");
  EXPECT_EQ(Verdict(c, "socket", {AF_VSOCK, SOCK_STREAM}), "errno(EPERM)");
  for (uint64_t pers : {0ull, 8ull, 0x20000ull, 0x20008ull, 0xffffffffull})
    EXPECT_EQ(Verdict(c, "personality", {pers}), "allow") << pers;
  EXPECT_EQ(Verdict(c, "personality", {READ_IMPLIES_EXEC}), "errno(EPERM)");
  // Named explicitly with allow: the io_uring rule stays out of the way.
  std::string explain = Explain(p, c);
  EXPECT_EQ(explain.find("io_uring_setup denied"), std::string::npos);
  EXPECT_NE(explain.find("syscalls[16]: clone when arg0 & 0x7e020000 == 0 -> allow"), std::string::npos) << explain;
}

TEST(PolicyDocker, MinKernel) {
  Policy old = DockerDefault("4.4.0-210-generic");
  EXPECT_EQ(old.rules.size(), 11u);
  EXPECT_TRUE(HasNote(old.notes, "skipped 1 entries that need a newer kernel (minKernel)"));
  Compiled c = MustCompile(old);
  EXPECT_EQ(Verdict(c, "ptrace"), "errno(EPERM)");
  EXPECT_EQ(Verdict(MustCompile(DockerDefault("4.8.0")), "ptrace"), "allow");
  EXPECT_EQ(Verdict(MustCompile(DockerDefault("4.10.17")), "ptrace"), "allow");
}

TEST(PolicyDocker, LoadPolicyFileDetectsDocker) {
  auto p = LoadPolicyFile(FixturePath());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->format, "docker-seccomp");
  EXPECT_EQ(p->origin, FixturePath());
}

absl::StatusOr<Policy> Docker(const std::string& json) { return ParseDockerProfile(json, "p.json", {"6.1.0"}); }

TEST(PolicyDocker, ActionsAndOperators) {
  auto p = Docker(R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [
      {"name": "getppid", "action": "SCMP_ACT_KILL"},
      {"names": ["getpid"], "action": "SCMP_ACT_KILL_PROCESS"},
      {"names": ["gettid"], "action": "SCMP_ACT_TRACE", "errnoRet": 5},
      {"names": ["getuid"], "action": "SCMP_ACT_LOG"},
      {"names": ["getgid"], "action": "SCMP_ACT_ERRNO"},
      {"names": ["geteuid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
      {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97,
       "args": [{"index": 1, "value": 3, "valueTwo": 3, "op": "SCMP_CMP_MASKED_EQ"},
                {"index": 0, "value": 10, "op": "SCMP_CMP_GE"}]},
      {"names": ["kill"], "action": "SCMP_ACT_ERRNO",
       "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 19, "op": "SCMP_CMP_EQ"}]},
      {"names": ["nosuchcall", "chown32"], "action": "SCMP_ACT_ERRNO"},
      {"names": ["uname"], "action": "SCMP_ACT_ERRNO", "excludes": {"arches": ["amd64"]}},
      {"names": ["sysinfo"], "action": "SCMP_ACT_ERRNO", "includes": {"arches": ["arm64", "amd64"]}},
      {"names": ["times"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_SYS_ADMIN"]}}
    ]})");
  ASSERT_TRUE(p.ok()) << p.status();
  Compiled c = MustCompile(*p);
  EXPECT_EQ(Verdict(c, "getppid"), "kill-thread");
  EXPECT_EQ(Verdict(c, "getpid"), "kill-process");
  EXPECT_EQ(Verdict(c, "gettid"), "trace(5)");
  EXPECT_EQ(Verdict(c, "getuid"), "log");
  EXPECT_EQ(Verdict(c, "getgid"), "errno(EPERM)");
  EXPECT_EQ(Verdict(c, "geteuid"), "errno(EACCES)");
  // MASKED_EQ: value is the mask, valueTwo the datum; both conditions must hold.
  EXPECT_EQ(Verdict(c, "socket", {AF_INET6, SOCK_RAW}), "errno(EAFNOSUPPORT)");
  EXPECT_EQ(Verdict(c, "socket", {AF_INET6, SOCK_DGRAM}), "allow");
  EXPECT_EQ(Verdict(c, "socket", {AF_INET, SOCK_RAW}), "allow");
  // One index twice: each comparison is a rule of its own (OR), as runc does.
  EXPECT_EQ(Verdict(c, "kill", {1, SIGKILL}), "errno(EPERM)");
  EXPECT_EQ(Verdict(c, "kill", {1, SIGSTOP}), "errno(EPERM)");
  EXPECT_EQ(Verdict(c, "kill", {1, SIGTERM}), "allow");
  EXPECT_EQ(Verdict(c, "uname"), "allow");
  EXPECT_EQ(Verdict(c, "sysinfo"), "errno(EPERM)");
  EXPECT_EQ(Verdict(c, "times"), "errno(EPERM)");
  EXPECT_TRUE(HasNote(p->notes, "skipped 2 syscall names unknown on x86_64: nosuchcall chown32"));
  EXPECT_TRUE(HasNote(p->notes, "skipped 1 entries for other architectures"));
}

TEST(PolicyDocker, DefaultErrnoRet) {
  auto p = Docker(R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38})");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->default_action, (Action{ActionKind::kErrno, ENOSYS}));
  EXPECT_EQ(Verdict(MustCompile(*p), "getppid"), "errno(ENOSYS)");
}

TEST(PolicyDocker, Errors) {
  auto err = [](const std::string& json) {
    auto p = Docker(json);
    return p.ok() ? std::string("(parsed fine)") : std::string(p.status().message());
  };
  EXPECT_EQ(err(R"({"defaultAction": "SCMP_ACT_TRAP"})"),
            "p.json: defaultAction: SCMP_ACT_TRAP is not supported: the sandboxed program has no SIGSYS handler; "
            "use SCMP_ACT_ERRNO or SCMP_ACT_KILL_THREAD");
  EXPECT_EQ(err(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_FOO"}]})"),
            "p.json: syscalls[0]: unknown action 'SCMP_ACT_FOO'");
  EXPECT_EQ(err(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]})"),
            "p.json: syscalls[0]: SCMP_ACT_NOTIFY is not supported (no seccomp listener)");
  EXPECT_EQ(err(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ALLOW"}]})"),
            "p.json: syscalls[0]: missing 'names'");
  EXPECT_EQ(err(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                    "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]})"),
            "p.json: syscalls[0].args[0]: 'index' must be 0..5");
  EXPECT_EQ(err(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                    "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_APPROX"}]}]})"),
            "p.json: syscalls[0].args[0]: unknown op 'SCMP_CMP_APPROX'");
  EXPECT_EQ(err(R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 0})"),
            "p.json: defaultAction: defaultErrnoRet 0 is not supported (clonebot needs 1..4095)");
  EXPECT_EQ(err(R"({"syscalls": []})"), "p.json: missing 'defaultAction'");
  EXPECT_EQ(err("{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\",\n  \"syscalls\": [,]\n}"),
            "p.json:3:16: JSON syntax error: syntax error while parsing value - unexpected ','; expected '[', '{', "
            "or a literal");
}

TEST(PolicyDocker, LoadPolicyFileFormatsAndErrors) {
  char dir[] = "/tmp/clonebot-policy-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  auto write = [&](const std::string& name, const std::string& text) {
    std::string path = std::string(dir) + "/" + name;
    std::ofstream(path) << text;
    return path;
  };
  // JSON without defaultAction is YAML flow style: a ClonePolicy.
  std::string flow = write("flow.json", R"({"clonepolicy": 1, "default": "log", "rules": []})");
  auto p = LoadPolicyFile(flow);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->format, "clonepolicy-v1");
  EXPECT_EQ(p->default_action.kind, ActionKind::kLog);

  std::string broken = write("broken.json", "{\"defaultAction\": \"SCMP_ACT_ALLOW\",}");
  p = LoadPolicyFile(broken);
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(std::string(p.status().message()).starts_with(broken + ":1:36: JSON syntax error")) << p.status();

  std::string yaml = write("p.yaml", "clonepolicy: 1\ndefault: bogus\n");
  p = LoadPolicyFile(yaml);
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(std::string(p.status().message()).starts_with(yaml + ":2:10: unknown action 'bogus'")) << p.status();

  p = LoadPolicyFile(std::string(dir) + "/missing.yaml");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), std::string(dir) + "/missing.yaml: cannot open: No such file or directory");
  for (const char* f : {"flow.json", "broken.json", "p.yaml"}) unlink((std::string(dir) + "/" + f).c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace clonebot::policy
