// Syscall decoding: what to copy out of a stopped tracee (Capture*, on the tracer's stop path),
// and how to print a recorded syscall as strace does (Decode, at `show` time).
//
// The two halves agree on payload tags; nothing else looks inside payloads. Capture must be
// cheap: no text formatting, no allocation beyond the sink, no syscalls but memory reads.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "abi/arch.h"

namespace clonebot::trace::decode {

// Reads the stopped tracee's memory. Implemented by the tracer (process_vm_readv).
class TraceeMemory {
 public:
  virtual ~TraceeMemory() = default;
  // Copies up to |len| bytes at |addr|; returns bytes read (short at an unmapped page), or -1.
  virtual ssize_t Read(uint64_t addr, void* buf, size_t len) = 0;
  // Copies a NUL-terminated string of at most |max| bytes (excluding the NUL) into |buf|.
  // Returns its length (without NUL), or -1 if unreadable. *terminated is false when |max| bytes
  // were read without finding a NUL.
  virtual ssize_t ReadCString(uint64_t addr, char* buf, size_t max, bool* terminated) = 0;
};

// Where Capture puts payloads. Implemented by the trace writer: bytes go straight into the
// chunk being built.
class PayloadSink {
 public:
  virtual ~PayloadSink() = default;
  // Reserves |max_len| bytes for a payload with |tag|; write into the returned pointer, then
  // Commit the length actually used (<= max_len) and flags. One payload open at a time.
  virtual uint8_t* Begin(uint16_t tag, uint32_t max_len) = 0;
  virtual void Commit(uint32_t len, uint16_t flags) = 0;
};

struct CaptureContext {
  abi::Arch arch;
  uint32_t nr;
  uint64_t args[6];
  int64_t ret;          // valid at exit only
  uint32_t strsize;     // -s: max bytes of strings/buffers to keep (paths are kept whole)
  uint64_t stack_pointer = 0;  // tracee SP at entry (ptrace_syscall_info.stack_pointer); 0 if
                               // unknown. rt_sigreturn reads the signal frame through it.
};

// At syscall entry: copy what the arguments point to that the kernel reads (paths, write
// buffers, in-structs, argv...). At exit: what the kernel wrote (read buffers, out-structs).
void CaptureEntry(const CaptureContext& ctx, TraceeMemory& mem, PayloadSink& sink);
void CaptureExit(const CaptureContext& ctx, TraceeMemory& mem, PayloadSink& sink);

struct Payload {
  uint16_t tag;
  uint16_t flags;  // trace::PayloadFlags
  std::span<const uint8_t> data;
};

// A recorded syscall as show sees it. Payload spans point into the mapped trace file.
struct SyscallView {
  abi::Arch arch;
  uint32_t nr;
  uint64_t args[6];
  bool has_exit;        // false: the task never returned (exit_group, killed, trace ended)
  int64_t ret;          // valid if has_exit
  uint32_t strsize;     // -s the trace was recorded with (show may lower it)
  std::span<const Payload> entry_payloads;
  std::span<const Payload> exit_payloads;
};

// strace's text for one syscall, split so that show can print <unfinished ...>/resumed lines.
struct Decoded {
  std::vector<std::string> args;  // one text per printed argument, e.g. "AT_FDCWD", "\"/etc\""
  size_t entry_args = 0;          // args[0, entry_args) are printed at entry, the rest at exit
  std::string ret;                // after "= ": "3", "-1 ENOENT (No such file or directory)",
                                  // "0x55d4c2a3e000", "? ERESTARTSYS (...)", "?" if !has_exit
  // strace quirks of the <unfinished ...> split, used by clone, clone3 and sendfile. Both are
  // no-ops for a line printed whole.
  // true: the ", " between args[entry_args-1] and args[entry_args] belongs to the resumed
  // part: "clone(child_stack=NULL, flags=...|SIGCHLD <unfinished ...>" then
  // "<... clone resumed>, child_tidptr=0x7f...) = 42".
  bool sep_on_resume = false;
  // The last |entry_tail| bytes of args[entry_args-1] are printed only in the resumed part:
  // "clone3({flags=...} <unfinished ...>" then "<... clone3 resumed> => {parent_tid=[42]},
  // 88) = 42".
  size_t entry_tail = 0;
};

// Fills |out| (reusing its capacity). Never fails: what cannot be decoded prints as strace would
// print an unknown value (hex/decimal).
void Decode(const SyscallView& view, Decoded* out);

// Syscall name for the text form, e.g. "openat"; "syscall_0x1c2" for unknown numbers.
std::string SyscallName(abi::Arch arch, uint32_t nr);

// "--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, ...} ---" body between the dashes,
// i.e. "SIGCHLD {si_signo=SIGCHLD, ...}". |siginfo| may be empty (then just the name).
std::string DecodeSignal(uint32_t signo, std::span<const uint8_t> siginfo);

// "SIGKILL" for 9; "SIGRT_3" etc. as strace does; "%d" for unknown.
std::string SignalName(int signo);

// errno name ("ENOENT") or nullptr for unknown.
const char* ErrnoName(int err);

}  // namespace clonebot::trace::decode
