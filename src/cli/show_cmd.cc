// clonebot show: print a TracePipe file as strace text, JSON lines, a summary or a Perfetto trace.
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_join.h"
#include "abi/arch.h"
#include "cli/commands.h"
#include "trace/render.h"
#include "trace/tracepipe.h"

namespace clonebot::cli {
// Named, not anonymous: the command files are compiled together (a unity build, see
// CMakeLists.txt), and each has its own Fail and flags.
namespace show_cmd {

struct ShowFlags {
  std::string file;
  std::string format = "text";
  std::string output;
  bool tt = false;
  bool durations = false;
  bool info = false;
  uint32_t strsize = 0;
};

int Fail(const std::string& msg, int code = 1) { return cli::Fail("show", msg, code); }

void PrintInfo(trace::TraceReader& r, FILE* out) {
  const auto& h = r.header();
  time_t sec = static_cast<time_t>(h.real_base_ns / 1000000000ull);
  char when[64];
  strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %z", localtime(&sec));
  fprintf(out, "format:    TracePipe %u.%u\n", trace::kFormatMajor, trace::kFormatMinor);
  fprintf(out, "arch:      %s\n", abi::ArchName(h.arch));
  fprintf(out, "kernel:    %s\nhost:      %s\nstarted:   %s\n", h.kernel.c_str(), h.hostname.c_str(), when);
  fprintf(out, "command:   %s\n", absl::StrJoin(h.command, " ").c_str());
  if (!h.attached.empty()) fprintf(out, "attached:  %s\n", absl::StrJoin(h.attached, " ").c_str());
  fprintf(out, "filter:    %s%s\n", h.filter.empty() ? "all" : h.filter.c_str(),
          (h.flags & trace::kHeaderSeccompFilter) ? " (seccomp prefilter)" : "");
  fprintf(out, "strsize:   %u\n", h.strsize);
  uint64_t records = 0;
  trace::RecordRef rec;
  while (r.Next(&rec)) records++;
  fprintf(out, "chunks:    %lu\nrecords:   %lu\nfile size: %lu bytes\n", r.chunks_read(), records, r.file_size());
  fprintf(out, "complete:  %s\n", r.cut().empty() && r.status().ok() ? "yes" : "no");
}

int RunShow(const ShowFlags& f) {
  trace::ShowOptions o;
  if (f.format == "text") o.format = trace::ShowFormat::kText;
  else if (f.format == "jsonl") o.format = trace::ShowFormat::kJsonl;
  else if (f.format == "summary") o.format = trace::ShowFormat::kSummary;
  else if (f.format == "perfetto") o.format = trace::ShowFormat::kPerfetto;
  else return Fail("unknown --format '" + f.format + "' (text, jsonl, summary, perfetto)", 2);
  o.timestamps = f.tt;
  o.durations = f.durations;
  o.strsize = f.strsize;

  auto reader = trace::TraceReader::Open(f.file);
  if (!reader.ok()) return Fail(std::string(reader.status().message()));
  FILE* out = stdout;
  if (!f.output.empty()) {
    out = fopen(f.output.c_str(), "we");
    if (!out) return Fail("cannot create " + f.output + ": " + strerror(errno));
  }
  absl::Status st;
  if (f.info) {
    PrintInfo(**reader, out);
    st = (*reader)->status();
  } else {
    st = trace::RenderTrace(**reader, o, out);
  }
  if (fflush(out) != 0 && errno != EPIPE) return Fail(std::string("write: ") + strerror(errno));
  if (out != stdout) fclose(out);
  if (!st.ok()) return Fail(f.file + ": " + std::string(st.message()));
  if (!(*reader)->cut().empty()) fprintf(stderr, "clonebot: show: %s: %s\n", f.file.c_str(), (*reader)->cut().c_str());
  return 0;
}

}  // namespace show_cmd

RunFn RegisterShow(CLI::App& app) {
  using namespace show_cmd;
  auto f = std::make_shared<ShowFlags>();
  CLI::App* sub = app.add_subcommand("show", "Print a trace file (strace -f text by default).");
  sub->add_option("file", f->file, "trace file (.cbt)")->required();
  sub->add_option("--format", f->format, "text | jsonl | summary | perfetto");
  sub->add_option("-o,--output", f->output, "write to this file instead of stdout");
  sub->add_flag("--tt,-t", f->tt, "prefix lines with the time of day (strace -tt)");
  sub->add_flag("-T,--durations", f->durations, "append the time spent in each syscall (strace -T)");
  sub->add_option("-s,--string-limit", f->strsize, "show at most this many bytes of strings");
  sub->add_flag("--info", f->info, "print the file's header and chunk statistics instead");
  return [f] { return RunShow(*f); };
}

}  // namespace clonebot::cli
