// clonebot run: a command in a sandbox (namespaces, cgroup limits, rlimits, landlock, seccomp).
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "base/file.h"
#include "cli/commands.h"
#include "policy/policy.h"
#include "sandbox/sandbox.h"

extern char** environ;

namespace clonebot::cli {
// Named, not anonymous: the command files are compiled together (a unity build, see
// CMakeLists.txt), and each has its own Fail and flags.
namespace run_cmd {

struct RunFlags {
  std::string memory_max, pids_max, cpu_max, time_limit;
  std::vector<std::string> rw, ro, tmpfs, rlimits, env, unsetenv;
  std::string net = "none";
  std::string hostname = "clonebot";
  std::string policy, seccomp_profile;
  bool no_seccomp = false;
  bool no_landlock = false;
  bool clearenv = false;
  std::string cwd;
  std::string cgroup = "auto";
  std::string report;
  std::string report_file;
  std::string trace;
};

int Fail(const std::string& msg, int code = 2) { return cli::Fail("run", msg, code); }

int RunRun(CLI::App* sub, const RunFlags& f, const std::vector<std::string>& dashdash) {
  std::vector<std::string> cmd = sub->remaining();
  if (!cmd.empty() && !dashdash.empty()) return Fail("unexpected arguments before --: " + cmd[0]);
  if (cmd.empty()) cmd = dashdash;
  if (cmd.empty()) return Fail("no command given: clonebot run [flags] -- COMMAND [ARGS...]");

  sandbox::Spec spec;
  spec.argv = cmd;
  if (!f.clearenv)
    for (char** e = environ; *e != nullptr; e++) spec.env.emplace_back(*e);
  auto unset = [&](std::string_view name) {
    std::erase_if(spec.env, [&](const std::string& e) { return e.size() > name.size() && e[name.size()] == '=' && e.starts_with(name); });
  };
  for (const auto& u : f.unsetenv) unset(u);
  for (const auto& kv : f.env) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) return Fail("--env wants NAME=VALUE, got '" + kv + "'");
    unset(std::string_view(kv).substr(0, eq));
    spec.env.push_back(kv);
  }
  spec.cwd = f.cwd;
  if (f.net == "host") spec.share_net = true;
  else if (f.net != "none") return Fail("--net takes none or host, got '" + f.net + "'");
  spec.hostname = f.hostname;
  for (const auto& b : f.ro) {
    auto bind = sandbox::ParseBind(b, false);
    if (!bind.ok()) return Fail("--ro: " + std::string(bind.status().message()));
    spec.binds.push_back(*bind);
  }
  for (const auto& b : f.rw) {
    auto bind = sandbox::ParseBind(b, true);
    if (!bind.ok()) return Fail("--rw: " + std::string(bind.status().message()));
    spec.binds.push_back(*bind);
  }
  for (const auto& t : f.tmpfs) {
    if (t.empty() || t[0] != '/' || t == "/") return Fail("--tmpfs wants an absolute directory, got '" + t + "'");
    spec.tmpfs.push_back(t);
  }
  if (!f.memory_max.empty()) {
    auto v = sandbox::ParseSize(f.memory_max);
    if (!v.ok()) return Fail("--memory-max: " + std::string(v.status().message()));
    if (*v < (1u << 20)) return Fail("--memory-max: below 1M, nothing could start");
    spec.limits.memory_max = *v;
  }
  if (!f.pids_max.empty()) {
    uint64_t n = 0;
    if (!absl::SimpleAtoi(f.pids_max, &n) || n == 0) return Fail("--pids-max wants a positive count, got '" + f.pids_max + "'");
    spec.limits.pids_max = n;
  }
  if (!f.cpu_max.empty()) {
    auto v = sandbox::ParseCpu(f.cpu_max);
    if (!v.ok()) return Fail("--cpu-max: " + std::string(v.status().message()));
    spec.limits.cpu_max = *v;
  }
  if (!f.time_limit.empty()) {
    auto v = sandbox::ParseDuration(f.time_limit);
    if (!v.ok()) return Fail("--time-limit: " + std::string(v.status().message()));
    spec.time_limit = *v;
  }
  for (const auto& r : f.rlimits) {
    auto v = sandbox::ParseRlimit(r);
    if (!v.ok()) return Fail("--rlimit: " + std::string(v.status().message()));
    spec.rlimits.push_back(*v);
  }
  if (f.cgroup == "auto") spec.cgroup = sandbox::CgroupChoice::kAuto;
  else if (f.cgroup == "v2") spec.cgroup = sandbox::CgroupChoice::kV2;
  else if (f.cgroup == "v1") spec.cgroup = sandbox::CgroupChoice::kV1;
  else if (f.cgroup == "none") spec.cgroup = sandbox::CgroupChoice::kNone;
  else return Fail("--cgroup takes auto, v2, v1 or none, got '" + f.cgroup + "'");
  if (f.report != "" && f.report != "json" && f.report != "text")
    return Fail("--report takes json or text, got '" + f.report + "'");
  const bool reporting = !f.report.empty() || !f.report_file.empty();
  spec.want_cgroup_stats = reporting && spec.cgroup != sandbox::CgroupChoice::kNone;
  spec.landlock = !f.no_landlock;

  // The seccomp policy: a file (ClonePolicy YAML or a Docker profile), or the built-in default.
  if (!f.policy.empty() && !f.seccomp_profile.empty()) return Fail("--policy and --seccomp-profile exclude each other");
  if (f.no_seccomp && (!f.policy.empty() || !f.seccomp_profile.empty()))
    return Fail("--no-seccomp excludes --policy and --seccomp-profile");
  if (!f.no_seccomp) {
    absl::StatusOr<policy::Policy> pol;
    if (!f.policy.empty()) pol = policy::LoadPolicyFile(f.policy);
    else if (!f.seccomp_profile.empty()) {
      auto text = base::ReadWholeFile(f.seccomp_profile);
      if (!text) return Fail(f.seccomp_profile + ": " + strerror(errno), 1);
      pol = policy::ParseDockerProfile(*text, f.seccomp_profile);
    } else pol = policy::DefaultSandboxPolicy();
    if (!pol.ok()) return Fail(std::string(pol.status().message()), 1);
    auto compiled = policy::Compile(*pol);
    if (!compiled.ok()) return Fail(std::string(compiled.status().message()), 1);
    spec.seccomp = std::move(compiled->program);
  }

  // --trace: the tracer runs inside the sandbox (clonebot is one static binary, bound read-only
  // at /.clonebot-tracer) and writes to a file clonebot opened here, so the path need not be
  // visible inside.
  if (!f.trace.empty()) {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return Fail(std::string("cannot find clonebot's own binary: ") + strerror(errno), 1);
    self[n] = '\0';
    int fd = open(f.trace.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);  // inherited: no O_CLOEXEC
    if (fd < 0) return Fail("--trace " + f.trace + ": " + strerror(errno), 1);
    spec.binds.push_back({self, "/.clonebot-tracer", false});
    std::vector<std::string> argv = {"/.clonebot-tracer", "trace", "--output-fd", std::to_string(fd), "-o", f.trace, "--"};
    argv.insert(argv.end(), spec.argv.begin(), spec.argv.end());
    spec.argv = std::move(argv);
  }
  auto report = sandbox::Run(spec);
  if (!report.ok() && !f.trace.empty()) {
    struct stat sb;
    if (stat(f.trace.c_str(), &sb) == 0 && sb.st_size == 0) unlink(f.trace.c_str());  // no header: nothing ran
  }
  if (!report.ok()) {
    int code = 125;  // like docker/podman: the sandbox, not the command, failed
    if (auto p = report.status().GetPayload("clonebot.exit")) code = std::stoi(std::string(*p));
    return cli::Fail("run", std::string(report.status().message()), code);
  }
  if (report->ended_by == "oom" || report->ended_by == "time" || report->ended_by == "pids") {
    const char* why = report->ended_by == "oom"    ? "killed by the memory limit (OOM)"
                      : report->ended_by == "time" ? "killed at the time limit"
                                                   : "stopped by the pids limit";
    fprintf(stderr, "clonebot: run: %s\n", why);
  }
  if (reporting) {
    std::string text = f.report == "text"
                           ? absl::StrFormat("clonebot: run: exit %d (%s), wall %.1f ms, cpu %.1f ms, peak memory %.1f MiB "
                                             "(%s), cgroup %s, landlock %s\n",
                                             report->exit_code, report->ended_by, report->wall_ms,
                                             report->user_ms + report->sys_ms, report->peak_memory / 1048576.0,
                                             report->peak_memory_source, report->cgroup, report->landlock)
                           : sandbox::ReportJson(*report) + "\n";
    if (!f.report_file.empty()) {
      FILE* out = fopen(f.report_file.c_str(), "w");
      if (out == nullptr) return Fail(f.report_file + ": " + strerror(errno), 1);
      fputs(text.c_str(), out);
      if (fclose(out) != 0) return Fail(f.report_file + ": " + strerror(errno), 1);
    } else {
      fputs(text.c_str(), stderr);
    }
  }
  return report->exit_code;
}

}  // namespace run_cmd

RunFn RegisterRun(CLI::App& app, const std::vector<std::string>* command) {
  using namespace run_cmd;
  auto f = std::make_shared<RunFlags>();
  CLI::App* sub = app.add_subcommand("run", "Run a command in a sandbox: namespaces, cgroup limits, rlimits, landlock, seccomp");
  sub->footer(
      "By default COMMAND gets new user, pid, mount, ipc, uts, net and cgroup namespaces; a\n"
      "read-only /usr, /etc, /opt (and the /bin, /lib links); a fresh /proc; a minimal /dev; an\n"
      "empty tmpfs /tmp; only a loopback network; no capabilities; no_new_privs; landlock rules\n"
      "matching the mounts; and the default seccomp policy (`clonebot policy explain --default`).\n"
      "The working directory is kept when it is visible inside (--ro/--rw), else it is /.\n"
      "Exits with COMMAND's status (128+N if signal N ended it); 125 if the sandbox could not be\n"
      "set up, 126/127 if COMMAND cannot be run / was not found. Signals to clonebot are passed on;\n"
      "if clonebot dies, everything in the sandbox is killed.");
  sub->add_option("--memory-max", f->memory_max, "memory limit (256M, 1G); the command is OOM-killed above it");
  sub->add_option("--pids-max", f->pids_max, "most processes and threads at once");
  sub->add_option("--cpu-max", f->cpu_max, "CPU quota: 50% (half a CPU), 1.5 (one and a half)");
  sub->add_option("--time-limit", f->time_limit, "wall-clock limit (10s, 500ms, 2m): then everything is killed");
  sub->add_option("--rw", f->rw, "bind SRC[:DST] read-write; repeatable");
  sub->add_option("--ro", f->ro, "bind SRC[:DST] read-only; repeatable");
  sub->add_option("--tmpfs", f->tmpfs, "an empty writable tmpfs at DIR; repeatable");
  sub->add_option("--net", f->net, "none (default: only lo) or host (share the host's network)");
  sub->add_option("--hostname", f->hostname, "hostname inside (default clonebot)");
  sub->add_option("--policy", f->policy, "seccomp policy: ClonePolicy YAML (docs/policy.md) or a Docker profile");
  sub->add_option("--seccomp-profile", f->seccomp_profile, "a Docker/OCI seccomp profile (JSON)");
  sub->add_flag("--no-seccomp", f->no_seccomp, "no seccomp filter at all");
  sub->add_flag("--no-landlock", f->no_landlock, "no landlock rules");
  sub->add_option("--rlimit", f->rlimits, "NAME=VALUE or NAME=SOFT:HARD (nofile=1024, as=1G, core=0); repeatable");
  sub->add_option("--env", f->env, "set NAME=VALUE in COMMAND's environment; repeatable");
  sub->add_option("--unsetenv", f->unsetenv, "remove NAME from COMMAND's environment; repeatable");
  sub->add_flag("--clearenv", f->clearenv, "start from an empty environment");
  sub->add_option("--cwd", f->cwd, "working directory inside (must exist there)");
  sub->add_option("--cgroup", f->cgroup, "auto (v2, else v1), v2, v1 or none");
  sub->add_option("--report", f->report, "at the end, print json or text to stderr: wall, cpu, peak memory, what ended it");
  sub->add_option("--report-file", f->report_file, "write the report there instead of stderr");
  sub->add_option("--trace", f->trace, "record every syscall of the sandboxed command into this .cbt file (clonebot show FILE)");
  sub->prefix_command();
  return [sub, f, command] { return RunRun(sub, *f, *command); };
}

}  // namespace clonebot::cli
