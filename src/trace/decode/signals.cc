// Signal names, sigsets, sigaction and siginfo as strace 6.1 prints them (x86_64).
#include <cinttypes>
#include <cstdio>

#include "trace/decode/decode.h"
#include "trace/decode/primitives.h"
#include "trace/decode/structs.h"
#include "trace/decode/structs_internal.h"

namespace clonebot::trace::decode {
namespace {

using internal::Ld;

// Linux x86_64: SIGRTMIN as the kernel sees it is 32; strace names 32 "SIGRTMIN" and prints
// 33..64 as SIGRT_1..SIGRT_32.
constexpr int kAsmSigRtMin = 32;
constexpr int kAsmSigRtMax = 64;

constexpr FlagDef kSigactFlags[] = {
    {0x04000000, "SA_RESTORER"}, {0x08000000, "SA_ONSTACK"}, {0x10000000, "SA_RESTART"},
    {0x20000000, "SA_INTERRUPT"}, {0x40000000, "SA_NODEFER"}, {0x80000000, "SA_RESETHAND"},
    {0x4, "SA_SIGINFO"},         {0x1, "SA_NOCLDSTOP"},      {0x2, "SA_NOCLDWAIT"},
};

constexpr FlagDef kSiginfoCodes[] = {
    {0, "SI_USER"},
    {0x80, "SI_KERNEL"},
    {static_cast<uint32_t>(-1), "SI_QUEUE"},
    {static_cast<uint32_t>(-2), "SI_TIMER"},
    {static_cast<uint32_t>(-3), "SI_MESGQ"},
    {static_cast<uint32_t>(-4), "SI_ASYNCIO"},
    {static_cast<uint32_t>(-5), "SI_SIGIO"},
    {static_cast<uint32_t>(-6), "SI_TKILL"},
    {static_cast<uint32_t>(-7), "SI_DETHREAD"},
    {static_cast<uint32_t>(-60), "SI_ASYNCNL"},
};
constexpr FlagDef kSigchldCodes[] = {
    {1, "CLD_EXITED"}, {2, "CLD_KILLED"},  {3, "CLD_DUMPED"},
    {4, "CLD_TRAPPED"}, {5, "CLD_STOPPED"}, {6, "CLD_CONTINUED"},
};
constexpr FlagDef kSigsegvCodes[] = {
    {1, "SEGV_MAPERR"}, {2, "SEGV_ACCERR"}, {3, "SEGV_BNDERR"}, {4, "SEGV_PKUERR"},
    {5, "SEGV_ACCADI"}, {6, "SEGV_ADIDERR"}, {7, "SEGV_ADIPERR"}, {8, "SEGV_MTEAERR"},
    {9, "SEGV_MTESERR"},
};
constexpr FlagDef kSigbusCodes[] = {
    {1, "BUS_ADRALN"}, {2, "BUS_ADRERR"}, {3, "BUS_OBJERR"}, {4, "BUS_MCEERR_AR"},
    {5, "BUS_MCEERR_AO"},
};
constexpr FlagDef kSigfpeCodes[] = {
    {1, "FPE_INTDIV"}, {2, "FPE_INTOVF"}, {3, "FPE_FLTDIV"}, {4, "FPE_FLTOVF"},
    {5, "FPE_FLTUND"}, {6, "FPE_FLTRES"}, {7, "FPE_FLTINV"}, {8, "FPE_FLTSUB"},
    {14, "FPE_FLTUNK"}, {15, "FPE_CONDTRAP"},
};
constexpr FlagDef kSigillCodes[] = {
    {1, "ILL_ILLOPC"}, {2, "ILL_ILLOPN"}, {3, "ILL_ILLADR"}, {4, "ILL_ILLTRP"},
    {5, "ILL_PRVOPC"}, {6, "ILL_PRVREG"}, {7, "ILL_COPROC"}, {8, "ILL_BADSTK"},
    {9, "ILL_BADIADDR"},
};
constexpr FlagDef kSigtrapCodes[] = {
    {1, "TRAP_BRKPT"}, {2, "TRAP_TRACE"}, {3, "TRAP_BRANCH"}, {4, "TRAP_HWBKPT"},
    {5, "TRAP_UNK"},   {6, "TRAP_PERF"},
};
constexpr FlagDef kSigpollCodes[] = {
    {1, "POLL_IN"}, {2, "POLL_OUT"}, {3, "POLL_MSG"}, {4, "POLL_ERR"}, {5, "POLL_PRI"},
    {6, "POLL_HUP"},
};
constexpr FlagDef kSigsysCodes[] = {{1, "SYS_SECCOMP"}, {2, "SYS_USER_DISPATCH"}};
constexpr FlagDef kSigprofCodes[] = {{1, "PROF_SIG"}};

const char* LookupCode(uint32_t code, std::span<const FlagDef> defs) {
  for (const FlagDef& d : defs) {
    if (static_cast<uint32_t>(d.value) == code) return d.name;
  }
  return nullptr;
}

void AppendSiCode(std::string* out, int32_t code, int32_t signo) {
  const uint32_t c = static_cast<uint32_t>(code);
  const char* name = LookupCode(c, kSiginfoCodes);
  if (!name) {
    std::span<const FlagDef> t;
    switch (signo) {
      case 5: t = kSigtrapCodes; break;
      case 17: t = kSigchldCodes; break;
      case 29: t = kSigpollCodes; break;
      case 27: t = kSigprofCodes; break;
      case 4: t = kSigillCodes; break;
      case 8: t = kSigfpeCodes; break;
      case 11: t = kSigsegvCodes; break;
      case 7: t = kSigbusCodes; break;
      case 31: t = kSigsysCodes; break;
      default: break;
    }
    name = LookupCode(c, t);
  }
  if (name) {
    out->append(name);
  } else {
    AppendHex(out, c);
  }
}

void AppendSigSource(std::string* out, std::span<const uint8_t> b) {
  out->append(", si_pid=");
  internal::AppendD(out, Ld<int32_t>(b, 16));
  out->append(", si_uid=");
  internal::AppendU(out, Ld<uint32_t>(b, 20));
}

void AppendSigval(std::string* out, std::span<const uint8_t> b) {
  out->append(", si_int=");
  internal::AppendD(out, Ld<int32_t>(b, 24));
  out->append(", si_ptr=");
  AppendPtr(out, Ld<uint64_t>(b, 24));
}

}  // namespace

namespace internal {

void AppendSignal(std::string* out, int64_t signo) {
  if (signo > 0 && signo <= kAsmSigRtMax) {
    out->append(SignalName(static_cast<int>(signo)));
  } else {
    AppendD(out, signo);
  }
}

void AppendSigsetBytes(std::string* out, std::span<const uint8_t> bytes) {
  // strace's sprintsigmask_n: works on 32-bit words; when 2/3 or more of the bits are set,
  // prints the complement with a leading '~'.
  uint32_t words[2] = {0, 0};
  const size_t nbytes = bytes.size() > 8 ? 8 : bytes.size();
  const unsigned nwords = static_cast<unsigned>((nbytes + 3) / 4);
  for (size_t i = 0; i < nbytes; ++i) {
    words[i / 4] |= static_cast<uint32_t>(bytes[i]) << (8 * (i % 4));
  }
  unsigned pop = 0;
  for (unsigned w = 0; w < nwords; ++w) pop += static_cast<unsigned>(__builtin_popcount(words[w]));
  if (pop >= nwords * 32 * 2 / 3) {
    for (unsigned w = 0; w < nwords; ++w) words[w] = ~words[w];
    out->push_back('~');
  }
  char sep = '[';
  for (unsigned bit = 0; bit < nwords * 32; ++bit) {
    if (!(words[bit / 32] & (1u << (bit % 32)))) continue;
    const int sig = static_cast<int>(bit) + 1;
    out->push_back(sep);
    sep = ' ';
    if (sig <= kAsmSigRtMin) {
      out->append(kSignalNames[static_cast<size_t>(sig - 1)].name + 3);
    } else if (sig <= kAsmSigRtMax) {
      out->append("RT_");
      AppendU(out, static_cast<uint64_t>(sig - kAsmSigRtMin));
    } else {
      AppendU(out, static_cast<uint64_t>(sig));
    }
  }
  if (sep == '[') out->push_back('[');
  out->push_back(']');
}

}  // namespace internal

std::string SignalName(int signo) {
  if (signo > 0 && signo <= kAsmSigRtMin) return kSignalNames[static_cast<size_t>(signo - 1)].name;
  if (signo > kAsmSigRtMin && signo <= kAsmSigRtMax) {
    return "SIGRT_" + std::to_string(signo - kAsmSigRtMin);
  }
  return std::to_string(signo);
}

bool AppendSigset(std::string* out, std::span<const uint8_t> b) {
  if (b.empty()) return false;
  internal::AppendSigsetBytes(out, b);
  return true;
}

bool AppendSigaction(std::string* out, std::span<const uint8_t> b) {
  // struct kernel_sigaction (x86_64): handler, flags, restorer, mask (8 bytes).
  if (b.size() < 32) return false;
  const uint64_t handler = Ld<uint64_t>(b, 0);
  const uint64_t flags = Ld<uint64_t>(b, 8);
  const uint64_t restorer = Ld<uint64_t>(b, 16);
  out->append("{sa_handler=");
  if (handler == 0) {
    out->append("SIG_DFL");
  } else if (handler == 1) {
    out->append("SIG_IGN");
  } else if (handler == ~uint64_t{0}) {
    out->append("SIG_ERR");
  } else {
    AppendHex(out, handler);
  }
  out->append(", sa_mask=");
  internal::AppendSigsetBytes(out, b.subspan(24, 8));
  out->append(", sa_flags=");
  AppendFlagsDflt(out, flags, kSigactFlags, "SA_???");
  if (flags & 0x04000000) {
    out->append(", sa_restorer=");
    AppendPtr(out, restorer);
  }
  out->push_back('}');
  return true;
}

bool AppendSiginfo(std::string* out, std::span<const uint8_t> b) {
  if (b.size() < 48) return false;
  const int32_t signo = Ld<int32_t>(b, 0);
  const int32_t err = Ld<int32_t>(b, 4);
  const int32_t code = Ld<int32_t>(b, 8);
  out->push_back('{');
  if (signo) {
    out->append("si_signo=");
    internal::AppendSignal(out, signo);
    out->append(", si_code=");
    AppendSiCode(out, code, signo);
    if (err) {
      out->append(", si_errno=");
      const char* en = ErrnoName(err);
      if (en && err > 0) {
        out->append(en);
      } else {
        internal::AppendU(out, static_cast<uint32_t>(err));
      }
    }
    if (code <= 0) {
      switch (code) {
        case 0:    // SI_USER
        case -6:   // SI_TKILL
          AppendSigSource(out, b);
          break;
        case -2:   // SI_TIMER
          out->append(", si_timerid=");
          AppendHex(out, Ld<uint32_t>(b, 16));
          out->append(", si_overrun=");
          internal::AppendD(out, Ld<int32_t>(b, 20));
          AppendSigval(out, b);
          break;
        case -5:   // SI_SIGIO
          out->append(", si_band=");
          internal::AppendD(out, Ld<int64_t>(b, 16));
          out->append(", si_fd=");
          internal::AppendD(out, Ld<int32_t>(b, 24));
          break;
        default:
          AppendSigSource(out, b);
          if (Ld<uint64_t>(b, 24)) AppendSigval(out, b);
          break;
      }
    } else {
      switch (signo) {
        case 17:  // SIGCHLD
          AppendSigSource(out, b);
          out->append(", si_status=");
          if (code == 1) {
            internal::AppendD(out, Ld<int32_t>(b, 24));
          } else {
            internal::AppendSignal(out, Ld<int32_t>(b, 24));
          }
          out->append(", si_utime=");
          internal::AppendD(out, Ld<int64_t>(b, 32));
          out->append(", si_stime=");
          internal::AppendD(out, Ld<int64_t>(b, 40));
          break;
        case 4: case 8:  // SIGILL, SIGFPE
          out->append(", si_addr=");
          AppendPtr(out, Ld<uint64_t>(b, 16));
          break;
        case 7:  // SIGBUS
          out->append(", si_addr=");
          AppendPtr(out, Ld<uint64_t>(b, 16));
          if (code == 4 || code == 5) {
            out->append(", si_addr_lsb=");
            AppendHex(out, Ld<uint16_t>(b, 24));
          }
          break;
        case 11:  // SIGSEGV
          out->append(", si_addr=");
          AppendPtr(out, Ld<uint64_t>(b, 16));
          if (code == 3) {
            out->append(", si_lower=");
            AppendPtr(out, Ld<uint64_t>(b, 32));
            out->append(", si_upper=");
            AppendPtr(out, Ld<uint64_t>(b, 40));
          } else if (code == 4) {
            out->append(", si_pkey=");
            internal::AppendU(out, Ld<uint32_t>(b, 32));
          }
          break;
        case 5:  // SIGTRAP
          out->append(", si_addr=");
          AppendPtr(out, Ld<uint64_t>(b, 16));
          if (code == 6) {  // TRAP_PERF
            out->append(", si_perf_data=");
            AppendHex(out, Ld<uint64_t>(b, 32));
          }
          break;
        case 29:  // SIGIO
          if (code >= 1 && code <= 3) {
            out->append(", si_band=");
            internal::AppendD(out, Ld<int64_t>(b, 16));
            out->append(", si_fd=");
            internal::AppendD(out, Ld<int32_t>(b, 24));
          }
          break;
        case 31: {  // SIGSYS
          out->append(", si_call_addr=");
          AppendPtr(out, Ld<uint64_t>(b, 16));
          out->append(", si_syscall=");
          const uint32_t arch = Ld<uint32_t>(b, 28);
          const int32_t nr = Ld<int32_t>(b, 24);
          abi::Arch a = abi::ArchFromAudit(arch);
          std::string name = a == abi::Arch::kUnknown ? std::string()
                                                       : SyscallName(a, static_cast<uint32_t>(nr));
          if (!name.empty() && name.rfind("syscall_", 0) != 0) {
            out->append("__NR_");
            out->append(name);
          } else {
            internal::AppendD(out, nr);
          }
          out->append(", si_arch=");
          switch (arch) {
            case 0xc000003e: out->append("AUDIT_ARCH_X86_64"); break;
            case 0x40000003: out->append("AUDIT_ARCH_I386"); break;
            case 0xc00000b7: out->append("AUDIT_ARCH_AARCH64"); break;
            default:
              AppendHex(out, arch);
              out->append(" /* AUDIT_ARCH_??? */");
          }
          break;
        }
        default:
          if (Ld<int32_t>(b, 16) || Ld<uint32_t>(b, 20)) AppendSigSource(out, b);
          if (Ld<uint64_t>(b, 24)) AppendSigval(out, b);
          break;
      }
    }
  }
  out->push_back('}');
  return true;
}

std::string DecodeSignal(uint32_t signo, std::span<const uint8_t> siginfo) {
  std::string s = SignalName(static_cast<int>(signo));
  if (!siginfo.empty()) {
    std::string info;
    if (AppendSiginfo(&info, siginfo)) {
      s.push_back(' ');
      s += info;
    }
  }
  return s;
}

}  // namespace clonebot::trace::decode
