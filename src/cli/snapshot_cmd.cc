// clonebot snapshot: a full or incremental memory snapshot of a live process.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_format.h"
#include "base/supervise.h"
#include "cli/commands.h"
#include "nlohmann/json.hpp"
#include "snapshot/snapshot.h"

namespace clonebot::cli {
// Named, not anonymous: the command files are compiled together (a unity build, see
// CMakeLists.txt), and each has its own Fail and flags.
namespace snapshot_cmd {

struct SnapshotFlags {
  pid_t pid = 0;
  std::string out;
  std::string parent;
  std::string method = "auto";
  std::string format = "text";
  bool no_fork = false;
  bool fork = false;
  bool no_track = false;
  bool force = false;
  bool quiet = false;
  int level = 1;
};

int Fail(const std::string& msg, int code = 1) { return cli::Fail("snapshot", msg, code); }

std::string Bytes(uint64_t b) {
  if (b >= (1ull << 30)) return absl::StrFormat("%.2f GiB", b / double(1ull << 30));
  if (b >= (1ull << 20)) return absl::StrFormat("%.1f MiB", b / double(1ull << 20));
  if (b >= 1024) return absl::StrFormat("%.1f KiB", b / 1024.0);
  return absl::StrFormat("%u B", b);
}

int RunSnapshot(const SnapshotFlags& f) {
  snapshot::SnapshotOptions o;
  o.pid = f.pid;
  o.out_dir = f.out;
  o.parent_dir = f.parent;
  if (f.method == "auto") o.method = snapshot::Method::kAuto;
  else if (f.method == "uffd") o.method = snapshot::Method::kUffd;
  else if (f.method == "hash") o.method = snapshot::Method::kHash;
  else return Fail("unknown --method '" + f.method + "' (auto, uffd, hash)", 2);
  if (f.format != "text" && f.format != "json") return Fail("unknown --format '" + f.format + "' (text, json)", 2);
  if (f.fork && f.no_fork) return Fail("--fork and --no-fork exclude each other", 2);
  o.copy = f.fork ? snapshot::CopyMode::kFork : f.no_fork ? snapshot::CopyMode::kDirect : snapshot::CopyMode::kAuto;
  o.track = !f.no_track;
  o.replace = f.force;
  o.zstd_level = f.level;
  bool tty = isatty(STDERR_FILENO) && !f.quiet;
  if (tty) {
    o.progress = [](uint64_t done, uint64_t total) {
      if (total < 16384) return;  // under 64 MiB: no progress line
      fprintf(stderr, "\rsnapshot: %s of %s read", Bytes(done * 4096).c_str(), Bytes(total * 4096).c_str());
      if (done >= total) fprintf(stderr, "\r\033[K");
      fflush(stderr);
    };
  }
  o.interrupted = base::Interrupted;
  auto r = snapshot::TakeSnapshot(o);
  if (!r.ok()) return Fail(std::string(r.status().message()));
  const auto& s = *r;
  if (f.format == "json") {
    nlohmann::json j = {{"image", s.image},
                        {"manifest", s.manifest_digest},
                        {"pid", s.pid},
                        {"method", s.method},
                        {"copy", s.copy},
                        {"tracking", s.tracking},
                        {"pages_scanned", s.pages_scanned},
                        {"pages_present", s.pages_present},
                        {"pages_written", s.pages_written},
                        {"pages_zero", s.pages_zero},
                        {"pages_unique", s.pages_unique},
                        {"pages_dedup", s.pages_dedup},
                        {"bytes_packed", s.bytes_packed},
                        {"bytes_stored", s.bytes_stored},
                        {"dedup_ratio", s.dedup_ratio()},
                        {"compression_ratio", s.compression_ratio()},
                        {"stopped_ns", s.stopped_ns},
                        {"total_ns", s.total_ns}};
    if (!s.method_note.empty()) j["method_note"] = s.method_note;
    nlohmann::json phases = nlohmann::json::object();
    for (const auto& [name, ns] : s.phases_ns) phases[name] = ns / 1e6;
    j["phases_ms"] = phases;
    printf("%s\n", j.dump().c_str());
  } else {
    if (!s.method_note.empty() && !f.quiet) fprintf(stderr, "clonebot: snapshot: method %s: %s\n", s.method.c_str(), s.method_note.c_str());
    printf("snapshot %s: pid %d, %s, %lu pages scanned, %lu present, %lu written; %s stored "
           "(dedup %.2fx, zstd %.2fx); stopped %.2f ms, total %.3f s\n",
           s.image.c_str(), s.pid, s.method.c_str(), s.pages_scanned, s.pages_present, s.pages_written,
           Bytes(s.bytes_stored).c_str(), s.dedup_ratio(), s.compression_ratio(), s.stopped_ns / 1e6,
           s.total_ns / 1e9);
  }
  return 0;
}

}  // namespace snapshot_cmd

RunFn RegisterSnapshot(CLI::App& app) {
  using namespace snapshot_cmd;
  auto f = std::make_shared<SnapshotFlags>();
  CLI::App* sub = app.add_subcommand("snapshot", "Take a memory snapshot of a live process as an OCI image");
  sub->add_option("pid", f->pid, "Process to snapshot")->required();
  sub->add_option("-o,--output", f->out, "Image directory to create")->required();
  sub->add_option("--parent", f->parent, "Earlier snapshot of the same process: store only what changed since");
  sub->add_option("--method", f->method, "Change detection for --parent: auto (uffd-wp if armed, else hash), uffd, hash");
  sub->add_flag("--fork", f->fork, "Always read through a copy-on-write fork of the target");
  sub->add_flag("--no-fork", f->no_fork, "Copy everything while the target is stopped");
  sub->add_flag("--no-track", f->no_track, "Do not arm uffd-wp write tracking in the target for the next snapshot");
  sub->add_flag("--force", f->force, "Replace the output directory if it exists");
  sub->add_option("--zstd-level", f->level, "zstd level for page packs (default 1)");
  sub->add_option("--format", f->format, "Summary format: text or json");
  sub->add_flag("-q,--quiet", f->quiet, "No progress line, no notes");
  // The work runs in a supervised child: a SIGKILL of clonebot never leaves the target stopped or
  // half-injected (base/supervise.h).
  return [f] { return base::RunSupervised([f] { return RunSnapshot(*f); }); };
}

}  // namespace clonebot::cli
