// The syscall table: one declarative source (tools/syscalls.py) generated into C++ at build time
// (tools/gen_syscalls.py → build/gen/syscall_table_gen.cc). Names, per-arch numbers, argument
// kinds, which arguments are in/out buffers, and strace's trace classes.
//
// Contract used by trace/ (filters, capture) and trace/decode/ (formatting). Append-only: new
// fields and enum values go at the end; never renumber (TracePipe files store raw numbers, not
// these enums, so only the source code depends on this).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "abi/arch.h"

namespace clonebot::abi {

// strace's syscall classes, as spelled in -e trace=%NAME.
enum SyscallClass : uint32_t {
  kClassFile = 1u << 0,      // %file: takes a file name
  kClassDesc = 1u << 1,      // %desc: takes or returns a file descriptor
  kClassNetwork = 1u << 2,   // %network (%net)
  kClassProcess = 1u << 3,   // %process
  kClassSignal = 1u << 4,    // %signal
  kClassMemory = 1u << 5,    // %memory
  kClassIpc = 1u << 6,       // %ipc
  kClassCreds = 1u << 7,     // %creds
  kClassClock = 1u << 8,     // %clock
  kClassStat = 1u << 9,      // %stat
  kClassLstat = 1u << 10,    // %lstat
  kClassFstat = 1u << 11,    // %fstat
  kClassStatLike = 1u << 12, // %%stat
  kClassStatfs = 1u << 13,   // %statfs
  kClassFstatfs = 1u << 14,  // %fstatfs
  kClassStatfsLike = 1u << 15, // %%statfs
  kClassPure = 1u << 16,     // %pure
};

// Looks up a class by the name after '%' ("file", "net", "%stat" for %%stat). nullopt if unknown.
std::optional<uint32_t> SyscallClassByName(std::string_view name);

struct ArgSpec;  // defined in the generated part (syscall_table_gen.h); opaque to the tracer

// One syscall, arch-independent. |id| is a dense index into AllSyscalls().
struct SyscallDesc {
  uint16_t id;
  const char* name;
  uint8_t nargs;
  uint32_t classes;  // SyscallClass bits
};

std::span<const SyscallDesc> AllSyscalls();

// Arch-specific number → descriptor; nullptr for numbers the table does not know.
const SyscallDesc* LookupSyscall(Arch arch, uint32_t nr);
// Name → descriptor; nullptr if unknown on every arch.
const SyscallDesc* LookupSyscall(std::string_view name);
// Descriptor → number on |arch|; nullopt if the syscall does not exist there (e.g. open on aarch64).
std::optional<uint32_t> SyscallNumber(Arch arch, const SyscallDesc& desc);
// Largest syscall number + 1 known on |arch|.
uint32_t SyscallCount(Arch arch);

}  // namespace clonebot::abi
