// Syscall selection (-e trace=EXPR, as strace spells it) and the seccomp prefilter that makes
// unselected syscalls run at native speed in a spawned command.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "abi/arch.h"

namespace clonebot::trace {

class SyscallFilter {
 public:
  // All syscalls.
  SyscallFilter();

  // Parses strace qualifiers: "trace=SET" or just "SET" where SET is a comma list of syscall
  // names, %class names (%file %desc %network %net %process %signal %memory %ipc %creds %clock
  // %stat %lstat %fstat %%stat %statfs %fstatfs %%statfs %pure), /REGEX, "all", "none"; a
  // leading '!' negates the whole set; '?' before an item ignores it if unknown. Several
  // expressions are united. Errors name the unknown item.
  static absl::StatusOr<SyscallFilter> Parse(const std::vector<std::string>& exprs);

  bool all() const { return all_; }
  bool Selected(uint32_t nr) const { return all_ || (nr < sel_.size() && sel_[nr]); }
  const std::string& expr() const { return expr_; }
  size_t count() const;

  // A classic-BPF seccomp program for the native arch: SECCOMP_RET_TRACE for selected syscalls
  // and for |also_trap| (native numbers the tracer needs to see without recording them),
  // SECCOMP_RET_ALLOW for the rest (generated with libseccomp).
  absl::StatusOr<std::vector<sock_filter>> BuildSeccompPrefilter(
      const std::vector<uint32_t>& also_trap = {}) const;

 private:
  bool all_ = true;
  std::vector<bool> sel_;  // by native syscall number
  std::string expr_;
};

}  // namespace clonebot::trace
