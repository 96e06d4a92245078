// `clonebot check`: probe the kernel features clonebot relies on and say what each capability
// will use on this machine (like `criu check`). Exit 0 whenever the probe ran, also when
// features are missing; 1 only if nothing could be probed.
#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "CLI/CLI.hpp"
#include "abi/features.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "cli/commands.h"

namespace clonebot::cli {
// Named, not anonymous: the command files are compiled together (a unity build, see
// CMakeLists.txt), and each has its own Fail and flags.
namespace check_cmd {

using abi::Feature;
using abi::KernelFeatures;

std::string Text(const KernelFeatures& kf) {
  std::string out = absl::StrFormat("clonebot check: Linux %s %s, euid %d, probed in %.1f ms\n\n", kf.kernel_release,
                                    kf.machine, static_cast<int>(kf.euid), absl::ToDoubleMilliseconds(kf.probe_time));
  absl::StrAppendFormat(&out, "%-24s %-4s %s\n", "feature", "ok", "detail");
  for (int i = 0; i < abi::kFeatureCount; ++i) {
    const auto& st = kf.status[i];
    absl::StrAppendFormat(&out, "%-24s %-4s %s\n", std::string(abi::FeatureName(static_cast<Feature>(i))),
                          st.available ? "yes" : "no", st.detail);
  }

  out += "\ncgroups (clonebot's own)\n";
  const abi::CgroupInfo& cg = kf.cgroup;
  if (!cg.v2_self_dir.empty())
    absl::StrAppendFormat(&out, "  %-10s %s (%s)\n", "v2", cg.v2_self_dir, cg.v2_writable ? "writable" : "not writable");
  for (const auto& [ctrl, dir] : cg.v1_self_dirs) {
    auto it = cg.v1_writable.find(ctrl);
    bool w = it != cg.v1_writable.end() && it->second;
    absl::StrAppendFormat(&out, "  %-10s %s (%s)\n", "v1 " + ctrl, dir, w ? "writable" : "not writable");
  }
  absl::StrAppendFormat(&out, "  %-10s %s\n", "run uses", std::string(abi::CgroupBackendName(abi::ChooseCgroupBackend(kf))));

  out += "\ncapabilities \xe2\x86\x92 backend\n";
  for (const abi::CapabilityPlan& p : abi::PlanCapabilities(kf)) {
    absl::StrAppendFormat(&out, "  %-11s uses:     %s\n", p.capability, p.uses);
    absl::StrAppendFormat(&out, "  %-11s fallback: %s\n", "", p.fallback);
  }
  return out;
}

nlohmann::json Json(const KernelFeatures& kf) {
  using nlohmann::json;
  json j;
  j["kernel"] = {{"release", kf.kernel_release}, {"machine", kf.machine}};
  j["euid"] = kf.euid;
  j["probe_ms"] = absl::ToDoubleMilliseconds(kf.probe_time);
  json features = json::object();
  for (int i = 0; i < abi::kFeatureCount; ++i) {
    const auto& st = kf.status[i];
    features[std::string(abi::FeatureName(static_cast<Feature>(i)))] = {{"available", st.available},
                                                                        {"detail", st.detail}};
  }
  j["features"] = std::move(features);
  j["landlock_abi"] = kf.landlock_abi;
  const abi::CgroupInfo& cg = kf.cgroup;
  json v1 = json::object();
  for (const auto& [ctrl, dir] : cg.v1_self_dirs) {
    auto it = cg.v1_writable.find(ctrl);
    v1[ctrl] = {{"dir", dir}, {"writable", it != cg.v1_writable.end() && it->second}};
  }
  j["cgroups"] = {
      {"v2",
       {{"mount", cg.v2_mount}, {"dir", cg.v2_self_dir}, {"controllers", cg.v2_controllers}, {"writable", cg.v2_writable}}},
      {"v1", std::move(v1)},
  };
  j["backends"] = {
      {"trace", std::string(abi::TraceBackendName(abi::ChooseTraceBackend(kf)))},
      {"dirty_tracking", std::string(abi::DirtyTrackingName(abi::ChooseDirtyTracking(kf)))},
      {"cgroup", std::string(abi::CgroupBackendName(abi::ChooseCgroupBackend(kf)))},
  };
  json caps = json::object();
  for (const abi::CapabilityPlan& p : abi::PlanCapabilities(kf))
    caps[p.capability] = {{"uses", p.uses}, {"fallback", p.fallback}};
  j["capabilities"] = std::move(caps);
  return j;
}

}  // namespace check_cmd

RunFn RegisterCheck(CLI::App& app) {
  using namespace check_cmd;
  auto* sub = app.add_subcommand(
      "check", "Probe which kernel features this machine has and what each capability falls back to");
  auto format = std::make_shared<std::string>("text");
  sub->add_option("--format", *format, "Output format: text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  return [format]() -> int {
    absl::StatusOr<KernelFeatures> kf = abi::ProbeKernelFeatures();
    if (!kf.ok()) {
      fprintf(stderr, "clonebot check: %s\n", std::string(kf.status().message()).c_str());
      return 1;
    }
    std::string out;
    if (*format == "json") {
      try {
        out = Json(*kf).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
      } catch (const nlohmann::json::exception& e) {
        fprintf(stderr, "clonebot check: cannot encode JSON: %s\n", e.what());
        return 1;
      }
    } else {
      out = Text(*kf);
    }
    fwrite(out.data(), 1, out.size(), stdout);
    return fflush(stdout) == 0 ? 0 : 1;
  };
}

}  // namespace clonebot::cli
