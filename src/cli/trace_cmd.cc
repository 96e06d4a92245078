// clonebot trace: record every syscall of a command or of running processes into a .cbt file.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "base/clock.h"
#include "base/unique_fd.h"
#include "cli/commands.h"
#include "trace/filter.h"
#include "trace/tracepipe.h"
#include "trace/tracer.h"

namespace clonebot::cli {
// Named, not anonymous: the command files are compiled together (a unity build, see
// CMakeLists.txt), and each has its own Fail and flags.
namespace trace_cmd {

struct TraceFlags {
  std::string output = "trace.cbt";
  std::vector<std::string> exprs;
  std::vector<int> pids;
  uint32_t strsize = 32;
  bool follow = true;
  bool no_seccomp = false;
  bool no_compress = false;
  bool stats = false;
  bool no_pin = false;
  int output_fd = -1;
};

int Fail(const std::string& msg, int code = 1) { return cli::Fail("trace", msg, code); }

int RunTrace(CLI::App* sub, const TraceFlags& f, const std::vector<std::string>& dashdash) {
  // "trace -o x -- ls -l" (main split off the command) or "trace -o x ls -l" (option parsing
  // stops at "ls").
  std::vector<std::string> cmd = sub->remaining();
  if (!cmd.empty() && !dashdash.empty())
    return Fail("unexpected arguments before --: " + cmd[0], 2);
  if (cmd.empty()) cmd = dashdash;
  if (cmd.empty() == f.pids.empty()) {
    return Fail(cmd.empty() ? "nothing to trace: give a command (after --) or -p PID"
                            : "give either a command or -p PID, not both", 2);
  }
  auto filter = trace::SyscallFilter::Parse(f.exprs);
  if (!filter.ok()) return Fail(std::string(filter.status().message()), 2);

  trace::TracerOptions opts;
  opts.command = cmd;
  for (int p : f.pids) {
    if (p <= 0) return Fail("-p " + std::to_string(p) + ": not a process id", 2);
    opts.attach.push_back(p);
  }
  opts.filter = *filter;
  opts.strsize = f.strsize;
  opts.seccomp_prefilter = !f.no_seccomp;
  opts.pin_cpu = !f.no_pin;
  if (!cmd.empty()) {
    // Fail before creating the output file if the command does not exist.
    auto resolved = trace::ResolveCommand(cmd[0]);
    if (!resolved.ok()) return Fail(std::string(resolved.status().message()), 127);
  }

  trace::HeaderInfo info;
  info.strsize = f.strsize;
  info.tracer_pid = static_cast<uint32_t>(getpid());
  info.mono_base_ns = base::MonotonicNs();
  info.real_base_ns = base::RealtimeNs();
  utsname u;
  if (uname(&u) == 0) {
    info.kernel = u.release;
    info.hostname = u.nodename;
  }
  info.command = cmd;
  info.filter = filter->expr();
  for (int p : f.pids) info.attached.push_back(static_cast<uint32_t>(p));
  if (!f.pids.empty()) info.flags |= trace::kHeaderAttached;
  if (!cmd.empty() && !filter->all() && !f.no_seccomp) info.flags |= trace::kHeaderSeccompFilter;

  trace::WriterOptions wo;
  wo.compress = !f.no_compress;
  absl::StatusOr<std::unique_ptr<trace::TraceWriter>> writer;
  if (f.output_fd >= 0) {
    base::UniqueFd fd(fcntl(f.output_fd, F_DUPFD_CLOEXEC, 3));
    if (!fd) return Fail("--output-fd " + std::to_string(f.output_fd) + ": " + strerror(errno), 2);
    close(f.output_fd);  // the command must not inherit it
    writer = trace::TraceWriter::CreateOnFd(std::move(fd), info, wo);
  } else {
    writer = trace::TraceWriter::Create(f.output, info, wo);
  }
  if (!writer.ok()) return Fail(std::string(writer.status().message()));

  auto outcome = trace::RunTracer(opts, **writer);
  absl::Status closed = (*writer)->Close();
  if (!outcome.ok()) {
    int code = absl::IsNotFound(outcome.status()) ? 1 : 1;
    if (!cmd.empty()) code = 127;
    return Fail(std::string(outcome.status().message()), code);
  }
  if (!closed.ok()) return Fail(std::string(closed.message()));
  if (f.stats) {
    auto ws = (*writer)->stats();
    const auto& ts = outcome->stats;
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    fprintf(stderr,
            "clonebot: trace: %lu syscalls, %lu signals, %lu tasks, %lu stops%s; %lu records, "
            "%lu bytes raw, %lu bytes in %s (%.1f bytes/syscall); tracer peak RSS %ld KiB\n",
            ts.syscalls, ts.signals, ts.tasks_seen, ts.stops, ts.used_seccomp ? " (seccomp prefilter)" : "",
            ws.records, ws.raw_bytes, ws.file_bytes, f.output.c_str(),
            ts.syscalls ? static_cast<double>(ws.file_bytes) / static_cast<double>(ts.syscalls) : 0.0,
            ru.ru_maxrss);
  }
  return outcome->exit_code;
}

}  // namespace trace_cmd

RunFn RegisterTrace(CLI::App& app, const std::vector<std::string>* command) {
  using namespace trace_cmd;
  auto f = std::make_shared<TraceFlags>();
  CLI::App* sub = app.add_subcommand(
      "trace", "Record every syscall of a command, or of running processes (-p), into a .cbt file");
  sub->footer(
      "Forks, threads and execs are followed. Exits with COMMAND's status (128+N if killed by\n"
      "signal N). With a partial -e trace= filter a spawned COMMAND runs under a seccomp\n"
      "prefilter: unselected syscalls run at native speed, and COMMAND cannot outlive clonebot\n"
      "(it is killed if clonebot dies, as under strace --seccomp-bpf). Ctrl-C goes to COMMAND;\n"
      "SIGTERM/SIGHUP to clonebot are passed on to it. Attached processes are detached on\n"
      "Ctrl-C/SIGTERM/SIGHUP and run on; if clonebot is killed, the kernel detaches them.\n"
      "Show the trace with: clonebot show FILE");
  sub->add_option("-o,--output", f->output, "trace file to write (default trace.cbt)");
  sub->add_option("-e,--expr", f->exprs,
                  "syscalls to record: trace=NAME,%CLASS,/REGEX,!SET (strace syntax); repeatable");
  sub->add_option("-p,--pid", f->pids, "attach to a running process (all its threads); repeatable");
  sub->add_option("-s,--string-limit", f->strsize, "bytes of strings and buffers to keep (default 32)")
      ->check(CLI::Range(0u, 1u << 20));
  sub->add_flag("-f,--follow", f->follow, "follow forks and threads (always on; accepted for strace habits)");
  sub->add_flag("--no-seccomp", f->no_seccomp, "stop at every syscall even with a filter (no prefilter)");
  sub->add_flag("--no-compress", f->no_compress, "store chunks uncompressed");
  sub->add_flag("--no-pin", f->no_pin,
                "let COMMAND use all CPUs (by default it and the tracer share one, which makes\n"
                "each stop several times cheaper; COMMAND still sees its own affinity mask)");
  sub->add_flag("--stats", f->stats, "print what was recorded to stderr at the end");
  sub->add_option("--output-fd", f->output_fd, "write the trace to this open file descriptor (used by run --trace)")
      ->group("");
  sub->prefix_command();
  return [sub, f, command] { return RunTrace(sub, *f, *command); };
}

}  // namespace clonebot::cli
