// clonebot policy: check, explain and test syscall policies (ClonePolicy YAML or Docker seccomp
// JSON) without running anything; docs/policy.md.
//   clonebot policy check FILE...
//   clonebot policy explain FILE | --default
//   clonebot policy test FILE|--default --syscall NAME [--arg0 V ... --arg5 V]
//   clonebot policy classes
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "policy/bpf_interp.h"
#include "policy/policy.h"

namespace clonebot::cli {
// Named, not anonymous: the command files are compiled together (a unity build, see
// CMakeLists.txt), and each has its own Fail and flags.
namespace policy_cmd {

struct PolicyFlags {
  std::vector<std::string> check_files;
  std::string explain_file;
  bool explain_default = false;
  std::string test_file;
  bool test_default = false;
  std::string syscall;
  std::string args[6];
  CLI::App* check = nullptr;
  CLI::App* explain = nullptr;
  CLI::App* test = nullptr;
  CLI::App* classes = nullptr;
};

int Fail(const std::string& msg, int code = 1) { return cli::Fail("policy", msg, code); }

int RunCheck(const PolicyFlags& f) {
  for (const std::string& file : f.check_files) {
    auto p = policy::LoadPolicyFile(file);
    if (!p.ok()) return Fail(std::string(p.status().message()));
    auto c = policy::Compile(*p);
    if (!c.ok()) return Fail(std::string(c.status().message()));
    printf("%s: ok (%zu rules, default %s, %zu BPF instructions)\n", file.c_str(), p->rules.size(),
           policy::FormatAction(p->default_action).c_str(), c->program.size());
    for (const std::string& n : c->notes) {
      // Notes about a rule already start with "FILE:LINE:COL".
      if (n.starts_with(file + ":")) fprintf(stderr, "note: %s\n", n.c_str());
      else fprintf(stderr, "%s: note: %s\n", file.c_str(), n.c_str());
    }
  }
  return 0;
}

absl::StatusOr<policy::Policy> Load(const std::string& file, bool use_default) {
  if (use_default) return policy::DefaultSandboxPolicy();
  return policy::LoadPolicyFile(file);
}

int RunExplain(const PolicyFlags& f) {
  if (f.explain_default == !f.explain_file.empty()) return Fail("explain: give a FILE or --default", 2);
  auto p = Load(f.explain_file, f.explain_default);
  if (!p.ok()) return Fail(std::string(p.status().message()));
  auto c = policy::Compile(*p);
  if (!c.ok()) return Fail(std::string(c.status().message()));
  fputs(policy::Explain(*p, *c).c_str(), stdout);
  return 0;
}

int RunTest(const PolicyFlags& f) {
  if (f.test_default == !f.test_file.empty()) return Fail("test: give a FILE or --default", 2);
  auto nr = policy::ResolveSyscall(f.syscall);
  if (!nr.ok()) return Fail("test: " + std::string(nr.status().message()), 2);
  uint64_t args[6] = {};
  for (int i = 0; i < 6; i++) {
    if (f.args[i].empty()) continue;
    auto v = policy::ParseValue(f.args[i]);
    if (!v.ok()) return Fail(absl::StrFormat("test: --arg%d: %s", i, std::string(v.status().message())), 2);
    args[i] = *v;
  }
  auto p = Load(f.test_file, f.test_default);
  if (!p.ok()) return Fail(std::string(p.status().message()));
  auto c = policy::Compile(*p);
  if (!c.ok()) return Fail(std::string(c.status().message()));
  auto ret = policy::RunSeccompBpf(c->program, policy::MakeSeccompData(*nr, args));
  if (!ret.ok()) return Fail(std::string(ret.status().message()));
  printf("%s(0x%lx, 0x%lx, 0x%lx, 0x%lx, 0x%lx, 0x%lx): %s\n", f.syscall.c_str(), args[0], args[1], args[2],
         args[3], args[4], args[5], policy::DescribeSeccompRet(*ret).c_str());
  return 0;
}

int RunClasses() {
  for (const policy::SyscallClassInfo& c : policy::ListSyscallClasses()) {
    std::string members;
    for (const std::string& m : c.syscalls) members += (members.empty() ? "" : " ") + m;
    printf("@%s: %s\n  %s\n", c.name.c_str(), c.doc.c_str(), members.c_str());
  }
  return 0;
}

}  // namespace policy_cmd

RunFn RegisterPolicy(CLI::App& app) {
  using namespace policy_cmd;
  auto f = std::make_shared<PolicyFlags>();
  CLI::App* sub = app.add_subcommand("policy", "Check, explain and test syscall policies (ClonePolicy or Docker seccomp)");
  sub->require_subcommand(1);
  f->check = sub->add_subcommand("check", "Parse and compile each file; print a one-line summary per file");
  f->check->add_option("files", f->check_files, "Policy files (.yaml ClonePolicy or .json Docker profile)")->required();
  f->explain = sub->add_subcommand("explain", "Print the rules, notes and the compiled BPF (libseccomp pseudo code)");
  f->explain->add_option("file", f->explain_file, "Policy file");
  f->explain->add_flag("--default", f->explain_default, "Explain the built-in policy `clonebot run` uses");
  f->test = sub->add_subcommand("test", "Run the compiled filter on one synthetic syscall and print the action");
  f->test->add_option("file", f->test_file, "Policy file");
  f->test->add_flag("--default", f->test_default, "Test the built-in policy `clonebot run` uses");
  f->test->add_option("--syscall", f->syscall, "Syscall name, e.g. socket")->required();
  for (int i = 0; i < 6; i++)
    f->test->add_option("--arg" + std::to_string(i), f->args[i],
                        "Argument " + std::to_string(i) + ": number, 0x hex or constant such as AF_INET");
  f->classes = sub->add_subcommand("classes", "List the @classes ClonePolicy rules can name");
  return [f] {
    if (f->check->parsed()) return RunCheck(*f);
    if (f->explain->parsed()) return RunExplain(*f);
    if (f->test->parsed()) return RunTest(*f);
    if (f->classes->parsed()) return RunClasses();
    return 2;
  };
}

}  // namespace clonebot::cli
