// Payload tags shared by Capture* and Decode (decode.cc, capture.cc). Private to trace/decode.
//
// tag = (seq << 3) | slot. slot 0-5 is the syscall argument the bytes belong to; seq 0 is the
// object the argument points to, seq >= 1 nested objects (iovec buffers, argv strings, msghdr
// parts). Entry and exit payloads are separate lists, so the same tag may appear in both.
#pragma once

#include <cstdint>

namespace clonebot::trace::decode::internal {

constexpr uint16_t Tag(unsigned slot, unsigned seq) {
  return static_cast<uint16_t>((seq << 3) | (slot & 7u));
}

// Limits, as strace applies them in its default (abbreviated) mode.
inline constexpr uint32_t kPathMax = 4096;          // paths are printed whole
inline constexpr uint32_t kMaxArrayItems = 1024;    // iovec/pollfd/argv items we copy at most
inline constexpr uint32_t kMaxSockaddr = 128;       // sizeof(struct sockaddr_storage)
inline constexpr uint32_t kMaxSigset = 128;
inline constexpr uint32_t kMaxDirents = 1u << 20;   // getdents64 bytes kept

// msghdr parts (seq values under the msghdr argument's slot).
inline constexpr unsigned kMsgHdr = 0;
inline constexpr unsigned kMsgName = 1;
inline constexpr unsigned kMsgControl = 2;
inline constexpr unsigned kMsgIov = 3;
inline constexpr unsigned kMsgIovData = 4;  // + index

// sendmmsg/recvmmsg (slot 1): seq 0 is the struct mmsghdr array; entry k's msghdr parts use
// the kMsg* values above plus MmsgSeq(k). At most kMaxMmsg entries, 60 iovecs each.
inline constexpr uint32_t kMaxMmsg = 16;
inline constexpr uint32_t kMaxMmsgIov = 60;
constexpr unsigned MmsgSeq(size_t k) { return 1 + static_cast<unsigned>(k) * 64; }

// Struct sizes in the x86_64 (and aarch64, where equal) layout.
inline constexpr uint32_t kSizeofStat = 144;
inline constexpr uint32_t kSizeofStatx = 256;
inline constexpr uint32_t kSizeofStatfs = 120;
inline constexpr uint32_t kSizeofTimespec = 16;
inline constexpr uint32_t kSizeofTimeval = 16;
inline constexpr uint32_t kSizeofItimerspec = 32;
inline constexpr uint32_t kSizeofItimerval = 32;
inline constexpr uint32_t kSizeofRlimit = 16;
inline constexpr uint32_t kSizeofUtsname = 390;
inline constexpr uint32_t kSizeofSysinfo = 112;
inline constexpr uint32_t kSizeofRusage = 144;
inline constexpr uint32_t kSizeofKSigaction = 32;  // handler, flags, restorer, mask (8 bytes)
inline constexpr uint32_t kSizeofSiginfo = 128;
inline constexpr uint32_t kSizeofStack = 24;
inline constexpr uint32_t kSizeofMsghdr = 56;
inline constexpr uint32_t kSizeofMmsghdr = 64;   // msghdr, unsigned msg_len, padding
inline constexpr uint32_t kSizeofIovec = 16;
inline constexpr uint32_t kSizeofPollfd = 8;
inline constexpr uint32_t kSizeofEpollEvent = 12;  // packed on x86_64
inline constexpr uint32_t kSizeofFlock = 32;
inline constexpr uint32_t kSizeofTms = 32;
inline constexpr uint32_t kSizeofTermios = 36;
inline constexpr uint32_t kSizeofWinsize = 8;
inline constexpr uint32_t kSizeofCloneArgs = 88;   // up to cgroup (CLONE_ARGS_SIZE_VER2)

// x86_64 rt_sigreturn: the signal mask sits at sp + 296 (struct rt_sigframe after the
// restorer's `ret` popped pretcode: ucontext at sp, uc_sigmask at offset 296... see
// arch/x86/include/asm/sigframe.h). The tracer passes sp in CaptureContext::stack_pointer.
inline constexpr uint64_t kX86SigreturnMaskOffset = 0x128;

}  // namespace clonebot::trace::decode::internal
