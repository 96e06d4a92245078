#include "trace/filter.h"

#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <regex>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "abi/syscall_table.h"
#include "base/status.h"
#include "base/unique_fd.h"

namespace clonebot::trace {

SyscallFilter::SyscallFilter() = default;

size_t SyscallFilter::count() const {
  if (all_) return abi::SyscallCount(abi::kNativeArch);
  size_t n = 0;
  for (bool b : sel_) n += b;
  return n;
}

absl::StatusOr<SyscallFilter> SyscallFilter::Parse(const std::vector<std::string>& exprs) {
  SyscallFilter f;
  if (exprs.empty()) return f;
  const abi::Arch arch = abi::kNativeArch;
  const uint32_t n = abi::SyscallCount(arch);
  std::vector<bool> total(n, false);
  for (const std::string& expr_str : exprs) {
    std::string_view e = expr_str;
    if (e.starts_with("trace=")) {
      e.remove_prefix(6);
    } else if (e.find('=') != std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "-e ", std::string(e), ": only trace= qualifiers are supported"));
    }
    bool negate = false;
    if (e.starts_with('!')) {
      negate = true;
      e.remove_prefix(1);
    }
    std::vector<bool> set(n, false);
    auto add_desc = [&](const abi::SyscallDesc& d) {
      if (auto nr = abi::SyscallNumber(arch, d); nr && *nr < n) set[*nr] = true;
    };
    for (absl::string_view item_a : absl::StrSplit(absl::string_view(e.data(), e.size()), ',')) {
      std::string item(item_a);
      bool optional = false;
      if (!item.empty() && item[0] == '?') {
        optional = true;
        item.erase(0, 1);
      }
      if (item.empty()) return absl::InvalidArgumentError("-e trace=: empty syscall name");
      if (item == "all") {
        set.assign(n, true);
      } else if (item == "none") {
        // nothing
      } else if (item[0] == '%') {
        auto cls = abi::SyscallClassByName(item.substr(1));
        if (!cls) {
          if (optional) continue;
          return absl::InvalidArgumentError(absl::StrCat("-e trace=: unknown class '", item, "'"));
        }
        for (const auto& d : abi::AllSyscalls())
          if (d.classes & *cls) add_desc(d);
      } else if (item[0] == '/') {
        std::regex re;
        try {
          re = std::regex(std::string(item.substr(1)), std::regex::extended);
        } catch (const std::regex_error&) {
          return absl::InvalidArgumentError(absl::StrCat("-e trace=: bad regex '", item, "'"));
        }
        bool any = false;
        for (const auto& d : abi::AllSyscalls()) {
          if (std::regex_search(d.name, re)) {
            add_desc(d);
            any = true;
          }
        }
        if (!any && !optional)
          return absl::InvalidArgumentError(absl::StrCat("-e trace=: '", item, "' matches no syscall"));
      } else {
        const abi::SyscallDesc* d = abi::LookupSyscall(item);
        if (d == nullptr || !abi::SyscallNumber(arch, *d)) {
          if (optional) continue;
          return absl::InvalidArgumentError(absl::StrCat(
              "-e trace=: invalid system call '", item, "'", d ? " on this architecture" : ""));
        }
        add_desc(*d);
      }
    }
    for (uint32_t i = 0; i < n; i++) {
      bool v = negate ? !set[i] : set[i];
      if (v) total[i] = true;
    }
  }
  f.all_ = std::all_of(total.begin(), total.end(), [](bool b) { return b; });
  f.sel_ = std::move(total);
  f.expr_ = absl::StrJoin(exprs, " ");
  return f;
}

absl::StatusOr<std::vector<sock_filter>> SyscallFilter::BuildSeccompPrefilter(
    const std::vector<uint32_t>& also_trap) const {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr) return absl::InternalError("seccomp_init failed");
  auto release = absl::MakeCleanup([&] { seccomp_release(ctx); });
  // The filter belongs to the traced command; it must not set no_new_privs itself (the child
  // does that right before loading) nor synchronize threads.
  seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
  for (uint32_t nr = 0; nr < abi::SyscallCount(abi::kNativeArch); nr++) {
    if (!Selected(nr) && std::find(also_trap.begin(), also_trap.end(), nr) == also_trap.end()) continue;
    int rc = seccomp_rule_add(ctx, SCMP_ACT_TRACE(0), static_cast<int>(nr), 0);
    // -EDOM/-EINVAL: a number libseccomp does not know on this arch; nothing to trap.
    if (rc < 0 && rc != -EDOM && rc != -EINVAL && rc != -EFAULT)
      return base::ErrnoToStatus(-rc, absl::StrCat("seccomp_rule_add(", nr, ")"));
  }
  base::UniqueFd mfd(memfd_create("clonebot-bpf", MFD_CLOEXEC));
  if (!mfd) return base::ErrnoError("memfd_create");
  if (int rc = seccomp_export_bpf(ctx, mfd.get()); rc < 0)
    return base::ErrnoToStatus(-rc, "seccomp_export_bpf");
  off_t len = lseek(mfd.get(), 0, SEEK_END);
  if (len <= 0 || len % sizeof(sock_filter) != 0)
    return absl::InternalError("seccomp_export_bpf produced no program");
  std::vector<sock_filter> prog(static_cast<size_t>(len) / sizeof(sock_filter));
  if (pread(mfd.get(), prog.data(), static_cast<size_t>(len), 0) != len)
    return base::ErrnoError("pread(bpf)");
  return prog;
}

}  // namespace clonebot::trace
