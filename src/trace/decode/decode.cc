// Decode: a recorded syscall → strace 6.1's default text (no -v, no -y), one string per
// argument plus the return value. See decode.h for the contract and tags.h for payload tags.
//
// Most syscalls are decoded from their argument kinds in tools/syscalls.py; the ones strace
// prints in a shape of their own (ioctl, fcntl, futex, clone, wait4, poll, select, msghdr...)
// have a case in Decoder::Special.
#include "trace/decode/decode.h"

#include <linux/fcntl.h>
#include <linux/fs.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <sys/ioctl.h>

#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "abi/syscall_table.h"
#include "abi/syscall_table_gen.h"
#include "trace/decode/more_structs.h"
#include "trace/decode/primitives.h"
#include "trace/decode/structs.h"
#include "trace/decode/tags.h"
#include "trace/decode/xlat.h"
#include "trace/record.h"

namespace clonebot::trace::decode {
namespace {

using abi::ArgKind;
using abi::StructType;
using internal::Tag;
namespace sys = abi::sys;

bool IsErrorRet(int64_t r) { return r < 0 && r >= -4095; }

// strace's sprinttime_nsec comment after an absolute time: " /* 2001-09-09T01:46:40+0000 */",
// with ".%09d" nanoseconds when non-zero; local time zone, as strace uses.
void AppendTimeComment(std::string* s, int64_t sec, int64_t nsec) {
  time_t t = static_cast<time_t>(sec);
  struct tm tm;
  if (localtime_r(&t, &tm) == nullptr) return;
  char buf[64], zone[16];
  if (strftime(buf, sizeof buf, "%FT%T", &tm) == 0 || strftime(zone, sizeof zone, "%z", &tm) == 0) return;
  s->append(" /* ");
  s->append(buf);
  if (nsec != 0) {
    char frac[16];
    snprintf(frac, sizeof frac, ".%09lld", static_cast<long long>(nsec));
    s->append(frac);
  }
  s->append(zone);
  s->append(" */");
}


void AppendDec(std::string* s, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  s->append(buf, r.ptr);
}
void AppendUDec(std::string* s, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  s->append(buf, r.ptr);
}
void AppendInt(std::string* s, uint64_t v) { AppendDec(s, static_cast<int32_t>(v)); }

// "NAME" or "0x10 /* PREFIX??? */" (strace's printxval).
void AppendXval(std::string* s, uint64_t v, std::span<const FlagDef> defs, const char* unknown) {
  AppendEnum(s, v, defs, unknown);
}

template <typename T>
bool Load(std::span<const uint8_t> d, size_t off, T* v) {
  if (off + sizeof(T) > d.size()) return false;
  std::memcpy(v, d.data() + off, sizeof(T));
  return true;
}

// PER_LINUX|ADDR_NO_RANDOMIZE
void AppendPersonality(std::string* s, uint32_t v) {
  AppendEnum(s, v & 0xff, xlat::kPersonality, nullptr);
  if (v & ~0xffu) {
    s->push_back('|');
    AppendFlags(s, v & ~0xffu, xlat::kPersonalityFlags, nullptr);
  }
}

// 1<<CAP_CHOWN|1<<CAP_KILL, unknown bits as hex, 0 for none (strace's capability sets).
void AppendCapSet(std::string* s, uint64_t bits) {
  if (bits == 0) {
    s->push_back('0');
    return;
  }
  bool first = true;
  for (const FlagDef& c : xlat::kCapabilities) {
    if (bits & (uint64_t{1} << c.value)) {
      if (!first) s->push_back('|');
      first = false;
      s->append("1<<");
      s->append(c.name);
      bits &= ~(uint64_t{1} << c.value);
    }
  }
  if (bits != 0) {
    if (!first) s->push_back('|');
    AppendHex(s, bits);
  }
}

class Decoder {
 public:
  Decoder(const SyscallView& v, Decoded* out) : v_(v), out_(out) {}

  void Run();

 private:
  // Payload lookup.
  const Payload* Find(std::span<const Payload> list, uint16_t tag) const {
    for (const Payload& p : list) {
      if (p.tag == tag) return &p;
    }
    return nullptr;
  }
  const Payload* In(unsigned slot, unsigned seq = 0) const {
    return Find(v_.entry_payloads, Tag(slot, seq));
  }
  const Payload* Out(unsigned slot, unsigned seq = 0) const {
    if (!v_.has_exit) return nullptr;
    return Find(v_.exit_payloads, Tag(slot, seq));
  }
  static bool Usable(const Payload* p) { return p != nullptr && !(p->flags & kPayloadFault); }

  // Succeeded: has an exit and the return value is not an error.
  bool Ok() const { return v_.has_exit && !failed_; }

  std::string& Arg() {
    out_->args.emplace_back();
    return out_->args.back();
  }
  // The arguments from here on are printed at exit.
  void ExitArgsStart() {
    if (!exit_started_) {
      out_->entry_args = out_->args.size();
      exit_started_ = true;
    }
  }

  void Addr(std::string* s, uint64_t a) { AppendPtr(s, a); }
  // Quotes captured bytes, cut to the -s show asked for (it may be lower than the recorded).
  void Quote(std::string* s, const Payload* p) {
    std::span<const uint8_t> d = p->data;
    bool truncated = (p->flags & kPayloadTruncated) != 0;
    if (v_.strsize > 0 && d.size() > v_.strsize) {
      d = d.first(v_.strsize);
      truncated = true;
    }
    AppendQuoted(s, d, truncated);
  }
  // A string argument: quoted if captured, else its address. Paths are never cut.
  void Str(std::string* s, const Payload* p, uint64_t addr, bool whole = false) {
    if (addr == 0) {
      s->append("NULL");
    } else if (Usable(p)) {
      if (whole) AppendQuoted(s, p->data, (p->flags & kPayloadTruncated) != 0);
      else Quote(s, p);
    } else {
      Addr(s, addr);
    }
  }
  void StructText(std::string* s, StructType t, const Payload* p, uint64_t addr);
  // An int the kernel reads and may rewrite (socklen_t*): "[16]", or "[256 => 4]" once changed.
  void ValueResultInt(std::string* s, int arg);
  void Iov(std::string* s, unsigned slot, uint64_t addr, uint64_t count, bool at_exit,
           unsigned seq0 = 0, unsigned data_seq = 1);
  void OutPtrInt(std::string* s, const Payload* p, uint64_t addr, bool is_unsigned = false);
  void Generic(int i);
  bool Special(uint16_t id);
  void Ret(uint16_t id);

  void DecodeIoctl();
  void DecodeFcntl();
  void DecodeFutex();
  void DecodeClone();
  void DecodeClone3();
  void DecodeWait4();
  void DecodePoll(bool ppoll);
  void DecodeSelect(bool pselect);
  void DecodeMsg(bool send);
  void DecodeMmsg(bool send);
  void Msghdr(std::string* s, const uint64_t* m, bool at_exit, unsigned seq0);
  void DecodeSockopt(bool get);
  void DecodeSocket();
  void DecodeSockaddrLen(int addr_arg, int len_arg);
  void DecodePrctl();
  void FdSet(std::string* s, const Payload* p, uint64_t addr, uint64_t nfds);
  void Nodemask(std::string* s, const Payload* p, uint64_t addr, uint64_t maxnode);
  void MempolicyMode(std::string* s, uint64_t mode);
  void SockFprog(std::string* s, const Payload* p, uint64_t addr);

  const SyscallView& v_;
  Decoded* out_;
  const abi::SyscallDesc* desc_ = nullptr;
  const abi::SyscallMeta* meta_ = nullptr;
  bool failed_ = false;
  bool exit_started_ = false;
  // Return-value shape.
  enum class RetMode { kDec, kHex, kOct, kUDec, kFdFlags, kFlFlags, kTimeout, kAux, kHexAux } ret_mode_ =
      RetMode::kDec;
  std::string ret_aux_;  // for kAux: text in parentheses after the value
};

void Decoder::ValueResultInt(std::string* s, int arg) {
  const uint64_t addr = v_.args[arg];
  const Payload* before = In(arg);
  const Payload* after = Out(arg);
  int32_t in = 0, outv = 0;
  bool have_in = Usable(before) && Load(before->data, 0, &in);
  if (addr == 0) {
    s->append("NULL");
  } else if (Ok() && Usable(after) && Load(after->data, 0, &outv)) {
    s->push_back('[');
    if (have_in && in != outv) {
      AppendDec(s, in);
      s->append(" => ");
    }
    AppendDec(s, outv);
    s->push_back(']');
  } else if (have_in) {
    s->push_back('[');
    AppendDec(s, in);
    s->push_back(']');
  } else {
    Addr(s, addr);
  }
}

void Decoder::StructText(std::string* s, StructType t, const Payload* p, uint64_t addr) {
  if (addr == 0) {
    s->append("NULL");
    return;
  }
  if (!Usable(p)) {
    Addr(s, addr);
    return;
  }
  std::span<const uint8_t> d = p->data;
  bool ok = false;
  switch (t) {
    case StructType::kStat: ok = AppendStat(s, d); break;
    case StructType::kStatx: ok = AppendStatx(s, d); break;
    case StructType::kStatfs: ok = AppendStatfs(s, d); break;
    case StructType::kTimespec: ok = AppendTimespec(s, d); break;
    case StructType::kTimeval: ok = AppendTimeval(s, d); break;
    case StructType::kItimerspec: ok = AppendItimerspec(s, d); break;
    case StructType::kItimerval: ok = AppendItimerval(s, d); break;
    case StructType::kRlimit: ok = AppendRlimit(s, d); break;
    case StructType::kUtsname: ok = AppendUtsname(s, d); break;
    case StructType::kSysinfo: ok = AppendSysinfo(s, d); break;
    case StructType::kRusage: ok = AppendRusage(s, d); break;
    case StructType::kSigset: ok = AppendSigset(s, d); break;
    case StructType::kSigaction: ok = AppendSigaction(s, d); break;
    case StructType::kSiginfo: ok = AppendSiginfo(s, d); break;
    case StructType::kStack: ok = AppendStackT(s, d); break;
    case StructType::kPipefds: {
      int32_t fd[2];
      if ((ok = Load(d, 0, &fd[0]) && Load(d, 4, &fd[1]))) {
        // Arrays print at most -s elements, as in strace.
        s->push_back('[');
        for (uint32_t k = 0; k < 2; ++k) {
          if (k > 0) s->append(", ");
          if (v_.strsize < 2 && k >= v_.strsize) {
            s->append("...");
            break;
          }
          AppendDec(s, fd[k]);
        }
        s->push_back(']');
      }
      break;
    }
    case StructType::kId: {
      uint32_t id = 0;
      if ((ok = Load(d, 0, &id))) {
        s->push_back('[');
        if (id == 0xffffffffu) s->append("-1"); else AppendUDec(s, id);
        s->push_back(']');
      }
      break;
    }
    case StructType::kUint: {
      uint32_t x = 0;
      if ((ok = Load(d, 0, &x))) {
        s->push_back('[');
        AppendUDec(s, x);
        s->push_back(']');
      }
      break;
    }
    case StructType::kOpenhow: {
      uint64_t f[3];
      if ((ok = Load(d, 0, &f[0]) && Load(d, 8, &f[1]) && Load(d, 16, &f[2]))) {
        s->append("{flags=");
        AppendOpenFlags(s, f[0]);
        if (f[1] != 0 || (f[0] & (O_CREAT | __O_TMPFILE))) {
          s->append(", mode=");
          AppendOctalMode(s, f[1]);
        }
        if (f[2] != 0) {
          s->append(", resolve=");
          AppendFlags(s, f[2], xlat::kResolveFlags, nullptr);
        }
        s->push_back('}');
      }
      break;
    }
    case StructType::kNone:
      break;
  }
  if (!ok) Addr(s, addr);
}

// [{iov_base="...", iov_len=N}, ...]; buffers from payloads (seq data_seq + i).
void Decoder::Iov(std::string* s, unsigned slot, uint64_t addr, uint64_t count, bool at_exit,
                  unsigned seq0, unsigned data_seq) {
  const Payload* arr = at_exit ? Out(slot, seq0) : In(slot, seq0);
  if (addr == 0) {
    s->append("NULL");
    return;
  }
  if (!Usable(arr)) {
    Addr(s, addr);
    return;
  }
  size_t n = arr->data.size() / internal::kSizeofIovec;
  s->push_back('[');
  for (size_t i = 0; i < n; ++i) {
    uint64_t base = 0, len = 0;
    Load(arr->data, i * 16, &base);
    Load(arr->data, i * 16 + 8, &len);
    if (i > 0) s->append(", ");
    s->append("{iov_base=");
    const Payload* d = at_exit ? Out(slot, data_seq + i) : In(slot, data_seq + i);
    if (base != 0 && Usable(d)) {
      Quote(s, d);
    } else {
      Addr(s, base);
    }
    s->append(", iov_len=");
    AppendUDec(s, len);
    s->push_back('}');
  }
  if ((arr->flags & kPayloadTruncated) || n < count) {
    if (n > 0) s->append(", ");
    s->append("...");
  }
  s->push_back(']');
}

// "[N]" for an int the kernel wrote, else the address.
void Decoder::OutPtrInt(std::string* s, const Payload* p, uint64_t addr, bool is_unsigned) {
  int32_t x = 0;
  if (addr == 0) {
    s->append("NULL");
  } else if (Usable(p) && Load(p->data, 0, &x)) {
    s->push_back('[');
    if (is_unsigned) AppendUDec(s, static_cast<uint32_t>(x)); else AppendDec(s, x);
    s->push_back(']');
  } else {
    Addr(s, addr);
  }
}

// One argument from its table kind.
void Decoder::Generic(int i) {
  const abi::ArgSpec& spec = meta_->args[i];
  const uint64_t a = v_.args[i];
  // Output arguments are printed at exit (strace's exiting(tcp) branch).
  bool is_out = spec.kind == ArgKind::kObuf || spec.kind == ArgKind::kOiov ||
                spec.kind == ArgKind::kOut || spec.kind == ArgKind::kOsockaddr;
  if (is_out) ExitArgsStart();
  std::string& s = Arg();
  switch (spec.kind) {
    case ArgKind::kD: AppendInt(&s, a); break;
    case ArgKind::kLd: AppendDec(&s, static_cast<int64_t>(a)); break;
    case ArgKind::kU: AppendUDec(&s, static_cast<uint32_t>(a)); break;
    case ArgKind::kLu: AppendUDec(&s, a); break;
    case ArgKind::kX: AppendHex(&s, a); break;
    case ArgKind::kP: Addr(&s, a); break;
    case ArgKind::kFd: AppendInt(&s, a); break;
    case ArgKind::kAtfd:
      if (static_cast<int32_t>(a) == -100) s.append("AT_FDCWD"); else AppendInt(&s, a);
      break;
    case ArgKind::kId:
      if (static_cast<uint32_t>(a) == 0xffffffffu) s.append("-1");
      else AppendUDec(&s, static_cast<uint32_t>(a));
      break;
    case ArgKind::kPath:
      Str(&s, In(i), a, /*whole=*/true);
      break;
    case ArgKind::kStr:
    case ArgKind::kIbuf:
      Str(&s, In(i), a);
      break;
    case ArgKind::kObuf:
      if (!Ok() || a == 0) {
        Addr(&s, a);
      } else if (v_.ret == 0) {
        s.append("\"\"");
      } else {
        Str(&s, Out(i), a);
      }
      break;
    case ArgKind::kIiov:
      Iov(&s, i, a, v_.args[spec.aux], false);
      break;
    case ArgKind::kOiov:
      if (Ok()) Iov(&s, i, a, v_.args[spec.aux], true); else Addr(&s, a);
      break;
    case ArgKind::kSockaddr: {
      const Payload* p = In(i);
      if (a == 0) {
        s.append("NULL");
      } else if (!Usable(p) || !AppendSockaddr(&s, p->data)) {
        Addr(&s, a);
      }
      break;
    }
    case ArgKind::kOsockaddr: {
      const Payload* p = Out(i);
      if (a == 0) {
        s.append("NULL");
      } else if (!Ok() || !Usable(p) || !AppendSockaddr(&s, p->data)) {
        Addr(&s, a);
      }
      break;
    }
    case ArgKind::kIn:
      StructText(&s, spec.type, In(i), a);
      break;
    case ArgKind::kOut:
      if (Ok() || a == 0) StructText(&s, spec.type, Out(i), a); else Addr(&s, a);
      break;
    case ArgKind::kArgv: {
      const Payload* cnt = In(i);
      uint32_t n = 0;
      if (a == 0) {
        s.append("NULL");
      } else if (cnt == nullptr || !Load(cnt->data, 0, &n) ||
                 ((cnt->flags & kPayloadFault) && n == 0)) {
        Addr(&s, a);
      } else {
        s.push_back('[');
        for (uint32_t k = 0; k < n; ++k) {
          if (k > 0) s.append(", ");
          const Payload* str = In(i, k + 1);
          if (Usable(str)) {
            Quote(&s, str);
          } else {
            s.append("???");
          }
        }
        if (cnt->flags & (kPayloadTruncated | kPayloadFault)) {
          if (n > 0) s.append(", ");
          s.append("...");
        }
        s.push_back(']');
      }
      break;
    }
    case ArgKind::kEnvp: {
      const Payload* cnt = In(i);
      uint32_t n = 0;
      Addr(&s, a);
      if (a != 0 && Usable(cnt) && Load(cnt->data, 0, &n)) {
        s.append(" /* ");
        AppendUDec(&s, n);
        s.append(n == 1 ? " var */" : " vars */");
      }
      break;
    }
    case ArgKind::kSpecial: AppendHex(&s, a); break;
    case ArgKind::kOflags: AppendOpenFlags(&s, a); break;
    case ArgKind::kOflagbits: AppendFlags(&s, a, kOpenFlags, nullptr); break;
    case ArgKind::kInflags: AppendFlags(&s, a, xlat::kInotifyInitFlags, nullptr); break;
    case ArgKind::kInmask:
      AppendFlags(&s, static_cast<uint32_t>(a), xlat::kInotifyMask, nullptr);
      break;
    case ArgKind::kSchedpolicy: {
      uint32_t pol = static_cast<uint32_t>(a);
      AppendEnum(&s, pol & ~0x40000000u, xlat::kSchedPolicies, "SCHED_???");
      if (pol & 0x40000000u) s.append("|SCHED_RESET_ON_FORK");
      break;
    }
    case ArgKind::kUmountflags:
      AppendFlags(&s, static_cast<uint32_t>(a), xlat::kUmountFlags, nullptr);
      break;
    case ArgKind::kPersonality:
      if (static_cast<uint32_t>(a) == 0xffffffffu) AppendHex(&s, static_cast<uint32_t>(a));
      else AppendPersonality(&s, static_cast<uint32_t>(a));
      break;
    case ArgKind::kMode: AppendOctalMode(&s, static_cast<uint32_t>(a)); break;
    case ArgKind::kAtflags:
      // strace picks the table per syscall: 0x200 is AT_EACCESS for faccessat2 and
      // AT_REMOVEDIR elsewhere.
      AppendFlags(&s, static_cast<uint32_t>(a),
                  desc_->id == sys::kFaccessat2 ? xlat::kFaccessatFlags : xlat::kAtFlags,
                  nullptr);
      break;
    case ArgKind::kAccmode:
      AppendFlags(&s, static_cast<uint32_t>(a), xlat::kAccessModes, "F_OK");
      break;
    case ArgKind::kSig: s.append(SignalName(static_cast<int32_t>(a))); break;
    case ArgKind::kSighow: AppendXval(&s, a, xlat::kSigprocmaskHow, "SIG_???"); break;
    case ArgKind::kWhence:
      AppendXval(&s, static_cast<uint32_t>(a), xlat::kWhence, "SEEK_???");
      break;
    case ArgKind::kProt: AppendFlags(&s, a, kProtFlags, "PROT_NONE"); break;
    case ArgKind::kMmapflags: {
      uint64_t type = a & 0xf;
      AppendEnum(&s, type, kMapTypes, nullptr);
      if (a & ~uint64_t{0xf}) {
        s.push_back('|');
        AppendFlags(&s, a & ~uint64_t{0xf}, kMapFlags, nullptr);
      }
      break;
    }
    case ArgKind::kMremapflags: AppendFlags(&s, a, xlat::kMremapFlags, nullptr); break;
    case ArgKind::kMsyncflags: AppendFlags(&s, a, xlat::kMsyncFlags, nullptr); break;
    case ArgKind::kMadv: AppendXval(&s, a, xlat::kMadvise, "MADV_???"); break;
    case ArgKind::kItimerwhich: AppendXval(&s, a, xlat::kItimerWhich, "ITIMER_???"); break;
    case ArgKind::kAf: AppendXval(&s, a, kAddressFamilies, "AF_???"); break;
    case ArgKind::kSocktype: {
      AppendXval(&s, a & 0xf, kSockTypes, "SOCK_???");
      if (a & ~uint64_t{0xf}) {
        s.push_back('|');
        AppendFlags(&s, a & ~uint64_t{0xf}, kSockTypeFlags, nullptr);
      }
      break;
    }
    case ArgKind::kSockflags: AppendFlags(&s, a, kSockTypeFlags, nullptr); break;
    case ArgKind::kMsgflags: AppendFlags(&s, static_cast<uint32_t>(a), kMsgFlags, nullptr); break;
    case ArgKind::kShuthow: AppendXval(&s, a, xlat::kShutdownHow, "SHUT_???"); break;
    case ArgKind::kWaitopts:
      AppendFlags(&s, static_cast<uint32_t>(a),
                  desc_->id == sys::kWaitid ? xlat::kWaitidOptions : xlat::kWait4Options,
                  nullptr);
      break;
    case ArgKind::kFlockop: AppendFlags(&s, a, xlat::kFlockOps, nullptr); break;
    case ArgKind::kRlimitres:
      AppendXval(&s, static_cast<uint32_t>(a), xlat::kRlimitResources, "RLIMIT_???");
      break;
    case ArgKind::kRusagewho:
      AppendXval(&s, static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(a))),
                 xlat::kRusageWho, "RUSAGE_???");
      break;
    case ArgKind::kClockid:
      AppendXval(&s, static_cast<uint32_t>(a), xlat::kClockIds, "CLOCK_???");
      break;
    case ArgKind::kTimerflags: AppendFlags(&s, a, xlat::kTimerFlags, nullptr); break;
    case ArgKind::kEpollop: AppendXval(&s, a, xlat::kEpollOps, "EPOLL_CTL_???"); break;
    case ArgKind::kEpollcflags: AppendFlags(&s, a, xlat::kEpollCreateFlags, nullptr); break;
    case ArgKind::kCloneflags: AppendFlags(&s, a, xlat::kUnshareFlags, nullptr); break;
    case ArgKind::kSpliceflags: AppendFlags(&s, a, xlat::kSpliceFlags, nullptr); break;
    case ArgKind::kFadvice: AppendXval(&s, a, xlat::kFadvise, "POSIX_FADV_???"); break;
    case ArgKind::kTfdflags: AppendFlags(&s, a, xlat::kTimerfdCreateFlags, nullptr); break;
    case ArgKind::kTfdsetflags: AppendFlags(&s, a, xlat::kTimerfdSetFlags, nullptr); break;
    case ArgKind::kSfdflags: AppendFlags(&s, a, xlat::kSignalfdFlags, nullptr); break;
    case ArgKind::kEfdflags: AppendFlags(&s, a, xlat::kEventfdFlags, nullptr); break;
    case ArgKind::kRenameflags: AppendFlags(&s, a, xlat::kRenameFlags, nullptr); break;
    case ArgKind::kGrndflags: AppendFlags(&s, a, xlat::kGetrandomFlags, nullptr); break;
    case ArgKind::kMfdflags: AppendFlags(&s, a, xlat::kMemfdFlags, nullptr); break;
    case ArgKind::kStatxmask:
      AppendFlags(&s, static_cast<uint32_t>(a), xlat::kStatxMasks, nullptr);
      break;
    case ArgKind::kXattrflags: AppendFlags(&s, a, xlat::kXattrFlags, nullptr); break;
  }
}

void Decoder::Run() {
  out_->args.clear();
  out_->entry_args = 0;
  out_->ret.clear();
  out_->sep_on_resume = false;
  out_->entry_tail = 0;
  desc_ = abi::LookupSyscall(v_.arch, v_.nr);
  if (desc_ != nullptr && v_.nr > abi::kStraceKnownMax) desc_ = nullptr;  // see SyscallName
  if (desc_ == nullptr) {
    // strace's printargs for a number it does not know: six hex arguments.
    for (int i = 0; i < 6; ++i) AppendHex(&Arg(), v_.args[i]);
    out_->entry_args = out_->args.size();
    failed_ = v_.has_exit && IsErrorRet(v_.ret);
    Ret(0xffff);
    return;
  }
  meta_ = &abi::kSyscallMeta[desc_->id];
  failed_ = v_.has_exit && IsErrorRet(v_.ret) && !meta_->never_fails;
  if (!Special(desc_->id)) {
    for (int i = 0; i < desc_->nargs; ++i) Generic(i);
  }
  if (!exit_started_) out_->entry_args = out_->args.size();
  Ret(desc_->id);
}

void Decoder::Ret(uint16_t id) {
  std::string& r = out_->ret;
  if (!v_.has_exit) {
    r = "?";
    return;
  }
  if (failed_) {
    AppendErrorReturn(&r, v_.ret);
    return;
  }
  (void)id;
  const int64_t ret = v_.ret;
  switch (ret_mode_) {
    case RetMode::kDec: AppendDec(&r, ret); break;
    case RetMode::kUDec: AppendUDec(&r, static_cast<uint64_t>(ret)); break;
    case RetMode::kHex: AppendHex(&r, static_cast<uint64_t>(ret)); break;
    case RetMode::kOct: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%#03" PRIo64, static_cast<uint64_t>(ret));  // umask: "022", "000"
      r.append(buf);
      break;
    }
    case RetMode::kFdFlags:
      AppendHex(&r, static_cast<uint64_t>(ret));
      if (ret != 0) {
        r.append(" (flags ");
        AppendFlags(&r, static_cast<uint64_t>(ret), xlat::kFdFlags, nullptr);
        r.push_back(')');
      }
      break;
    case RetMode::kFlFlags:
      AppendHex(&r, static_cast<uint64_t>(ret));
      r.append(" (flags ");
      AppendOpenFlags(&r, static_cast<uint64_t>(ret));
      r.push_back(')');
      break;
    case RetMode::kTimeout:
      AppendDec(&r, ret);
      if (ret == 0) {
        r.append(" (Timeout)");
      } else if (!ret_aux_.empty()) {
        r.append(" (");
        r.append(ret_aux_);
        r.push_back(')');
      }
      break;
    case RetMode::kAux:
    case RetMode::kHexAux:
      if (ret_mode_ == RetMode::kHexAux) AppendHex(&r, static_cast<uint64_t>(ret));
      else AppendDec(&r, ret);
      if (!ret_aux_.empty()) {
        r.append(" (");
        r.append(ret_aux_);
        r.push_back(')');
      }
      break;
  }
}

// Hand-written shapes. Returns false to fall back to Generic for every argument.
bool Decoder::Special(uint16_t id) {
  const uint64_t* a = v_.args;
  switch (id) {
    case sys::kMremap:
      ret_mode_ = RetMode::kHex;
      for (int i = 0; i < 4; ++i) Generic(i);
      // new_address is printed only when it is used (MREMAP_MAYMOVE|MREMAP_FIXED).
      if ((a[3] & 3) == 3) Generic(4);
      return true;
    case sys::kMmap:
    case sys::kBrk:
    case sys::kShmat:
      ret_mode_ = RetMode::kHex;
      return false;
    case sys::kUmask:
      ret_mode_ = RetMode::kOct;
      return false;
    case sys::kAlarm:
    case sys::kTimes:
      ret_mode_ = RetMode::kUDec;
      if (id == sys::kTimes) {
        ExitArgsStart();
        std::string& s = Arg();
        const Payload* p = Out(0);
        uint64_t t[4];
        if (a[0] == 0) {
          s.append("NULL");
        } else if (Ok() && Usable(p) && p->data.size() >= sizeof t) {
          std::memcpy(t, p->data.data(), sizeof t);
          s.append("{tms_utime=");
          AppendUDec(&s, t[0]);
          s.append(", tms_stime=");
          AppendUDec(&s, t[1]);
          s.append(", tms_cutime=");
          AppendUDec(&s, t[2]);
          s.append(", tms_cstime=");
          AppendUDec(&s, t[3]);
          s.push_back('}');
        } else {
          Addr(&s, a[0]);
        }
        return true;
      }
      return false;
    case sys::kPersonality:
      if (Ok()) {
        ret_mode_ = RetMode::kHexAux;
        AppendPersonality(&ret_aux_, static_cast<uint32_t>(v_.ret));
      }
      return false;
    case sys::kOpen:
    case sys::kOpenat: {
      int f = id == sys::kOpenat ? 1 : 0;
      for (int i = 0; i <= f + 1; ++i) Generic(i);
      // The mode only matters (and is only printed) with O_CREAT or O_TMPFILE.
      if (a[f + 1] & (O_CREAT | __O_TMPFILE)) Generic(f + 2);
      return true;
    }
    case sys::kRtSigreturn: {
      std::string& s = Arg();
      const Payload* p = In(0);
      s.append("{mask=");
      if (Usable(p)) {
        AppendSigset(&s, p->data);
      } else {
        s.append("[]");
      }
      s.push_back('}');
      return true;
    }
    case sys::kIoctl: DecodeIoctl(); return true;
    case sys::kFcntl: DecodeFcntl(); return true;
    case sys::kFutex: DecodeFutex(); return true;
    case sys::kClone: DecodeClone(); return true;
    case sys::kClone3: DecodeClone3(); return true;
    case sys::kWait4: DecodeWait4(); return true;
    case sys::kPoll: DecodePoll(false); return true;
    case sys::kPpoll: DecodePoll(true); return true;
    case sys::kSelect: DecodeSelect(false); return true;
    case sys::kPselect6: DecodeSelect(true); return true;
    case sys::kSendmsg: DecodeMsg(true); return true;
    case sys::kRecvmsg: DecodeMsg(false); return true;
    case sys::kSendmmsg: DecodeMmsg(true); return true;
    case sys::kRecvmmsg: DecodeMmsg(false); return true;
    case sys::kSetsockopt: DecodeSockopt(false); return true;
    case sys::kGetsockopt: DecodeSockopt(true); return true;
    case sys::kSocket: DecodeSocket(); return true;
    case sys::kPrctl: DecodePrctl(); return true;
    case sys::kAccept:
    case sys::kGetsockname:
    case sys::kGetpeername:
      DecodeSockaddrLen(1, 2);
      return true;
    case sys::kAccept4:
      DecodeSockaddrLen(1, 2);
      Generic(3);
      return true;
    case sys::kRecvfrom:
      for (int i = 0; i < 5; ++i) Generic(i);
      {
        std::string& s = Arg();
        const Payload* before = In(5);
        const Payload* after = Out(5);
        int32_t in = 0, outv = 0;
        if (a[5] == 0) {
          s.append("NULL");
        } else if (Ok() && Usable(after) && Load(after->data, 0, &outv)) {
          s.push_back('[');
          if (Usable(before) && Load(before->data, 0, &in) && in != outv) {
            AppendDec(&s, in);
            s.append(" => ");
          }
          AppendDec(&s, outv);
          s.push_back(']');
        } else {
          Addr(&s, a[5]);
        }
      }
      return true;
    case sys::kArchPrctl: {
      AppendXval(&Arg(), a[0], xlat::kArchPrctlCodes, "ARCH_???");
      if (a[0] == 0x1003 || a[0] == 0x1004) {  // ARCH_GET_FS/GS write a word
        ExitArgsStart();
      }
      Addr(&Arg(), a[1]);
      return true;
    }
    case sys::kGetdents:
    case sys::kGetdents64: {
      Generic(0);
      ExitArgsStart();
      std::string& s = Arg();
      Addr(&s, a[1]);
      const Payload* p = Out(1);
      if (Ok() && Usable(p)) {
        // Count records by d_reclen (offset 16 in linux_dirent64 and linux_dirent).
        size_t n = 0, off = 0;
        while (off + 18 <= p->data.size()) {
          uint16_t reclen = 0;
          Load(p->data, off + 16, &reclen);
          if (reclen == 0) break;
          off += reclen;
          ++n;
        }
        s.append(" /* ");
        AppendUDec(&s, n);
        s.append(n == 1 ? " entry */" : " entries */");
      } else if (Ok() && v_.ret == 0) {
        s.append(" /* 0 entries */");
      }
      AppendUDec(&Arg(), static_cast<uint32_t>(a[2]));
      return true;
    }
    case sys::kGetcwd: {
      ExitArgsStart();
      std::string& s = Arg();
      const Payload* p = Out(0);
      if (Ok() && Usable(p)) {
        std::span<const uint8_t> d = p->data;
        const void* nul = std::memchr(d.data(), 0, d.size());
        if (nul != nullptr) d = d.first(static_cast<const uint8_t*>(nul) - d.data());
        AppendQuoted(&s, d, false);
      } else {
        Addr(&s, a[0]);
      }
      AppendUDec(&Arg(), a[1]);
      return true;
    }
    case sys::kGetrandom: {
      ExitArgsStart();
      std::string& s = Arg();
      const Payload* p = Out(0);
      if (Ok() && v_.ret == 0) {
        s.append("\"\"");
      } else if (Ok() && Usable(p)) {
        // strace prints getrandom's bytes all in \x form (QUOTE_FORCE_HEX).
        static constexpr char kHex[] = "0123456789abcdef";
        s.push_back('"');
        for (uint8_t b : p->data) {
          s.append("\\x");
          s.push_back(kHex[b >> 4]);
          s.push_back(kHex[b & 15]);
        }
        s.push_back('"');
        if (p->flags & kPayloadTruncated) s.append("...");
      } else {
        Addr(&s, a[0]);
      }
      Generic(1);
      Generic(2);
      return true;
    }
    case sys::kGettimeofday: {
      Generic(0);
      std::string& s = Arg();
      const Payload* p = Out(1);
      int32_t tz[2];
      if (a[1] == 0) {
        s.append("NULL");
      } else if (Ok() && Usable(p) && Load(p->data, 0, &tz[0]) && Load(p->data, 4, &tz[1])) {
        s.append("{tz_minuteswest=");
        AppendDec(&s, tz[0]);
        s.append(", tz_dsttime=");
        AppendDec(&s, tz[1]);
        s.push_back('}');
      } else {
        Addr(&s, a[1]);
      }
      return true;
    }
    case sys::kGetgroups:
    case sys::kSetgroups: {
      Generic(0);
      bool get = id == sys::kGetgroups;
      if (get) ExitArgsStart();
      std::string& s = Arg();
      const Payload* p = get ? Out(1) : In(1);
      if (a[1] == 0) {
        s.append("NULL");
      } else if (get && Ok() && a[0] == 0) {
        s.append("[]");  // strace: a size-0 query prints an empty array
      } else if (get && Ok() && v_.ret == 0) {
        s.append("[]");
      } else if ((get ? Ok() : true) && Usable(p)) {
        s.push_back('[');
        for (size_t k = 0; k + 4 <= p->data.size(); k += 4) {
          uint32_t g = 0;
          Load(p->data, k, &g);
          if (k > 0) s.append(", ");
          AppendUDec(&s, g);
        }
        s.push_back(']');
      } else {
        Addr(&s, a[1]);
      }
      return true;
    }
    case sys::kGetxattr:
    case sys::kLgetxattr:
    case sys::kFgetxattr: {
      Generic(0);
      Generic(1);
      ExitArgsStart();
      std::string& s = Arg();
      if (Ok() && a[3] != 0 && v_.ret >= 0) {
        if (v_.ret == 0) s.append("\"\""); else Str(&s, Out(2), a[2]);
      } else {
        Addr(&s, a[2]);
      }
      Generic(3);
      return true;
    }
    case sys::kListxattr:
    case sys::kLlistxattr:
    case sys::kFlistxattr: {
      Generic(0);
      ExitArgsStart();
      std::string& s = Arg();
      if (Ok() && a[1] != 0 && a[2] != 0 && v_.ret == 0) s.append("\"\"");
      else if (Ok() && a[2] != 0 && v_.ret > 0) Str(&s, Out(1), a[1]);
      else Addr(&s, a[1]);
      Generic(2);
      return true;
    }
    case sys::kSchedGetaffinity:
    case sys::kSchedSetaffinity: {
      bool get = id == sys::kSchedGetaffinity;
      Generic(0);
      Generic(1);
      if (get) ExitArgsStart();
      std::string& s = Arg();
      const Payload* p = get ? Out(2) : In(2);
      if (a[2] == 0) {
        s.append("NULL");
      } else if ((get ? Ok() : true) && Usable(p)) {
        s.push_back('[');
        bool first = true;
        for (size_t byte = 0; byte < p->data.size(); ++byte) {
          for (int bit = 0; bit < 8; ++bit) {
            if (p->data[byte] & (1u << bit)) {
              if (!first) s.push_back(' ');
              first = false;
              AppendUDec(&s, byte * 8 + bit);
            }
          }
        }
        s.push_back(']');
      } else {
        Addr(&s, a[2]);
      }
      return true;
    }
    case sys::kNanosleep:
    case sys::kClockNanosleep: {
      int first = id == sys::kNanosleep ? 0 : 2;
      for (int i = 0; i <= first; ++i) Generic(i);
      // rmtp is written only when interrupted; strace prints it only then, else the address.
      ExitArgsStart();
      std::string& s = Arg();
      uint64_t rm = a[first + 1];
      const Payload* p = Out(first + 1);
      if (rm == 0) s.append("NULL");
      else if (Usable(p)) AppendTimespec(&s, p->data);
      else Addr(&s, rm);
      return true;
    }
    case sys::kUtimensat: {
      Generic(0);
      Generic(1);
      std::string& s = Arg();
      const Payload* p = In(2);
      if (a[2] == 0) {
        s.append("NULL");
      } else if (Usable(p) && p->data.size() >= 32) {
        s.push_back('[');
        for (int k = 0; k < 2; ++k) {
          if (k > 0) s.append(", ");
          int64_t nsec = 0;
          Load(p->data, k * 16 + 8, &nsec);
          if (nsec == ((1l << 30) - 1)) {
            s.append("UTIME_NOW");
          } else if (nsec == ((1l << 30) - 2)) {
            s.append("UTIME_OMIT");
          } else {
            AppendTimespec(&s, p->data.subspan(k * 16, 16));
            int64_t sec = 0;
            Load(p->data, k * 16, &sec);
            AppendTimeComment(&s, sec, nsec);
          }
        }
        s.push_back(']');
      } else {
        Addr(&s, a[2]);
      }
      Generic(3);
      return true;
    }
    case sys::kEpollCtl: {
      Generic(0);
      Generic(1);
      Generic(2);
      std::string& s = Arg();
      const Payload* p = In(3);
      if (a[3] == 0) {
        s.append("NULL");
      } else if (Usable(p) && !AppendEpollEvents(&s, p->data, v_.strsize)) {
        Addr(&s, a[3]);
      } else if (Usable(p) && s.size() >= 2 && s.front() == '[' && s.back() == ']') {
        s = s.substr(1, s.size() - 2);  // one event, not an array
      } else if (!Usable(p)) {
        Addr(&s, a[3]);
      }
      return true;
    }
    case sys::kEpollWait:
    case sys::kEpollPwait:
    case sys::kEpollPwait2: {
      Generic(0);
      ExitArgsStart();
      std::string& s = Arg();
      const Payload* p = Out(1);
      if (Ok() && v_.ret == 0) {
        s.append("[]");
      } else if (!Ok() || !Usable(p) || !AppendEpollEvents(&s, p->data, v_.strsize)) {
        Addr(&s, a[1]);
      }
      Generic(2);
      if (id == sys::kEpollWait) {
        Generic(3);
      } else {
        if (id == sys::kEpollPwait) {
          Generic(3);
        } else {
          StructText(&Arg(), StructType::kTimespec, In(3), a[3]);
        }
        StructText(&Arg(), StructType::kSigset, In(4), a[4]);
        Generic(5);
      }
      return true;
    }
    case sys::kSendfile: {
      Generic(0);
      Generic(1);
      std::string& s = Arg();
      const Payload* p = In(2);
      int64_t off = 0;
      if (a[2] == 0) {
        s.append("NULL");
      } else if (Usable(p) && Load(p->data, 0, &off)) {
        s.push_back('[');
        AppendDec(&s, off);
        s.push_back(']');
        // strace prints the offset at entry and " => [new], count" at exit.
        out_->entry_args = out_->args.size();
        exit_started_ = true;
        out_->sep_on_resume = true;
        const Payload* q = Out(2);
        int64_t off2;
        if (Ok() && v_.ret != 0 && Usable(q) && Load(q->data, 0, &off2)) {
          size_t before = s.size();
          s.append(" => [");
          AppendDec(&s, off2);
          s.push_back(']');
          out_->entry_tail = s.size() - before;
        }
      } else {
        Addr(&s, a[2]);
      }
      Generic(3);
      return true;
    }
    case sys::kSplice:
    case sys::kCopyFileRange: {
      for (int i = 0; i < 6; ++i) {
        if (i == 1 || i == 3) {
          std::string& s = Arg();
          const Payload* p = In(i);
          int64_t off = 0;
          if (a[i] == 0) s.append("NULL");
          else if (Usable(p) && Load(p->data, 0, &off)) {
            s.push_back('[');
            AppendDec(&s, off);
            s.push_back(']');
          } else {
            Addr(&s, a[i]);
          }
        } else {
          Generic(i);
        }
      }
      return true;
    }
    case sys::kMknod:
    case sys::kMknodat: {
      int f = id == sys::kMknodat ? 1 : 0;
      for (int i = 0; i <= f; ++i) Generic(i);
      std::string& s = Arg();
      uint32_t mode = static_cast<uint32_t>(a[f + 1]);
      AppendModeWithType(&s, mode);
      uint32_t type = mode & 0170000;
      if (type == 0020000 || type == 0060000) {  // S_IFCHR, S_IFBLK
        std::string& d = Arg();
        uint64_t dev = a[f + 2];
        d.append("makedev(");
        AppendHex(&d, ((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfffull));
        d.append(", ");
        AppendHex(&d, (dev & 0xff) | ((dev >> 12) & ~0xffull));
        d.push_back(')');
      }
      return true;
    }
    case sys::kStatx: {
      Generic(0);
      Generic(1);
      std::string& s = Arg();
      uint32_t f = static_cast<uint32_t>(a[2]);
      static constexpr FlagDef kSync[] = {{0, "AT_STATX_SYNC_AS_STAT"},
                                          {0x2000, "AT_STATX_FORCE_SYNC"},
                                          {0x4000, "AT_STATX_DONT_SYNC"},
                                          {0x6000, "AT_STATX_SYNC_TYPE"}};
      AppendEnum(&s, f & 0x6000, kSync, nullptr);
      if (f & ~0x6000u) {
        s.push_back('|');
        AppendFlags(&s, f & ~0x6000u, xlat::kStatxAtFlags, nullptr);
      }
      Generic(3);
      Generic(4);
      return true;
    }
    case sys::kWaitid: {
      AppendXval(&Arg(), a[0], xlat::kWaitidWhich, "P_???");
      Generic(1);
      Generic(2);
      Generic(3);
      Generic(4);
      return true;
    }
    case sys::kExecveat:
      return false;
    case sys::kMount: {
      uint64_t flags = a[3];
      bool magic = (flags & 0xffff0000u) == 0xC0ED0000u;
      if (magic) flags &= 0xffff;
      bool remount = flags & 32, bind = flags & 4096, move = flags & 8192;
      // Which arguments are strings depends on the flags (strace's mount.c).
      if (remount) Addr(&Arg(), a[0]); else Str(&Arg(), In(0), a[0], /*whole=*/true);
      Generic(1);
      if (remount || bind || move) Addr(&Arg(), a[2]); else Str(&Arg(), In(2), a[2]);
      std::string& f = Arg();
      if (magic) {
        f.append("MS_MGC_VAL");
        if (flags != 0) f.push_back('|');
      }
      if (!magic || flags != 0) AppendFlags(&f, flags, xlat::kMountFlags, nullptr);
      if (bind || move) Addr(&Arg(), a[4]); else Str(&Arg(), In(4), a[4]);
      return true;
    }
    case sys::kSchedGetscheduler:
      if (Ok()) {
        ret_mode_ = RetMode::kAux;
        uint32_t pol = static_cast<uint32_t>(v_.ret);
        AppendEnum(&ret_aux_, pol & ~0x40000000u, xlat::kSchedPolicies, nullptr);
        if (pol & 0x40000000u) ret_aux_.append("|SCHED_RESET_ON_FORK");
      }
      return false;
    case sys::kCapget:
    case sys::kCapset: {
      const Payload* h = In(0);
      uint32_t ver = 0;
      int32_t pid = 0;
      std::string& hs = Arg();
      if (a[0] == 0) {
        hs.append("NULL");
      } else if (Usable(h) && Load(h->data, 0, &ver) && Load(h->data, 4, &pid)) {
        hs.append("{version=");
        AppendEnum(&hs, ver, xlat::kCapVersions, "_LINUX_CAPABILITY_VERSION_???");
        hs.append(", pid=");
        AppendDec(&hs, pid);
        hs.push_back('}');
      } else {
        Addr(&hs, a[0]);
      }
      bool get = id == sys::kCapget;
      if (get) ExitArgsStart();
      std::string& ds = Arg();
      const Payload* d = get ? Out(1) : In(1);
      if (a[1] == 0) {
        ds.append("NULL");
      } else if ((!get || Ok()) && Usable(d) && d->data.size() >= 12) {
        // v1 has one {effective, permitted, inheritable} of 32 bits, v2/v3 two of them.
        bool wide = ver != 0x19980330 && d->data.size() >= 24;
        static const char* const kNames[] = {"effective", "permitted", "inheritable"};
        ds.push_back('{');
        for (int k = 0; k < 3; ++k) {
          uint32_t lo = 0, hi = 0;
          Load(d->data, k * 4, &lo);
          if (wide) Load(d->data, 12 + k * 4, &hi);
          uint64_t bits = lo | (uint64_t{hi} << 32);
          if (k > 0) ds.append(", ");
          ds.append(kNames[k]);
          ds.push_back('=');
          AppendCapSet(&ds, bits);
        }
        ds.push_back('}');
      } else {
        Addr(&ds, a[1]);
      }
      return true;
    }
    case sys::kSeccomp:
      AppendEnum(&Arg(), a[0], xlat::kSeccompOps, "SECCOMP_???");
      if (a[0] == 1) {
        AppendFlags(&Arg(), static_cast<uint32_t>(a[1]), xlat::kSeccompFilterFlags, nullptr);
        SockFprog(&Arg(), In(2), a[2]);
      } else {
        AppendHex(&Arg(), a[1]);
        Addr(&Arg(), a[2]);
      }
      return true;
    case sys::kSetMempolicy:
      MempolicyMode(&Arg(), a[0]);
      Nodemask(&Arg(), In(1), a[1], a[2]);
      AppendUDec(&Arg(), a[2]);
      return true;
    case sys::kGetMempolicy: {
      ExitArgsStart();
      std::string& s = Arg();
      const Payload* p = Out(0);
      int32_t pol = 0;
      if (a[0] == 0) {
        s.append("NULL");
      } else if (Ok() && Usable(p) && Load(p->data, 0, &pol)) {
        s.push_back('[');
        MempolicyMode(&s, static_cast<uint32_t>(pol));
        s.push_back(']');
      } else {
        Addr(&s, a[0]);
      }
      if (Ok()) Nodemask(&Arg(), Out(1), a[1], a[2]); else Addr(&Arg(), a[1]);
      AppendUDec(&Arg(), a[2]);
      Addr(&Arg(), a[3]);
      AppendFlags(&Arg(), a[4], xlat::kGetMempolicyFlags, nullptr);
      return true;
    }
    case sys::kMbind:
      Addr(&Arg(), a[0]);
      AppendUDec(&Arg(), a[1]);
      MempolicyMode(&Arg(), a[2]);
      Nodemask(&Arg(), In(3), a[3], a[4]);
      AppendUDec(&Arg(), a[4]);
      AppendFlags(&Arg(), a[5], xlat::kMbindFlags, nullptr);
      return true;
    case sys::kGetpriority:
    case sys::kSetpriority:
      AppendXval(&Arg(), static_cast<uint32_t>(a[0]), xlat::kPriorityWhich, "PRIO_???");
      for (int i = 1; i < desc_->nargs; ++i) Generic(i);
      return true;
    case sys::kRtSigtimedwait:
      for (int i = 0; i < 4; ++i) Generic(i);
      if (Ok() && v_.ret > 0) {
        ret_mode_ = RetMode::kAux;
        ret_aux_ = SignalName(static_cast<int>(v_.ret));
      }
      return true;
    case sys::kFchownat:
    case sys::kFchown:
    case sys::kChown:
    case sys::kLchown:
      return false;
    default:
      return false;
  }
}

// [0x00000000000001, 0000000000000000, ...]: words printed with "%#016lx" as strace does.
void Decoder::Nodemask(std::string* s, const Payload* p, uint64_t addr, uint64_t maxnode) {
  if (addr == 0) {
    s->append("NULL");
    return;
  }
  if (!Usable(p)) {
    Addr(s, addr);
    return;
  }
  uint64_t words = maxnode > UINT64_MAX - 62 ? UINT64_MAX : (maxnode + 62) / 64;
  size_t n = p->data.size() / 8;
  s->push_back('[');
  for (size_t k = 0; k < n; ++k) {
    if (k > 0) s->append(", ");
    if (v_.strsize > 0 && k >= v_.strsize) {
      s->append("...");
      break;
    }
    uint64_t w = 0;
    Load(p->data, k * 8, &w);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%#016" PRIx64, w);
    s->append(buf);
  }
  if (n < words && (v_.strsize == 0 || n < v_.strsize)) {
    if (n > 0) s->append(", ");
    s->append("...");
  }
  s->push_back(']');
}

// struct sock_fprog: {len=3, filter=0x7ffd...} (strace prints no BPF without -v).
void Decoder::SockFprog(std::string* s, const Payload* p, uint64_t addr) {
  uint16_t len = 0;
  uint64_t filter = 0;
  if (addr == 0) {
    s->append("NULL");
  } else if (Usable(p) && Load(p->data, 0, &len) && Load(p->data, 8, &filter)) {
    s->append("{len=");
    AppendUDec(s, len);
    s->append(", filter=");
    Addr(s, filter);
    s->push_back('}');
  } else {
    Addr(s, addr);
  }
}

void Decoder::MempolicyMode(std::string* s, uint64_t mode) {
  uint32_t m = static_cast<uint32_t>(mode);
  uint32_t flags = m & (7u << 13);
  AppendEnum(s, m & ~(7u << 13), xlat::kMempolicyModes, "MPOL_???");
  if (flags != 0) {
    s->push_back('|');
    AppendFlags(s, flags, xlat::kMempolicyModeFlags, nullptr);
  }
}

// ---- ioctl ------------------------------------------------------------------------------

void Decoder::DecodeIoctl() {
  const uint64_t* a = v_.args;
  Generic(0);
  std::string& req = Arg();
  uint32_t cmd = static_cast<uint32_t>(a[1]);
  bool known = false;
  for (const FlagDef& d : xlat::kIoctlNames) {
    if (d.value == cmd) {
      req.append(d.name);
      known = true;
      break;
    }
  }
  if (!known) {
    static const char* const kDir[] = {"_IOC_NONE", "_IOC_WRITE", "_IOC_READ",
                                       "_IOC_READ|_IOC_WRITE"};
    req.append("_IOC(");
    req.append(kDir[(cmd >> 30) & 3]);
    req.append(", ");
    AppendHex(&req, (cmd >> 8) & 0xff);
    req.append(", ");
    AppendHex(&req, cmd & 0xff);
    req.append(", ");
    AppendHex(&req, (cmd >> 16) & 0x3fff);
    req.push_back(')');
  }
  switch (cmd) {
    case FIOCLEX: case FIONCLEX: case TIOCNOTTY: case TIOCEXCL: case TIOCNXCL: case TIOCSBRK:
    case TIOCCBRK: case TIOCCONS:
      return;  // no argument
    case TCGETS:
    case TIOCGWINSZ: {
      ExitArgsStart();
      std::string& s = Arg();
      const Payload* p = Out(2);
      bool ok = Ok() && Usable(p) &&
                (cmd == TCGETS ? AppendTermios(&s, p->data) : AppendWinsize(&s, p->data));
      if (!ok) Addr(&s, a[2]);
      return;
    }
    case TCSETS: case TCSETSW: case TCSETSF: case TIOCSWINSZ: {
      std::string& s = Arg();
      const Payload* p = In(2);
      bool ok = Usable(p) && (cmd == TIOCSWINSZ ? AppendWinsize(&s, p->data)
                                                : AppendTermios(&s, p->data));
      if (!ok) Addr(&s, a[2]);
      return;
    }
    case FIONREAD: case TIOCGPGRP: case TIOCOUTQ: case TIOCGPTN: case TIOCGSID: {
      ExitArgsStart();
      std::string& s = Arg();
      if (Ok()) OutPtrInt(&s, Out(2), a[2], cmd == TIOCGPTN); else Addr(&s, a[2]);
      return;
    }
    case TIOCSPGRP: case FIONBIO: case FIOASYNC: case TIOCSPTLCK:
      OutPtrInt(&Arg(), In(2), a[2]);
      return;
    case TCFLSH:
      AppendXval(&Arg(), a[2], xlat::kTcflshArgs, "TC???");
      return;
    case TIOCSCTTY: case TCSBRK: case TCXONC: case TCSBRKP:
    case FICLONE:  // the source fd
      AppendInt(&Arg(), a[2]);
      return;
    default:
      AppendHex(&Arg(), a[2]);
      return;
  }
}

// ---- fcntl ------------------------------------------------------------------------------

void AppendFlock(std::string* s, std::span<const uint8_t> d, bool with_pid) {
  int16_t type = 0, whence = 0;
  int64_t start = 0, len = 0;
  int32_t pid = 0;
  Load(d, 0, &type);
  Load(d, 2, &whence);
  Load(d, 8, &start);
  Load(d, 16, &len);
  Load(d, 24, &pid);
  s->append("{l_type=");
  AppendEnum(s, static_cast<uint16_t>(type), xlat::kLockTypes, "F_???");
  s->append(", l_whence=");
  AppendEnum(s, static_cast<uint16_t>(whence), xlat::kWhence, "SEEK_???");
  s->append(", l_start=");
  AppendDec(s, start);
  s->append(", l_len=");
  AppendDec(s, len);
  if (with_pid) {
    s->append(", l_pid=");
    AppendDec(s, pid);
  }
  s->push_back('}');
}

void Decoder::DecodeFcntl() {
  const uint64_t* a = v_.args;
  Generic(0);
  uint32_t cmd = static_cast<uint32_t>(a[1]);
  AppendXval(&Arg(), cmd, xlat::kFcntlCmds, "F_???");
  switch (cmd) {
    case F_GETFD:
      ret_mode_ = RetMode::kFdFlags;
      return;
    case F_GETFL:
      ret_mode_ = RetMode::kFlFlags;
      return;
    case F_GETOWN: case F_GETSIG: case F_GETPIPE_SZ: case F_GET_RW_HINT:
    case F_GET_FILE_RW_HINT:
      return;
    case F_GETLEASE:
      return;
    case F_GET_SEALS:
      if (Ok()) {
        ret_mode_ = RetMode::kHexAux;
        ret_aux_ = "seals ";
        AppendFlags(&ret_aux_, static_cast<uint64_t>(v_.ret), xlat::kSealFlags, nullptr);
      }
      return;
    case F_SETFD:
      AppendFlags(&Arg(), a[2], xlat::kFdFlags, nullptr);
      return;
    case F_SETFL:
      AppendOpenFlags(&Arg(), static_cast<uint32_t>(a[2]));
      return;
    case F_SETLEASE:
      AppendXval(&Arg(), static_cast<uint32_t>(a[2]), xlat::kLockTypes, "F_???");
      return;
    case F_NOTIFY:
      AppendFlags(&Arg(), static_cast<uint32_t>(a[2]), xlat::kNotifyFlags, nullptr);
      return;
    case F_ADD_SEALS:
      AppendFlags(&Arg(), static_cast<uint32_t>(a[2]), xlat::kSealFlags, nullptr);
      return;
    case F_SETSIG:
      Arg().append(SignalName(static_cast<int32_t>(a[2])));
      return;
    case F_SETLK: case F_SETLKW: case F_OFD_SETLK: case F_OFD_SETLKW: {
      std::string& s = Arg();
      const Payload* p = In(2);
      if (Usable(p) && p->data.size() >= 32) AppendFlock(&s, p->data, false);
      else Addr(&s, a[2]);
      return;
    }
    case F_GETLK: case F_OFD_GETLK: {
      ExitArgsStart();
      std::string& s = Arg();
      const Payload* p = Out(2);
      if (Ok() && Usable(p) && p->data.size() >= 32) AppendFlock(&s, p->data, true);
      else Addr(&s, a[2]);
      return;
    }
    default:
      AppendInt(&Arg(), a[2]);  // F_DUPFD*, F_SETOWN, F_SETPIPE_SZ...
      return;
  }
}

// ---- futex ------------------------------------------------------------------------------

void Decoder::DecodeFutex() {
  const uint64_t* a = v_.args;
  Addr(&Arg(), a[0]);
  uint32_t op = static_cast<uint32_t>(a[1]);
  uint32_t cmd = op & FUTEX_CMD_MASK;
  {
    std::string& s = Arg();
    bool named = false;
    for (const FlagDef& d : xlat::kFutexCmds) {
      if (d.value == cmd) {
        s.append(d.name);
        named = true;
        break;
      }
    }
    if (!named) AppendHex(&s, cmd);
    if (op & FUTEX_PRIVATE_FLAG) s.append("_PRIVATE");
    if (op & FUTEX_CLOCK_REALTIME) s.append("|FUTEX_CLOCK_REALTIME");
    if (!named) {
      s = std::string();
      AppendHex(&s, op);
      s.append(" /* FUTEX_??? */");
    }
  }
  auto bitset = [&](uint64_t v) {
    std::string& s = Arg();
    if (static_cast<uint32_t>(v) == FUTEX_BITSET_MATCH_ANY) s.append("FUTEX_BITSET_MATCH_ANY");
    else AppendHex(&s, static_cast<uint32_t>(v));
  };
  auto timeout = [&]() { StructText(&Arg(), StructType::kTimespec, In(3), a[3]); };
  auto val = [&](int i) { AppendUDec(&Arg(), static_cast<uint32_t>(a[i])); };
  switch (cmd) {
    case FUTEX_WAIT:
      val(2);
      timeout();
      break;
    case FUTEX_WAIT_BITSET:
      val(2);
      timeout();
      bitset(a[5]);
      break;
    case FUTEX_WAKE_BITSET:
      val(2);
      bitset(a[5]);
      break;
    case FUTEX_WAKE:
    case FUTEX_FD:
      val(2);
      break;
    case FUTEX_LOCK_PI:
    case FUTEX_LOCK_PI2:
      timeout();
      break;
    case FUTEX_UNLOCK_PI:
    case FUTEX_TRYLOCK_PI:
      break;
    case FUTEX_REQUEUE:
      val(2);
      val(3);
      Addr(&Arg(), a[4]);
      break;
    case FUTEX_CMP_REQUEUE:
    case FUTEX_CMP_REQUEUE_PI:
      val(2);
      val(3);
      Addr(&Arg(), a[4]);
      val(5);
      break;
    case FUTEX_WAIT_REQUEUE_PI:
      val(2);
      timeout();
      Addr(&Arg(), a[4]);
      break;
    default:
      // strace: val as %u, timeout and uaddr2 as addresses, val3 in hex.
      val(2);
      Addr(&Arg(), a[3]);
      Addr(&Arg(), a[4]);
      AppendHex(&Arg(), static_cast<uint32_t>(a[5]));
      break;
  }
}

// ---- clone / clone3 ---------------------------------------------------------------------

void AppendCloneFlags(std::string* s, uint64_t flags, bool with_signal) {
  uint64_t sig = with_signal ? (flags & 0xff) : 0;
  uint64_t rest = with_signal ? (flags & ~uint64_t{0xff}) : flags;
  if (rest != 0 || sig == 0) AppendFlags(s, rest, kCloneFlags, nullptr);
  if (sig != 0) {
    if (rest != 0) s->push_back('|');
    s->append(SignalName(static_cast<int>(sig)));
  }
}

void Decoder::DecodeClone() {
  const uint64_t* a = v_.args;
  // x86_64: clone(flags, newsp, parent_tid, child_tid, tls); aarch64: (flags, newsp,
  // parent_tid, tls, child_tid).
  bool arm = v_.arch == abi::Arch::kAarch64;
  uint64_t flags = a[0], ptid = a[2], ctid = arm ? a[4] : a[3], tls = arm ? a[3] : a[4];
  std::string& s0 = Arg();
  s0.append("child_stack=");
  Addr(&s0, a[1]);
  std::string& s1 = Arg();
  s1.append("flags=");
  AppendCloneFlags(&s1, flags, true);
  ExitArgsStart();
  out_->sep_on_resume = true;  // "<... clone resumed>, child_tidptr=..."

  if (flags & (CLONE_PARENT_SETTID | CLONE_PIDFD)) {
    std::string& s = Arg();
    s.append("parent_tid=");
    if (Ok()) OutPtrInt(&s, Out(2), ptid); else Addr(&s, ptid);
  }
  if (flags & (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID)) {
    std::string& s = Arg();
    s.append("child_tidptr=");
    Addr(&s, ctid);
  }
  if (flags & CLONE_SETTLS) {
    std::string& s = Arg();
    s.append("tls=");
    Addr(&s, tls);
  }
}

void Decoder::DecodeClone3() {
  const uint64_t* a = v_.args;
  std::string& s = Arg();
  size_t tail_start = std::string::npos;
  const Payload* p = In(0);
  uint64_t f[11] = {};
  if (a[0] == 0) {
    s.append("NULL");
  } else if (!Usable(p) || p->data.size() < 64) {
    Addr(&s, a[0]);
  } else {
    for (size_t k = 0; k < 11 && (k + 1) * 8 <= p->data.size(); ++k) Load(p->data, k * 8, &f[k]);
    uint64_t flags = f[0];
    s.append("{flags=");
    AppendCloneFlags(&s, flags, false);
    if (flags & CLONE_PIDFD) {
      s.append(", pidfd=");
      Addr(&s, f[1]);
    }
    if (flags & (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID)) {
      s.append(", child_tid=");
      Addr(&s, f[2]);
    }
    if (flags & CLONE_PARENT_SETTID) {
      s.append(", parent_tid=");
      Addr(&s, f[3]);
    }
    s.append(", exit_signal=");
    if (f[4] == 0) s.append("0"); else s.append(SignalName(static_cast<int>(f[4])));
    s.append(", stack=");
    Addr(&s, f[5]);
    s.append(", stack_size=");
    AppendHex(&s, f[6]);
    if (flags & CLONE_SETTLS) {
      s.append(", tls=");
      Addr(&s, f[7]);
    }
    if (f[9] != 0) {
      s.append(", set_tid=");
      Addr(&s, f[8]);
      s.append(", set_tid_size=");
      AppendUDec(&s, f[9]);
    }
    if ((flags & CLONE_INTO_CGROUP) && p->data.size() >= 88) {
      s.append(", cgroup=");
      AppendUDec(&s, f[10]);
    }
    s.push_back('}');
    if (Ok() && (flags & (CLONE_PIDFD | CLONE_PARENT_SETTID))) {
      tail_start = s.size();
      s.append(" => {");
      bool sep = false;
      int32_t x = 0;
      const Payload* pf = Out(0, 1);
      if ((flags & CLONE_PIDFD)) {
        s.append("pidfd=");
        if (Usable(pf) && Load(pf->data, 0, &x)) {
          s.push_back('[');
          AppendDec(&s, x);
          s.push_back(']');
        } else {
          Addr(&s, f[1]);
        }
        sep = true;
      }
      const Payload* pt = Out(0, 2);
      if (flags & CLONE_PARENT_SETTID) {
        if (sep) s.append(", ");
        s.append("parent_tid=");
        if (Usable(pt) && Load(pt->data, 0, &x)) {
          s.push_back('[');
          AppendDec(&s, x);
          s.push_back(']');
        } else {
          Addr(&s, f[3]);
        }
      }
      s.push_back('}');
    }
  }
  // strace prints the struct at entry, and " => {...}, size" at exit.
  out_->entry_args = 1;
  exit_started_ = true;
  out_->sep_on_resume = true;
  if (tail_start != std::string::npos) out_->entry_tail = s.size() - tail_start;
  AppendUDec(&Arg(), a[1]);
}

// ---- wait4 ------------------------------------------------------------------------------

void Decoder::DecodeWait4() {
  const uint64_t* a = v_.args;
  Generic(0);
  ExitArgsStart();
  std::string& s = Arg();
  const Payload* p = Out(1);
  int32_t st = 0;
  if (a[1] == 0) {
    s.append("NULL");
  } else if (Ok() && v_.ret > 0 && Usable(p) && Load(p->data, 0, &st)) {
    AppendWaitStatus(&s, st);
  } else {
    Addr(&s, a[1]);
  }
  Generic(2);
  Generic(3);
}

// ---- poll / select ----------------------------------------------------------------------

void Decoder::DecodePoll(bool ppoll) {
  const uint64_t* a = v_.args;
  {
    std::string& s = Arg();
    const Payload* p = In(0);
    if (a[0] == 0) s.append("NULL");
    else if (!Usable(p) || !AppendPollfds(&s, p->data, false, v_.strsize)) Addr(&s, a[0]);
  }
  AppendUDec(&Arg(), static_cast<uint32_t>(a[1]));
  if (!ppoll) {
    AppendInt(&Arg(), a[2]);
  } else {
    StructText(&Arg(), StructType::kTimespec, In(2), a[2]);
    StructText(&Arg(), StructType::kSigset, In(3), a[3]);
    AppendUDec(&Arg(), a[4]);
  }
  ret_mode_ = RetMode::kTimeout;
  if (Ok() && v_.ret > 0) {
    const Payload* p = Out(0);
    if (Usable(p)) AppendPollfds(&ret_aux_, p->data, true, v_.strsize);
    if (ppoll && a[2] != 0) {
      const Payload* t = Out(2);
      if (Usable(t)) {
        ret_aux_.append(", left ");
        AppendTimespec(&ret_aux_, t->data);
      }
    }
  }
}

void Decoder::FdSet(std::string* s, const Payload* p, uint64_t addr, uint64_t nfds) {
  if (addr == 0) {
    s->append("NULL");
    return;
  }
  if (!Usable(p)) {
    Addr(s, addr);
    return;
  }
  s->push_back('[');
  bool first = true;
  for (uint64_t fd = 0; fd < nfds && fd / 8 < p->data.size(); ++fd) {
    if (p->data[fd / 8] & (1u << (fd % 8))) {
      if (!first) s->push_back(' ');
      first = false;
      AppendUDec(s, fd);
    }
  }
  s->push_back(']');
}

void Decoder::DecodeSelect(bool pselect) {
  const uint64_t* a = v_.args;
  uint64_t nfds = static_cast<uint32_t>(a[0]);
  if (static_cast<int32_t>(a[0]) < 0) nfds = 0;
  AppendInt(&Arg(), a[0]);
  for (int i = 1; i <= 3; ++i) FdSet(&Arg(), In(i), a[i], nfds);
  StructText(&Arg(), pselect ? StructType::kTimespec : StructType::kTimeval, In(4), a[4]);
  if (pselect) {
    std::string& s = Arg();
    const Payload* p = In(5);
    uint64_t ss[2];
    if (a[5] == 0) {
      s.append("NULL");
    } else if (Usable(p) && Load(p->data, 0, &ss[0]) && Load(p->data, 8, &ss[1])) {
      s.push_back('{');
      StructText(&s, StructType::kSigset, In(5, 1), ss[0]);
      s.append(", ");
      AppendUDec(&s, ss[1]);
      s.push_back('}');
    } else {
      Addr(&s, a[5]);
    }
  }
  ret_mode_ = RetMode::kTimeout;
  if (Ok() && v_.ret > 0) {
    static const char* const kNames[] = {"in", "out", "except"};
    for (int i = 1; i <= 3; ++i) {
      const Payload* p = Out(i);
      if (a[i] == 0 || !Usable(p)) continue;
      std::string set;
      FdSet(&set, p, a[i], nfds);
      if (set == "[]") continue;
      if (!ret_aux_.empty()) ret_aux_.append(", ");
      ret_aux_.append(kNames[i - 1]);
      ret_aux_.push_back(' ');
      ret_aux_.append(set);
    }
    const Payload* t = Out(4);
    if (a[4] != 0 && Usable(t)) {
      if (!ret_aux_.empty()) ret_aux_.append(", ");
      ret_aux_.append("left ");
      if (pselect) AppendTimespec(&ret_aux_, t->data); else AppendTimeval(&ret_aux_, t->data);
    }
  }
}

// ---- sockets ----------------------------------------------------------------------------

void Decoder::DecodeSocket() {
  const uint64_t* a = v_.args;
  Generic(0);
  Generic(1);
  std::string& s = Arg();
  uint32_t family = static_cast<uint32_t>(a[0]);
  uint32_t proto = static_cast<uint32_t>(a[2]);
  if (family == 2 || family == 10) {  // AF_INET, AF_INET6
    AppendEnum(&s, proto, xlat::kIpProtocols, "IPPROTO_???");
  } else if (family == 16) {  // AF_NETLINK
    AppendEnum(&s, proto, xlat::kNetlinkProtocols, "NETLINK_???");
  } else {
    AppendUDec(&s, proto);
  }
}

void Decoder::DecodeSockaddrLen(int addr_arg, int len_arg) {
  Generic(0);
  ExitArgsStart();
  Generic(addr_arg);
  ValueResultInt(&Arg(), len_arg);
}

void AppendCmsgs(std::string* s, std::span<const uint8_t> d) {
  s->push_back('[');
  size_t off = 0;
  bool first = true;
  while (off + 16 <= d.size()) {
    uint64_t len = 0;
    int32_t level = 0, type = 0;
    Load(d, off, &len);
    Load(d, off + 8, &level);
    Load(d, off + 12, &type);
    if (len < 16) break;
    if (!first) s->append(", ");
    first = false;
    s->append("{cmsg_len=");
    AppendUDec(s, len);
    s->append(", cmsg_level=");
    AppendEnum(s, static_cast<uint32_t>(level), xlat::kSockLevels, "SOL_???");
    s->append(", cmsg_type=");
    if (level == 1) AppendEnum(s, static_cast<uint32_t>(type), xlat::kScmTypes, "SCM_???");
    else AppendHex(s, static_cast<uint32_t>(type));
    size_t data_len = std::min<size_t>(len, d.size() - off) - 16;
    if (level == 1 && type == 1) {  // SCM_RIGHTS
      s->append(", cmsg_data=[");
      for (size_t k = 0; k + 4 <= data_len; k += 4) {
        int32_t fd = 0;
        Load(d, off + 16 + k, &fd);
        if (k > 0) s->append(", ");
        AppendDec(s, fd);
      }
      s->push_back(']');
    } else if (level == 1 && type == 2 && data_len >= 12) {  // SCM_CREDENTIALS
      uint32_t pid = 0, uid = 0, gid = 0;
      Load(d, off + 16, &pid);
      Load(d, off + 20, &uid);
      Load(d, off + 24, &gid);
      s->append(", cmsg_data={pid=");
      AppendUDec(s, pid);
      s->append(", uid=");
      AppendUDec(s, uid);
      s->append(", gid=");
      AppendUDec(s, gid);
      s->push_back('}');
    } else {
      s->append(", cmsg_data=");
      AppendQuoted(s, d.subspan(off + 16, data_len), false);
    }
    s->push_back('}');
    off += (len + 7) & ~size_t{7};
  }
  s->push_back(']');
}

// {msg_name=..., msg_namelen=..., msg_iov=[...], msg_iovlen=..., msg_controllen=...,
// msg_flags=...}; |m| is the raw struct msghdr, its parts are payloads seq0 + kMsg*.
void Decoder::Msghdr(std::string* s, const uint64_t* m, bool at_exit, unsigned seq0) {
  auto part = [&](unsigned seq) {
    return at_exit ? Out(1, seq0 + seq) : In(1, seq0 + seq);
  };
  s->append("{msg_name=");
  const Payload* name = part(internal::kMsgName);
  if (m[0] == 0) s->append("NULL");
  else if (!Usable(name) || !AppendSockaddr(s, name->data)) Addr(s, m[0]);
  s->append(", msg_namelen=");
  AppendUDec(s, static_cast<uint32_t>(m[1]));
  s->append(", msg_iov=");
  Iov(s, 1, m[2], m[3], at_exit, seq0 + internal::kMsgIov, seq0 + internal::kMsgIovData);
  s->append(", msg_iovlen=");
  AppendUDec(s, m[3]);
  if (m[5] != 0) {
    s->append(", msg_control=");
    const Payload* ctl = part(internal::kMsgControl);
    if (Usable(ctl)) AppendCmsgs(s, ctl->data); else Addr(s, m[4]);
  }
  s->append(", msg_controllen=");
  AppendUDec(s, m[5]);
  s->append(", msg_flags=");
  AppendFlags(s, static_cast<uint32_t>(m[6]), kMsgFlags, nullptr);
  s->push_back('}');
}

void Decoder::DecodeMsg(bool send) {
  const uint64_t* a = v_.args;
  Generic(0);
  if (!send) ExitArgsStart();
  std::string& s = Arg();
  const Payload* hdr = send ? In(1, internal::kMsgHdr) : Out(1, internal::kMsgHdr);
  uint64_t m[7];
  bool have = a[1] != 0 && (send || Ok()) && Usable(hdr) && hdr->data.size() >= sizeof m;
  if (!have) {
    Addr(&s, a[1]);
  } else {
    std::memcpy(m, hdr->data.data(), sizeof m);
    // recvmsg data: the iov buffers hold the first |ret| bytes (captured at exit).
    Msghdr(&s, m, !send, 0);
  }
  Generic(2);
}

// sendmmsg/recvmmsg: strace prints the vector at exit, msg_len for the first |ret| entries.
void Decoder::DecodeMmsg(bool send) {
  const uint64_t* a = v_.args;
  Generic(0);
  ExitArgsStart();
  std::string& s = Arg();
  const Payload* arr = Out(1, 0);
  if (a[1] == 0) {
    s.append("NULL");
  } else if (!v_.has_exit || !Usable(arr) || (failed_ && !send)) {
    Addr(&s, a[1]);
  } else {
    uint64_t with_len = failed_ ? 0 : static_cast<uint64_t>(v_.ret);
    size_t n = arr->data.size() / internal::kSizeofMmsghdr;
    s.push_back('[');
    for (size_t k = 0; k < n; ++k) {
      if (k > 0) s.append(", ");
      uint64_t m[7];
      std::memcpy(m, arr->data.data() + k * internal::kSizeofMmsghdr, sizeof m);
      uint32_t len = 0;
      Load(arr->data, k * internal::kSizeofMmsghdr + 56, &len);
      s.append("{msg_hdr=");
      Msghdr(&s, m, true, internal::MmsgSeq(k));
      if (k < with_len) {
        s.append(", msg_len=");
        AppendUDec(&s, len);
      }
      s.push_back('}');
    }
    if (n < static_cast<uint32_t>(a[2])) {
      if (n > 0) s.append(", ");
      s.append("...");
    }
    s.push_back(']');
  }
  AppendUDec(&Arg(), static_cast<uint32_t>(a[2]));
  AppendFlags(&Arg(), static_cast<uint32_t>(a[3]), kMsgFlags, nullptr);
  if (!send) StructText(&Arg(), StructType::kTimespec, In(4), a[4]);
}

void Decoder::DecodeSockopt(bool get) {
  const uint64_t* a = v_.args;
  Generic(0);
  uint32_t level = static_cast<uint32_t>(a[1]);
  uint32_t name = static_cast<uint32_t>(a[2]);
  AppendEnum(&Arg(), level, xlat::kSockLevels, "SOL_???");
  {
    std::string& s = Arg();
    std::span<const FlagDef> names;
    const char* unknown = nullptr;
    switch (level) {
      case 1: names = xlat::kSolSocketOpts; unknown = "SO_???"; break;
      case 6: names = xlat::kSolTcpOpts; unknown = "TCP_???"; break;
      case 0: names = xlat::kSolIpOpts; unknown = "IP_???"; break;
      case 41: names = xlat::kSolIpv6Opts; unknown = "IPV6_???"; break;
      default: break;
    }
    if (unknown != nullptr) AppendEnum(&s, name, names, unknown); else AppendUDec(&s, name);
  }
  if (get) ExitArgsStart();
  std::string& s = Arg();
  const Payload* p = get ? Out(3) : In(3);
  uint32_t len = static_cast<uint32_t>(a[4]);
  if (get) {
    const Payload* lp = Out(4);
    if (!Usable(lp) || !Load(lp->data, 0, &len)) len = 0;
  }
  if (a[3] == 0) {
    s.append("NULL");
  } else if ((get && !Ok()) || !Usable(p)) {
    Addr(&s, a[3]);
  } else if (len == 4 && p->data.size() >= 4) {
    int32_t x = 0;
    Load(p->data, 0, &x);
    s.push_back('[');
    AppendDec(&s, x);
    s.push_back(']');
  } else if (level == 1 && name == 13 && p->data.size() >= 8) {  // SO_LINGER
    int32_t on = 0, linger = 0;
    Load(p->data, 0, &on);
    Load(p->data, 4, &linger);
    s.append("{l_onoff=");
    AppendDec(&s, on);
    s.append(", l_linger=");
    AppendDec(&s, linger);
    s.push_back('}');
  } else {
    AppendQuoted(&s, p->data.first(std::min<size_t>(p->data.size(), len)), false);
  }
  std::string& l = Arg();
  if (!get) {
    AppendInt(&l, a[4]);
    return;
  }
  // optlen is value-result: "[256 => 4]" when the kernel changed it.
  ValueResultInt(&l, 4);
}

// ---- prctl ------------------------------------------------------------------------------

void Decoder::DecodePrctl() {
  const uint64_t* a = v_.args;
  uint32_t option = static_cast<uint32_t>(a[0]);
  std::string& o = Arg();
  bool known = false;
  for (const FlagDef& d : xlat::kPrctlOptions) {
    if (d.value == option) {
      o.append(d.name);
      known = true;
      break;
    }
  }
  if (!known) {
    AppendHex(&o, option);
    o.append(" /* PR_??? */");
    for (int i = 1; i < 5; ++i) AppendHex(&Arg(), a[i]);
    return;
  }
  switch (option) {
    case 15:  // PR_SET_NAME
      Str(&Arg(), In(1), a[1]);
      return;
    case 16: {  // PR_GET_NAME
      ExitArgsStart();
      std::string& s = Arg();
      if (Ok()) Str(&s, Out(1), a[1]); else Addr(&s, a[1]);
      return;
    }
    case 1:  // PR_SET_PDEATHSIG
      Arg().append(a[1] == 0 ? std::string("0") : SignalName(static_cast<int>(a[1])));
      return;
    case 3:  // PR_GET_DUMPABLE
      if (Ok()) {
        ret_mode_ = RetMode::kAux;
        AppendEnum(&ret_aux_, static_cast<uint64_t>(v_.ret), xlat::kDumpable, nullptr);
      }
      return;
    case 4:  // PR_SET_DUMPABLE
      AppendEnum(&Arg(), a[1], xlat::kDumpable, "SUID_DUMP_???");
      return;
    case 7: case 19: case 21: case 27: case 30: case 37: case 39: case 42: case 46:
      return;  // getters without arguments
    case 8: case 36: case 29:  // PR_SET_KEEPCAPS, PR_SET_CHILD_SUBREAPER, PR_SET_TIMERSLACK
      AppendUDec(&Arg(), a[1]);
      return;
    case 38:  // PR_SET_NO_NEW_PRIVS
    case 41:  // PR_SET_THP_DISABLE
      for (int i = 1; i < 5; ++i) AppendUDec(&Arg(), a[i]);
      return;
    case 22:  // PR_SET_SECCOMP
      AppendEnum(&Arg(), a[1], xlat::kSeccompModes, "SECCOMP_MODE_???");
      if (a[1] == 2) SockFprog(&Arg(), In(2), a[2]);
      return;
    case 23: case 24:  // PR_CAPBSET_READ/DROP
      AppendEnum(&Arg(), a[1], xlat::kCapabilities, "CAP_???");
      return;
    default:
      for (int i = 1; i < 5; ++i) AppendHex(&Arg(), a[i]);
      return;
  }
}

}  // namespace

std::string SyscallName(abi::Arch arch, uint32_t nr) {
  const abi::SyscallDesc* d = abi::LookupSyscall(arch, nr);
  // strace 6.1 (the text oracle) does not know the newest syscalls: it prints their number.
  if (d != nullptr && nr <= abi::kStraceKnownMax) return d->name;
  char buf[32];
  std::snprintf(buf, sizeof buf, "syscall_%#" PRIx32, nr);
  return buf;
}

void Decode(const SyscallView& view, Decoded* out) {
  Decoder d(view, out);
  d.Run();
}

}  // namespace clonebot::trace::decode
