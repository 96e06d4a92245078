// clonebot diff: what changed between two snapshots, per mapping and per page range.
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "snapshot/chain.h"
#include "snapshot/diff.h"

namespace clonebot::cli {
// Named, not anonymous: the command files are compiled together (a unity build, see
// CMakeLists.txt), and each has its own Fail and flags.
namespace diff_cmd {

struct DiffFlags {
  std::string a, b;
  std::string format = "text";
};

int Fail(const std::string& msg, int code = 1) { return cli::Fail("diff", msg, code); }

int RunDiff(const DiffFlags& f) {
  if (f.format != "text" && f.format != "json") return Fail("unknown --format '" + f.format + "' (text, json)", 2);
  auto a = snapshot::Chain::Open(f.a);
  if (!a.ok()) return Fail(std::string(a.status().message()));
  auto b = snapshot::Chain::Open(f.b);
  if (!b.ok()) return Fail(std::string(b.status().message()));
  snapshot::DiffResult d = snapshot::Diff(**a, **b);
  if (f.format == "json") {
    printf("%s\n", snapshot::DiffToJson(d).dump().c_str());
    return 0;
  }
  size_t unchanged = 0;
  for (const auto& m : d.mappings) {
    if (m.status == "unchanged") {
      unchanged++;
      continue;
    }
    std::string extra = m.status == "changed" ? absl::StrFormat("  %u pages changed", m.changed_pages) : "";
    if (!m.was.empty()) extra += "  (" + m.was + ")";
    printf("%-9s %012lx-%012lx %s %s%s\n", m.status.c_str(), m.m.start, m.m.end, m.m.perms.c_str(),
           m.m.DisplayName().c_str(), extra.c_str());
  }
  for (const auto& c : d.changed)
    printf("  pages   %012lx-%012lx %6lu  %s\n", c.start, c.end, c.pages, c.mapping.c_str());
  printf("%lu pages changed in %zu ranges; %zu mappings unchanged\n", d.changed_pages, d.changed.size(), unchanged);
  return 0;
}

}  // namespace diff_cmd

RunFn RegisterDiff(CLI::App& app) {
  using namespace diff_cmd;
  auto f = std::make_shared<DiffFlags>();
  CLI::App* sub = app.add_subcommand("diff", "Compare two snapshots: mappings and changed pages");
  sub->add_option("a", f->a, "Older snapshot")->required();
  sub->add_option("b", f->b, "Newer snapshot")->required();
  sub->add_option("--format", f->format, "text or json");
  return [f] { return RunDiff(*f); };
}

}  // namespace clonebot::cli
