// CaptureEntry / CaptureExit: copy what a syscall's arguments point to into payloads.
//
// Runs on the tracer's stop path: no formatting, no allocation, only TraceeMemory reads into
// the PayloadSink. What to copy is driven by the argument kinds of tools/syscalls.py, plus a few
// hand-written cases (execve vectors, msghdr, ioctl/fcntl/futex arguments...). Tags: tags.h.
#include <linux/fcntl.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cstring>

#include "abi/syscall_table.h"
#include "abi/syscall_table_gen.h"
#include "trace/decode/decode.h"
#include "trace/decode/tags.h"
#include "trace/record.h"

namespace clonebot::trace::decode {
namespace {

using abi::ArgKind;
using abi::StructType;
using internal::Tag;

bool IsError(int64_t ret) { return ret < 0 && ret >= -4095; }

uint32_t StructSize(StructType t) {
  using namespace internal;
  switch (t) {
    case StructType::kStat: return kSizeofStat;
    case StructType::kStatx: return kSizeofStatx;
    case StructType::kStatfs: return kSizeofStatfs;
    case StructType::kTimespec: return kSizeofTimespec;
    case StructType::kTimeval: return kSizeofTimeval;
    case StructType::kItimerspec: return kSizeofItimerspec;
    case StructType::kItimerval: return kSizeofItimerval;
    case StructType::kRlimit: return kSizeofRlimit;
    case StructType::kUtsname: return kSizeofUtsname;
    case StructType::kSysinfo: return kSizeofSysinfo;
    case StructType::kRusage: return kSizeofRusage;
    case StructType::kSigset: return 8;
    case StructType::kSigaction: return kSizeofKSigaction;
    case StructType::kSiginfo: return kSizeofSiginfo;
    case StructType::kStack: return kSizeofStack;
    case StructType::kPipefds: return 8;
    case StructType::kId: return 4;
    case StructType::kUint: return 4;
    case StructType::kOpenhow: return 24;
    case StructType::kNone: return 0;
  }
  return 0;
}

class Capturer {
 public:
  Capturer(const CaptureContext& ctx, TraceeMemory& mem, PayloadSink& sink)
      : ctx_(ctx), mem_(mem), sink_(sink) {}

  // Copies |len| bytes at |addr|. A NULL address or len 0 copies nothing (the decoder prints
  // NULL / the address). |extra_flags| is or-ed in (kPayloadTruncated).
  void Bytes(uint16_t tag, uint64_t addr, uint64_t len, uint16_t extra_flags = 0) {
    if (addr == 0) return;
    if (len > (1u << 24)) len = 1u << 24;
    uint8_t* p = sink_.Begin(tag, static_cast<uint32_t>(len));
    if (p == nullptr) return;
    if (len == 0) {
      sink_.Commit(0, extra_flags);
      return;
    }
    ssize_t n = mem_.Read(addr, p, len);
    if (n < 0) {
      sink_.Commit(0, kPayloadFault);
    } else if (static_cast<uint64_t>(n) < len) {
      sink_.Commit(static_cast<uint32_t>(n), kPayloadFault | extra_flags);
    } else {
      sink_.Commit(static_cast<uint32_t>(n), extra_flags);
    }
  }

  // A buffer the way strace prints it: at most strsize bytes, truncated flag if longer.
  void Buffer(uint16_t tag, uint64_t addr, uint64_t len) {
    uint64_t keep = std::min<uint64_t>(len, ctx_.strsize);
    Bytes(tag, addr, keep, len > keep ? kPayloadTruncated : 0);
  }

  // NUL-terminated string of at most |max| bytes; kPayloadTruncated if it is longer.
  void CString(uint16_t tag, uint64_t addr, uint32_t max) {
    if (addr == 0) return;
    uint8_t* p = sink_.Begin(tag, max + 1);
    if (p == nullptr) return;
    bool terminated = false;
    ssize_t n = mem_.ReadCString(addr, reinterpret_cast<char*>(p), max + 1, &terminated);
    if (n < 0) {
      sink_.Commit(0, kPayloadFault);
    } else if (static_cast<uint64_t>(n) > max) {
      // More than |max| bytes before the NUL (terminated or not): strace prints "...".
      sink_.Commit(max, kPayloadTruncated);
    } else if (!terminated && static_cast<uint64_t>(n) < max) {
      // Stopped short without a NUL: the rest is unreadable (strace prints the address).
      sink_.Commit(static_cast<uint32_t>(n), kPayloadFault);
    } else {
      sink_.Commit(static_cast<uint32_t>(std::min<ssize_t>(n, max)), 0);
    }
  }

  bool ReadU64(uint64_t addr, uint64_t* v) {
    return addr != 0 && mem_.Read(addr, v, 8) == 8;
  }

  // iovec array at |addr| with |count| entries, then each buffer: at most strsize bytes, and
  // in total at most |data_limit| bytes (readv: the return value).
  void Iov(unsigned slot, uint64_t addr, uint64_t count, uint64_t data_limit, unsigned seq0 = 0,
           unsigned data_seq = 1) {
    if (addr == 0) return;
    uint64_t n = std::min<uint64_t>(count, internal::kMaxArrayItems);
    n = std::min<uint64_t>(n, ctx_.strsize);  // strace prints at most -s items
    Bytes(Tag(slot, seq0), addr, n * internal::kSizeofIovec, n < count ? kPayloadTruncated : 0);
    uint64_t left = data_limit;
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t iov[2];
      if (mem_.Read(addr + i * 16, iov, 16) != 16) break;
      uint64_t len = std::min<uint64_t>(iov[1], left);
      left -= len;
      Buffer(Tag(slot, data_seq + static_cast<unsigned>(i)), iov[0], len);
    }
  }

  const CaptureContext& ctx_;
  TraceeMemory& mem_;
  PayloadSink& sink_;
};

uint32_t SigsetSize(const abi::SyscallDesc* d, const abi::SyscallMeta& m, const uint64_t* args) {
  for (int i = 0; i < d->nargs; ++i) {
    if (std::strcmp(m.args[i].name, "sigsetsize") == 0 ||
        std::strcmp(m.args[i].name, "sizemask") == 0) {
      return static_cast<uint32_t>(std::min<uint64_t>(args[i], internal::kMaxSigset));
    }
  }
  return 8;
}

// ioctl requests whose argument points to data: size and direction (true = kernel writes).
struct IoctlArg {
  uint32_t size;
  bool out;
};
bool IoctlArgOf(uint64_t req, IoctlArg* a) {
  switch (req) {
    case TCGETS: *a = {internal::kSizeofTermios, true}; return true;
    case TCSETS: case TCSETSW: case TCSETSF: *a = {internal::kSizeofTermios, false}; return true;
    case TIOCGWINSZ: *a = {internal::kSizeofWinsize, true}; return true;
    case TIOCSWINSZ: *a = {internal::kSizeofWinsize, false}; return true;
    case FIONREAD: case TIOCGPGRP: case TIOCOUTQ: case TIOCGPTN: case TIOCGSID:
      *a = {4, true}; return true;
    case TIOCSPGRP: case FIONBIO: case FIOASYNC: case TIOCSPTLCK:
      *a = {4, false}; return true;
    default: return false;
  }
}

// Bytes of a nodemask of |maxnode| bits as strace reads it: (maxnode + 62) / 64 words, at most
// 64 words (strace prints at most -s of them anyway).
uint64_t NodemaskBytes(uint64_t maxnode) {
  uint64_t words = maxnode > UINT64_MAX - 62 ? 64 : (maxnode + 62) / 64;
  return std::min<uint64_t>(words, 64) * 8;
}

void CaptureSpecialEntry(Capturer& c, uint16_t id) {
  const CaptureContext& ctx = c.ctx_;
  const uint64_t* a = ctx.args;
  namespace sys = abi::sys;
  switch (id) {
    case sys::kPoll:
    case sys::kPpoll: {
      uint64_t n = std::min<uint64_t>(a[1], internal::kMaxArrayItems);
      c.Bytes(Tag(0, 0), a[0], n * internal::kSizeofPollfd, n < a[1] ? kPayloadTruncated : 0);
      if (id == sys::kPpoll) {
        c.Bytes(Tag(2, 0), a[2], internal::kSizeofTimespec);
        c.Bytes(Tag(3, 0), a[3], std::min<uint64_t>(a[4], internal::kMaxSigset));
      }
      break;
    }
    case sys::kSelect:
    case sys::kPselect6: {
      uint64_t bytes = (std::min<uint64_t>(a[0], 8192) + 63) / 64 * 8;
      for (unsigned i = 1; i <= 3; ++i) c.Bytes(Tag(i, 0), a[i], bytes);
      c.Bytes(Tag(4, 0), a[4], id == sys::kSelect ? internal::kSizeofTimeval
                                                  : internal::kSizeofTimespec);
      if (id == sys::kPselect6 && a[5] != 0) {
        uint64_t ss[2];  // {const sigset_t *ss; size_t ss_len}
        c.Bytes(Tag(5, 0), a[5], 16);
        if (c.mem_.Read(a[5], ss, 16) == 16) {
          c.Bytes(Tag(5, 1), ss[0], std::min<uint64_t>(ss[1], internal::kMaxSigset));
        }
      }
      break;
    }
    case sys::kIoctl: {
      IoctlArg ia;
      if (IoctlArgOf(a[1], &ia) && !ia.out) c.Bytes(Tag(2, 0), a[2], ia.size);
      break;
    }
    case sys::kFcntl:
      if (a[1] == F_SETLK || a[1] == F_SETLKW || a[1] == F_GETLK || a[1] == F_OFD_SETLK ||
          a[1] == F_OFD_SETLKW || a[1] == F_OFD_GETLK) {
        c.Bytes(Tag(2, 0), a[2], internal::kSizeofFlock);
      }
      break;
    case sys::kSendfile:
      c.Bytes(Tag(2, 0), a[2], 8);
      break;
    case sys::kSplice:
      c.Bytes(Tag(1, 0), a[1], 8);
      c.Bytes(Tag(3, 0), a[3], 8);
      break;
    case sys::kCopyFileRange:
      c.Bytes(Tag(1, 0), a[1], 8);
      c.Bytes(Tag(3, 0), a[3], 8);
      break;
    case sys::kSendmsg: {
      uint64_t m[7];  // name, namelen, iov, iovlen, control, controllen, flags
      c.Bytes(Tag(1, internal::kMsgHdr), a[1], internal::kSizeofMsghdr);
      if (a[1] == 0 || c.mem_.Read(a[1], m, sizeof m) != sizeof m) break;
      c.Bytes(Tag(1, internal::kMsgName), m[0],
              std::min<uint64_t>(m[1] & 0xffffffffu, internal::kMaxSockaddr));
      c.Bytes(Tag(1, internal::kMsgControl), m[4], std::min<uint64_t>(m[5], 4096));
      c.Iov(1, m[2], m[3], UINT64_MAX, internal::kMsgIov, internal::kMsgIovData);
      break;
    }
    case sys::kRecvmsg:
      c.Bytes(Tag(1, internal::kMsgHdr), a[1], internal::kSizeofMsghdr);
      break;
    case sys::kRecvmmsg:
      c.Bytes(Tag(4, 0), a[4], internal::kSizeofTimespec);
      break;
    case sys::kAccept:
    case sys::kAccept4:
    case sys::kGetsockname:
    case sys::kGetpeername:
      c.Bytes(Tag(2, 0), a[2], 4);  // *addrlen before the call
      break;
    case sys::kRecvfrom:
      c.Bytes(Tag(5, 0), a[5], 4);
      break;
    case sys::kSetsockopt:
      c.Bytes(Tag(3, 0), a[3], std::min<uint64_t>(a[4] & 0xffffffffu, 256));
      break;
    case sys::kGetsockopt:
      c.Bytes(Tag(4, 0), a[4], 4);
      break;
    case sys::kFutex: {
      unsigned cmd = a[1] & FUTEX_CMD_MASK;
      if (cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET || cmd == FUTEX_LOCK_PI ||
          cmd == FUTEX_LOCK_PI2 || cmd == FUTEX_WAIT_REQUEUE_PI) {
        c.Bytes(Tag(3, 0), a[3], internal::kSizeofTimespec);
      }
      break;
    }
    case sys::kClockNanosleep:
      break;
    case sys::kSchedSetaffinity:
      c.Buffer(Tag(2, 0), a[2], std::min<uint64_t>(a[1], 1024));
      break;
    case sys::kUtimensat:
      c.Bytes(Tag(2, 0), a[2], 2 * internal::kSizeofTimespec);
      break;
    case sys::kEpollCtl:
      c.Bytes(Tag(3, 0), a[3], internal::kSizeofEpollEvent);
      break;
    case sys::kEpollPwait:
    case sys::kEpollPwait2:
      c.Bytes(Tag(4, 0), a[4], std::min<uint64_t>(a[5], internal::kMaxSigset));
      if (id == sys::kEpollPwait2) c.Bytes(Tag(3, 0), a[3], internal::kSizeofTimespec);
      break;
    case sys::kPrctl:
      if (a[0] == 15 /* PR_SET_NAME */) c.CString(Tag(1, 0), a[1], 16);
      if (a[0] == 22 /* PR_SET_SECCOMP */ && a[1] == 2) c.Bytes(Tag(2, 0), a[2], 16);
      break;
    case sys::kClone3:
      c.Bytes(Tag(0, 0), a[0], std::min<uint64_t>(a[1], internal::kSizeofCloneArgs));
      break;
    case sys::kSetgroups:
      c.Bytes(Tag(1, 0), a[1], std::min<uint64_t>(a[0], 1024) * 4);
      break;
    case sys::kMount: {
      uint64_t flags = a[3];
      if ((flags & 0xffff0000u) == 0xC0ED0000u) flags &= 0xffff;  // MS_MGC_VAL
      bool remount = flags & 32, bind = flags & 4096, move = flags & 8192;
      if (!remount) c.CString(Tag(0, 0), a[0], internal::kPathMax);
      if (!(remount || bind || move)) c.CString(Tag(2, 0), a[2], ctx.strsize);
      if (!(bind || move)) c.CString(Tag(4, 0), a[4], ctx.strsize);
      break;
    }
    case sys::kCapget:
    case sys::kCapset:
      c.Bytes(Tag(0, 0), a[0], 8);  // {u32 version; int pid}
      if (id == sys::kCapset) c.Bytes(Tag(1, 0), a[1], 24);  // 2 x {effective, permitted, inh.}
      break;
    case sys::kSeccomp:
      if (a[0] == 1) c.Bytes(Tag(2, 0), a[2], 16);  // struct sock_fprog
      break;
    case sys::kSetMempolicy:
      c.Bytes(Tag(1, 0), a[1], NodemaskBytes(a[2]));
      break;
    case sys::kMbind:
      c.Bytes(Tag(3, 0), a[3], NodemaskBytes(a[4]));
      break;
    case sys::kRtSigreturn:
      if (ctx.arch == abi::Arch::kX86_64 && ctx.stack_pointer != 0) {
        c.Bytes(Tag(0, 0), ctx.stack_pointer + internal::kX86SigreturnMaskOffset, 8);
      }
      break;
    default:
      break;
  }
}

void CaptureSpecialExit(Capturer& c, uint16_t id) {
  const CaptureContext& ctx = c.ctx_;
  const uint64_t* a = ctx.args;
  const int64_t ret = ctx.ret;
  const bool err = IsError(ret);
  namespace sys = abi::sys;
  switch (id) {
    case sys::kPoll:
    case sys::kPpoll:
      if (!err && ret > 0) {
        uint64_t n = std::min<uint64_t>(a[1], internal::kMaxArrayItems);
        c.Bytes(Tag(0, 0), a[0], n * internal::kSizeofPollfd);
      }
      if (id == sys::kPpoll && !err) c.Bytes(Tag(2, 0), a[2], internal::kSizeofTimespec);
      break;
    case sys::kSelect:
    case sys::kPselect6:
      if (!err) {
        uint64_t bytes = (std::min<uint64_t>(a[0], 8192) + 63) / 64 * 8;
        if (ret > 0) {
          for (unsigned i = 1; i <= 3; ++i) c.Bytes(Tag(i, 0), a[i], bytes);
        }
        c.Bytes(Tag(4, 0), a[4], id == sys::kSelect ? internal::kSizeofTimeval
                                                    : internal::kSizeofTimespec);
      }
      break;
    case sys::kIoctl: {
      IoctlArg ia;
      if (!err && IoctlArgOf(a[1], &ia) && ia.out) c.Bytes(Tag(2, 0), a[2], ia.size);
      break;
    }
    case sys::kFcntl:
      if (!err && (a[1] == F_GETLK || a[1] == F_OFD_GETLK)) {
        c.Bytes(Tag(2, 0), a[2], internal::kSizeofFlock);
      }
      break;
    case sys::kSendfile:
      if (!err) c.Bytes(Tag(2, 0), a[2], 8);
      break;
    case sys::kRecvmsg: {
      uint64_t m[7];
      c.Bytes(Tag(1, internal::kMsgHdr), a[1], internal::kSizeofMsghdr);
      if (err || a[1] == 0 || c.mem_.Read(a[1], m, sizeof m) != sizeof m) break;
      c.Bytes(Tag(1, internal::kMsgName), m[0],
              std::min<uint64_t>(m[1] & 0xffffffffu, internal::kMaxSockaddr));
      c.Bytes(Tag(1, internal::kMsgControl), m[4], std::min<uint64_t>(m[5], 4096));
      c.Iov(1, m[2], m[3], static_cast<uint64_t>(ret), internal::kMsgIov,
            internal::kMsgIovData);
      break;
    }
    case sys::kSendmmsg:
    case sys::kRecvmmsg: {
      // Vector at exit (strace prints it then); recvmmsg data up to each msg_len.
      if (a[1] == 0 || (err && id == sys::kRecvmmsg)) break;
      uint64_t vlen = std::min<uint64_t>(static_cast<uint32_t>(a[2]), internal::kMaxMmsg);
      vlen = std::min<uint64_t>(vlen, ctx.strsize);
      c.Bytes(Tag(1, 0), a[1], vlen * internal::kSizeofMmsghdr);
      uint64_t done = err ? 0 : static_cast<uint64_t>(ret);
      for (uint64_t k = 0; k < vlen; ++k) {
        uint64_t m[8];
        if (c.mem_.Read(a[1] + k * internal::kSizeofMmsghdr, m, sizeof m) != sizeof m) break;
        unsigned base = internal::MmsgSeq(k);
        uint64_t data_limit = UINT64_MAX;
        if (id == sys::kRecvmmsg) data_limit = k < done ? (m[7] & 0xffffffffu) : 0;
        c.Bytes(Tag(1, base + internal::kMsgName), m[0],
                std::min<uint64_t>(m[1] & 0xffffffffu, internal::kMaxSockaddr));
        c.Bytes(Tag(1, base + internal::kMsgControl), m[4], std::min<uint64_t>(m[5], 4096));
        c.Iov(1, m[2], std::min<uint64_t>(m[3], internal::kMaxMmsgIov), data_limit,
              base + internal::kMsgIov, base + internal::kMsgIovData);
      }
      break;
    }
    case sys::kGetsockopt:
      if (!err) {
        uint32_t len = 0;
        c.Bytes(Tag(4, 0), a[4], 4);
        if (a[4] != 0 && c.mem_.Read(a[4], &len, 4) == 4) {
          c.Bytes(Tag(3, 0), a[3], std::min<uint32_t>(len, 256));
        }
      }
      break;
    case sys::kWait4:
      if (!err && ret > 0) c.Bytes(Tag(1, 0), a[1], 4);
      break;
    case sys::kGetdents:
    case sys::kGetdents64:
      if (!err && ret > 0) {
        c.Bytes(Tag(1, 0), a[1], std::min<uint64_t>(ret, internal::kMaxDirents));
      }
      break;
    case sys::kGetcwd:
      if (!err && ret > 0) c.Bytes(Tag(0, 0), a[0], std::min<uint64_t>(ret, internal::kPathMax));
      break;
    case sys::kGettimeofday:
      if (!err) c.Bytes(Tag(1, 0), a[1], 8);
      break;
    case sys::kTimes:
      if (!err) c.Bytes(Tag(0, 0), a[0], internal::kSizeofTms);
      break;
    case sys::kGetgroups:
      if (!err && ret > 0 && a[0] > 0) {
        c.Bytes(Tag(1, 0), a[1], std::min<uint64_t>(ret, 1024) * 4);
      }
      break;
    case sys::kGetxattr:
    case sys::kLgetxattr:
    case sys::kFgetxattr:
      if (!err && ret > 0 && a[3] > 0) c.Buffer(Tag(2, 0), a[2], static_cast<uint64_t>(ret));
      break;
    case sys::kListxattr:
    case sys::kLlistxattr:
    case sys::kFlistxattr:
      if (!err && ret > 0 && a[2] > 0) c.Buffer(Tag(1, 0), a[1], static_cast<uint64_t>(ret));
      break;
    case sys::kSchedGetaffinity:
      if (!err && ret > 0) c.Bytes(Tag(2, 0), a[2], std::min<uint64_t>(ret, 1024));
      break;
    case sys::kClockNanosleep:
    case sys::kNanosleep: {
      // The remaining time is written when a relative sleep is interrupted (EINTR, or the
      // ERESTART_RESTARTBLOCK a tracer sees).
      int rm = id == sys::kNanosleep ? 1 : 3;
      bool relative = id == sys::kNanosleep || !(a[1] & 1);
      if (relative && (ret == -4 || ret == -516)) c.Bytes(Tag(rm, 0), a[rm], internal::kSizeofTimespec);
      break;
    }
    case sys::kCapget:
      if (!err) c.Bytes(Tag(1, 0), a[1], 24);
      break;
    case sys::kGetMempolicy:
      if (!err) {
        c.Bytes(Tag(0, 0), a[0], 4);
        c.Bytes(Tag(1, 0), a[1], NodemaskBytes(a[2]));
      }
      break;
    case sys::kEpollWait:
    case sys::kEpollPwait:
    case sys::kEpollPwait2:
      if (!err && ret > 0) {
        c.Bytes(Tag(1, 0), a[1],
                std::min<uint64_t>(ret, internal::kMaxArrayItems) * internal::kSizeofEpollEvent);
      }
      break;
    case sys::kPrctl:
      if (!err && a[0] == 16 /* PR_GET_NAME */) c.CString(Tag(1, 0), a[1], 16);
      break;
    case sys::kClone3:
      if (!err && a[0] != 0) {
        uint64_t flags = 0, pidfd = 0, parent_tid = 0;
        if (c.ReadU64(a[0], &flags)) {
          if ((flags & CLONE_PIDFD) && c.ReadU64(a[0] + 8, &pidfd)) {
            c.Bytes(Tag(0, 1), pidfd, 4);
          }
          if ((flags & CLONE_PARENT_SETTID) && c.ReadU64(a[0] + 24, &parent_tid)) {
            c.Bytes(Tag(0, 2), parent_tid, 4);
          }
        }
      }
      break;
    default:
      break;
  }
}

}  // namespace

void CaptureEntry(const CaptureContext& ctx, TraceeMemory& mem, PayloadSink& sink) {
  const abi::SyscallDesc* d = abi::LookupSyscall(ctx.arch, ctx.nr);
  if (d == nullptr) return;
  const abi::SyscallMeta& m = abi::kSyscallMeta[d->id];
  Capturer c(ctx, mem, sink);
  const uint64_t* a = ctx.args;
  for (int i = 0; i < d->nargs; ++i) {
    const abi::ArgSpec& s = m.args[i];
    switch (s.kind) {
      case ArgKind::kPath:
        c.CString(Tag(i, 0), a[i], internal::kPathMax);
        break;
      case ArgKind::kStr:
        c.CString(Tag(i, 0), a[i], ctx.strsize);
        break;
      case ArgKind::kIbuf:
        c.Buffer(Tag(i, 0), a[i], a[s.aux]);
        break;
      case ArgKind::kIiov:
        c.Iov(i, a[i], a[s.aux], UINT64_MAX);
        break;
      case ArgKind::kSockaddr:
        c.Bytes(Tag(i, 0), a[i], std::min<uint64_t>(a[s.aux] & 0xffffffffu, internal::kMaxSockaddr));
        break;
      case ArgKind::kIn:
        c.Bytes(Tag(i, 0), a[i],
                s.type == StructType::kSigset ? SigsetSize(d, m, a) : StructSize(s.type));
        break;
      case ArgKind::kArgv: {
        // Pointer count in seq 0 (uint32, truncated if more than strsize), strings in 1+k.
        if (a[i] == 0) break;
        uint32_t n = 0;
        bool more = false, fault = false;
        uint64_t ptrs[16];
        uint32_t limit = std::min<uint32_t>(ctx.strsize, internal::kMaxArrayItems);
        for (;;) {
          uint32_t chunk = 16;
          ssize_t got = mem.Read(a[i] + uint64_t{n} * 8, ptrs, sizeof ptrs);
          if (got < 8) {
            fault = true;
            break;
          }
          chunk = static_cast<uint32_t>(got / 8);
          bool done = false;
          for (uint32_t k = 0; k < chunk; ++k) {
            if (ptrs[k] == 0) {
              done = true;
              break;
            }
            if (n >= limit) {
              more = true;
              done = true;
              break;
            }
            c.CString(Tag(i, n + 1), ptrs[k], ctx.strsize);
            ++n;
          }
          if (done) break;
        }
        uint8_t* p = sink.Begin(Tag(i, 0), 4);
        if (p != nullptr) {
          std::memcpy(p, &n, 4);
          sink.Commit(4, static_cast<uint16_t>((more ? kPayloadTruncated : 0) |
                                               (fault ? kPayloadFault : 0)));
        }
        break;
      }
      case ArgKind::kEnvp: {
        // Only the count: strace prints "0x7ffe... /* 22 vars */".
        if (a[i] == 0) break;
        uint32_t n = 0;
        bool fault = false;
        uint64_t ptrs[64];
        for (bool done = false; !done && n < (1u << 20);) {
          ssize_t got = mem.Read(a[i] + uint64_t{n} * 8, ptrs, sizeof ptrs);
          if (got < 8) {
            fault = true;
            break;
          }
          for (ssize_t k = 0; k < got / 8; ++k) {
            if (ptrs[k] == 0) {
              done = true;
              break;
            }
            ++n;
          }
        }
        uint8_t* p = sink.Begin(Tag(i, 0), 4);
        if (p != nullptr) {
          std::memcpy(p, &n, 4);
          sink.Commit(4, fault ? kPayloadFault : 0);
        }
        break;
      }
      default:
        break;
    }
  }
  CaptureSpecialEntry(c, d->id);
}

void CaptureExit(const CaptureContext& ctx, TraceeMemory& mem, PayloadSink& sink) {
  const abi::SyscallDesc* d = abi::LookupSyscall(ctx.arch, ctx.nr);
  if (d == nullptr) return;
  const abi::SyscallMeta& m = abi::kSyscallMeta[d->id];
  Capturer c(ctx, mem, sink);
  const uint64_t* a = ctx.args;
  const bool err = IsError(ctx.ret) && !m.never_fails;
  if (!err) {
    for (int i = 0; i < d->nargs; ++i) {
      const abi::ArgSpec& s = m.args[i];
      switch (s.kind) {
        case ArgKind::kObuf:
          if (ctx.ret > 0) c.Buffer(Tag(i, 0), a[i], static_cast<uint64_t>(ctx.ret));
          break;
        case ArgKind::kOiov:
          c.Iov(i, a[i], a[s.aux], ctx.ret > 0 ? static_cast<uint64_t>(ctx.ret) : 0);
          break;
        case ArgKind::kOsockaddr: {
          uint32_t len = 0;
          uint64_t lenp = a[s.aux];
          c.Bytes(Tag(s.aux, 0), lenp, 4);
          if (lenp != 0 && mem.Read(lenp, &len, 4) == 4) {
            c.Bytes(Tag(i, 0), a[i], std::min<uint32_t>(len, internal::kMaxSockaddr));
          }
          break;
        }
        case ArgKind::kOut:
          c.Bytes(Tag(i, 0), a[i],
                  s.type == StructType::kSigset ? SigsetSize(d, m, a) : StructSize(s.type));
          break;
        default:
          break;
      }
    }
  }
  CaptureSpecialExit(c, d->id);
}

}  // namespace clonebot::trace::decode
