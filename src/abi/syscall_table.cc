// Lookups over the generated syscall table (build/gen/abi/syscall_table_gen.cc).
#include "abi/syscall_table.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "abi/syscall_table_gen.h"

namespace clonebot::abi {
namespace {

struct ClassName {
  std::string_view name;
  uint32_t bits;
};

// strace's -e trace=%NAME spellings (syscall.c: lookup_class). "%stat" here is %%stat.
constexpr ClassName kClassNames[] = {
    {"file", kClassFile},       {"desc", kClassDesc},
    {"network", kClassNetwork}, {"net", kClassNetwork},
    {"process", kClassProcess}, {"signal", kClassSignal},
    {"memory", kClassMemory},   {"ipc", kClassIpc},
    {"creds", kClassCreds},     {"clock", kClassClock},
    {"stat", kClassStat},       {"lstat", kClassLstat},
    {"fstat", kClassFstat},     {"%stat", kClassStatLike},
    {"statfs", kClassStatfs},   {"fstatfs", kClassFstatfs},
    {"%statfs", kClassStatfsLike}, {"pure", kClassPure},
};

// Ids sorted by name, built on first use (~400 entries).
const std::array<uint16_t, kSyscallTableSize>& ByName() {
  static const std::array<uint16_t, kSyscallTableSize> sorted = [] {
    std::array<uint16_t, kSyscallTableSize> a{};
    for (size_t i = 0; i < kSyscallTableSize; ++i) a[i] = static_cast<uint16_t>(i);
    std::sort(a.begin(), a.end(), [](uint16_t x, uint16_t y) {
      return std::strcmp(kSyscallDescs[x].name, kSyscallDescs[y].name) < 0;
    });
    return a;
  }();
  return sorted;
}

}  // namespace

std::optional<uint32_t> SyscallClassByName(std::string_view name) {
  for (const ClassName& c : kClassNames) {
    if (c.name == name) return c.bits;
  }
  return std::nullopt;
}

std::span<const SyscallDesc> AllSyscalls() {
  return std::span<const SyscallDesc>(kSyscallDescs, kSyscallTableSize);
}

const SyscallDesc* LookupSyscall(Arch arch, uint32_t nr) {
  int16_t id = -1;
  switch (arch) {
    case Arch::kX86_64:
      if (nr < kX86_64SyscallLimit) id = kX86_64ById[nr];
      break;
    case Arch::kAarch64:
      if (nr < kAarch64SyscallLimit) id = kAarch64ById[nr];
      break;
    default:
      break;
  }
  return id < 0 ? nullptr : &kSyscallDescs[id];
}

const SyscallDesc* LookupSyscall(std::string_view name) {
  const auto& sorted = ByName();
  auto it = std::lower_bound(sorted.begin(), sorted.end(), name,
                             [](uint16_t id, std::string_view n) {
                               return std::string_view(kSyscallDescs[id].name) < n;
                             });
  if (it == sorted.end() || std::string_view(kSyscallDescs[*it].name) != name) return nullptr;
  return &kSyscallDescs[*it];
}

std::optional<uint32_t> SyscallNumber(Arch arch, const SyscallDesc& desc) {
  if (desc.id >= kSyscallTableSize) return std::nullopt;
  const SyscallMeta& m = kSyscallMeta[desc.id];
  int nr = -1;
  if (arch == Arch::kX86_64) nr = m.x86_64_nr;
  if (arch == Arch::kAarch64) nr = m.aarch64_nr;
  if (nr < 0) return std::nullopt;
  return static_cast<uint32_t>(nr);
}

uint32_t SyscallCount(Arch arch) {
  switch (arch) {
    case Arch::kX86_64: return kX86_64SyscallLimit;
    case Arch::kAarch64: return kAarch64SyscallLimit;
    default: return 0;
  }
}

}  // namespace clonebot::abi
