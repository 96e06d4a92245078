// Architectures a trace can come from. Values are stored in TracePipe files: append only.
#pragma once

#include <cstdint>
#include <linux/audit.h>

namespace clonebot::abi {

enum class Arch : uint16_t { kUnknown = 0, kX86_64 = 1, kAarch64 = 2, kI386 = 3 };

// Maps a ptrace_syscall_info.arch (AUDIT_ARCH_*) to Arch.
inline Arch ArchFromAudit(uint32_t audit_arch) {
  switch (audit_arch) {
    case AUDIT_ARCH_X86_64: return Arch::kX86_64;
    case AUDIT_ARCH_AARCH64: return Arch::kAarch64;
    case AUDIT_ARCH_I386: return Arch::kI386;
    default: return Arch::kUnknown;
  }
}

inline constexpr Arch kNativeArch =
#if defined(__x86_64__)
    Arch::kX86_64;
#elif defined(__aarch64__)
    Arch::kAarch64;
#else
#error "unsupported architecture"
#endif

const char* ArchName(Arch arch);

}  // namespace clonebot::abi
