// TracePipe event records: the layout the tracer writes into a chunk and readers walk in place
// (zero-copy). Byte-level documentation: docs/formats/tracepipe.md. All integers little-endian
// (native on x86_64 and aarch64); every record starts 8-byte aligned and its size is a multiple
// of 8. Append-only: a new field goes at the end of its record and readers use `size` to skip
// what they do not know; any other change is a new record type.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>

namespace clonebot::trace {

enum class RecordType : uint16_t {
  kSyscallEnter = 1,
  kSyscallExit = 2,
  kFork = 3,     // a new task appeared (fork, vfork, clone)
  kExec = 4,     // successful execve: the task image changed
  kExit = 5,     // a task is gone (wait status)
  kSignal = 6,   // signal-delivery-stop: a signal is delivered to the task
  kAttach = 7,   // tracing of a task began (spawned or -p)
  kDetach = 8,   // tracing of a task ended while it lives on
};

struct RecordHeader {
  uint32_t size;  // whole record incl. this header and payloads, multiple of 8
  uint16_t type;  // RecordType
  uint16_t flags;
};
static_assert(sizeof(RecordHeader) == 8);

// Common prefix of every record body.
struct EventHead {
  RecordHeader hdr;
  uint64_t ts_ns;  // CLOCK_MONOTONIC at the stop
  uint32_t tid;
  uint32_t pid;    // thread group id
};
static_assert(sizeof(EventHead) == 24);

// Followed by |npayloads| payloads.
struct SyscallEnterRecord {
  EventHead head;
  uint32_t nr;        // syscall number on |arch|
  uint16_t arch;      // abi::Arch
  uint16_t npayloads;
  uint64_t args[6];
};
static_assert(sizeof(SyscallEnterRecord) == 80);

// Flags on SyscallExitRecord.hdr.flags.
enum : uint16_t {
  kExitNoEntry = 1,  // no entry was seen (attached mid-syscall)
};

struct SyscallExitRecord {
  EventHead head;
  uint32_t nr;
  uint16_t arch;
  uint16_t npayloads;
  int64_t ret;        // raw return register: -errno on failure
};
static_assert(sizeof(SyscallExitRecord) == 40);

// Payload: bytes copied out of the tracee for one argument. |tag| is chosen by the decoder that
// asked for it (see trace/decode/decode.h); the tracer does not interpret it.
struct PayloadHeader {
  uint16_t tag;
  uint16_t flags;  // PayloadFlags
  uint32_t len;    // bytes that follow, before padding to 8
};
static_assert(sizeof(PayloadHeader) == 8);

enum PayloadFlags : uint16_t {
  kPayloadTruncated = 1,  // the object was longer than what was copied
  kPayloadFault = 2,      // the tracee's memory could not be read (shown as an address)
};

struct ForkRecord {
  EventHead head;        // the parent task
  uint32_t child_tid;
  uint32_t child_pid;    // child's thread group (== child_tid unless CLONE_THREAD)
  uint32_t kind;         // 1 fork, 2 vfork, 3 clone
  uint32_t pad;
};
static_assert(sizeof(ForkRecord) == 40);

struct ExecRecord {
  EventHead head;        // tid is the thread that now leads the group
  uint32_t former_tid;   // the thread that called execve (differs when a non-leader exec'd)
  uint32_t pad;
};
static_assert(sizeof(ExecRecord) == 32);

struct ExitRecord {
  EventHead head;
  int32_t wait_status;   // as from waitpid: WIFEXITED / WIFSIGNALED
  uint32_t flags;        // 1: core dumped
};
static_assert(sizeof(ExitRecord) == 32);

// Followed by the 128-byte siginfo_t as the kernel reported it (PTRACE_GETSIGINFO).
struct SignalRecord {
  EventHead head;
  uint32_t signo;
  uint32_t siginfo_len;  // 128, or 0 if it could not be read
};
static_assert(sizeof(SignalRecord) == 32);

struct AttachRecord {
  EventHead head;
  uint32_t how;          // 1 spawned, 2 seized (-p), 3 auto (child of a traced task)
  uint32_t pad;
};
static_assert(sizeof(AttachRecord) == 32);

inline constexpr uint32_t Align8(uint32_t n) { return (n + 7u) & ~7u; }

}  // namespace clonebot::trace
