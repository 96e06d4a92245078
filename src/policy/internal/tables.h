// Private to policy/: the data tables behind ClonePolicy names (syscall classes, symbolic
// constants, errno names) and name lookups with "did you mean" suggestions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"

namespace clonebot::policy::internal {

// abseil 20220623 on Debian has its own string_view; absl::StrCat needs this for std ones.
inline absl::string_view AV(std::string_view s) { return absl::string_view(s.data(), s.size()); }
// For absl::StrJoin over std::string_view elements.
struct SvFormatter {
  void operator()(std::string* out, std::string_view s) const { out->append(s); }
};

struct SyscallClassDef {
  std::string_view name;  // without '@'
  std::string_view doc;
  std::vector<std::string_view> members;  // syscall names or "@class"
};

// All classes, in documentation order. The only place classes are defined.
std::span<const SyscallClassDef> SyscallClasses();
const SyscallClassDef* FindClass(std::string_view name);  // name without '@'
// Members with nested classes expanded; names that do not exist on the native arch dropped.
std::vector<std::string> ExpandClass(const SyscallClassDef& c);

// Syscall number on the native arch (from abi/syscall_table), nullopt if unknown there.
std::optional<int> NativeSyscallNumber(std::string_view name);
// True if the name is in our syscall table at all (maybe on another arch only).
bool KnownSyscallName(std::string_view name);
std::vector<std::string_view> NativeSyscallNames();

struct Constant {
  std::string_view name;
  uint64_t value;
};
std::span<const Constant> Constants();
std::optional<uint64_t> ConstantByName(std::string_view name);

// "EACCES" -> 13, for the names glibc knows plus EWOULDBLOCK, EDEADLOCK, ENOTSUP.
std::optional<int> ErrnoByName(std::string_view name);
// 13 -> "EACCES"; a number without a name -> "1234".
std::string ErrnoName(int e);

// The candidate closest to |word| within edit distance |max_dist|, or "" if none.
std::string ClosestName(std::string_view word, std::span<const std::string_view> candidates,
                        int max_dist = 2);
// "; did you mean 'x'?" or "".
std::string DidYouMean(std::string_view word, std::span<const std::string_view> candidates);

}  // namespace clonebot::policy::internal
