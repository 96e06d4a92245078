// clonebot inspect: what a snapshot image holds (metadata, mappings, sizes, parent chain).
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "snapshot/chain.h"

namespace clonebot::cli {
// Named, not anonymous: the command files are compiled together (a unity build, see
// CMakeLists.txt), and each has its own Fail and flags.
namespace inspect_cmd {

struct InspectFlags {
  std::string image;
  std::string format = "text";
};

int Fail(const std::string& msg, int code = 1) { return cli::Fail("inspect", msg, code); }

int RunInspect(const InspectFlags& f) {
  if (f.format != "text" && f.format != "json") return Fail("unknown --format '" + f.format + "' (text, json)", 2);
  auto chain = snapshot::Chain::Open(f.image);
  if (!chain.ok()) return Fail(std::string(chain.status().message()));
  const snapshot::Image& img = (*chain)->leaf();
  const nlohmann::json& m = img.meta();
  uint64_t index_bytes = 0, pack_bytes = 0, packs = 0;
  for (const auto& l : img.layout->layers()) {
    if (l.media_type == snapshot::kIndexMediaType) index_bytes += l.size;
    else if (l.media_type == snapshot::kPackMediaType) {
      pack_bytes += l.size;
      packs++;
    }
  }
  nlohmann::json chain_j = nlohmann::json::array();
  for (size_t i = (*chain)->levels().size(); i-- > 0;) {
    const auto& lv = *(*chain)->levels()[i];
    chain_j.push_back({{"dir", lv.layout->dir()},
                       {"manifest", lv.layout->manifest_descriptor().digest},
                       {"method", lv.method},
                       {"created", lv.created}});
  }
  if (f.format == "json") {
    nlohmann::json j = m;
    j["manifest"] = img.layout->manifest_descriptor().digest;
    j["sizes"] = {{"index_bytes", index_bytes}, {"pack_bytes", pack_bytes}, {"packs", packs},
                  {"config_bytes", img.layout->config().size}};
    j["chain"] = chain_j;
    printf("%s\n", j.dump().c_str());
    return 0;
  }
  const nlohmann::json& st = m.contains("stats") ? m["stats"] : nlohmann::json::object();
  auto num = [&](const char* k) { return st.value(k, uint64_t{0}); };
  printf("image:     %s\nmanifest:  %s\ncreated:   %s\n", img.layout->dir().c_str(),
         img.layout->manifest_descriptor().digest.c_str(), m.value("created", "").c_str());
  std::vector<std::string> argv = m.value("cmdline", std::vector<std::string>{});
  printf("process:   pid %d (%s) %s\n", m.value("pid", 0), m.value("comm", "").c_str(), absl::StrJoin(argv, " ").c_str());
  printf("kernel:    %s %s\n", m.value("arch", "").c_str(), m.value("kernel", "").c_str());
  printf("method:    %s%s (copy: %s)\n", m.value("method", "").c_str(),
         m.contains("method_note") ? (" — " + m["method_note"].get<std::string>()).c_str() : "",
         m.value("copy", "").c_str());
  if (m.contains("tracking") && m["tracking"].is_object())
    printf("tracking:  uffd-wp armed (userfaultfd at fd %d in the target)\n", m["tracking"].value("uffd_fd", -1));
  else
    printf("tracking:  none\n");
  printf("chain:     %zu level%s\n", chain_j.size(), chain_j.size() == 1 ? "" : "s");
  for (const auto& c : chain_j)
    printf("  %s  %s  %s\n", c["method"].get<std::string>().c_str(), c["manifest"].get<std::string>().substr(0, 19).c_str(),
           c["dir"].get<std::string>().c_str());
  printf("pages:     %lu scanned, %lu present, %lu written, %lu zero, %lu stored, %lu deduplicated\n",
         num("pages_scanned"), num("pages_present"), num("pages_written"), num("pages_zero"), num("pages_unique"),
         num("pages_dedup"));
  uint64_t unique = num("pages_unique"), packed = num("bytes_packed");
  printf("sizes:     index %lu B, %lu pack%s %lu B (zstd %.2fx), config %lu B\n", index_bytes, packs,
         packs == 1 ? "" : "s", pack_bytes, packed ? unique * 4096.0 / packed : 1.0, img.layout->config().size);
  printf("stopped:   %.3f ms\n", num("stopped_ns") / 1e6);
  printf("threads:   %zu\n", m.contains("threads") ? m["threads"].size() : 0);
  printf("mappings:  %zu\n", img.mappings.size());
  for (const auto& r : img.mappings) {
    std::string note = r.skipped.empty() ? absl::StrFormat("%8lu present", r.pages_present) : "skipped: " + r.skipped;
    printf("  %012lx-%012lx %s %-20s %s\n", r.m.start, r.m.end, r.m.perms.c_str(), note.c_str(),
           r.m.DisplayName().c_str());
  }
  return 0;
}

}  // namespace inspect_cmd

RunFn RegisterInspect(CLI::App& app) {
  using namespace inspect_cmd;
  auto f = std::make_shared<InspectFlags>();
  CLI::App* sub = app.add_subcommand("inspect", "Show a snapshot image: process, method, chain, sizes, mappings");
  sub->add_option("image", f->image, "Snapshot image directory")->required();
  sub->add_option("--format", f->format, "text or json");
  return [f] { return RunInspect(*f); };
}

}  // namespace clonebot::cli
