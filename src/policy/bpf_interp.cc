#include "policy/bpf_interp.h"

#include <linux/audit.h>

#include <stddef.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "abi/syscall_table.h"
#include "policy/internal/tables.h"

namespace clonebot::policy {
namespace {

absl::Status Bad(size_t pc, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("bpf[", pc, "]: ", internal::AV(why)));
}

}  // namespace

seccomp_data MakeSeccompData(int nr, std::span<const uint64_t> args) {
  seccomp_data d;
  memset(&d, 0, sizeof d);
  d.nr = nr;
#if defined(__x86_64__)
  d.arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
  d.arch = AUDIT_ARCH_AARCH64;
#endif
  for (size_t i = 0; i < args.size() && i < 6; i++) d.args[i] = args[i];
  return d;
}

absl::Status ValidateSeccompBpf(std::span<const sock_filter> prog) {
  if (prog.empty() || prog.size() > BPF_MAXINSNS)
    return absl::InvalidArgumentError(absl::StrCat("bpf: bad length ", prog.size(), " (1..", BPF_MAXINSNS, ")"));
  for (size_t pc = 0; pc < prog.size(); pc++) {
    const sock_filter& f = prog[pc];
    switch (BPF_CLASS(f.code)) {
      case BPF_LD:
      case BPF_LDX:
        switch (BPF_MODE(f.code)) {
          case BPF_ABS:
            if (BPF_CLASS(f.code) == BPF_LDX) return Bad(pc, "load mode not allowed in seccomp");
            if (BPF_SIZE(f.code) != BPF_W) return Bad(pc, "only 32-bit loads from seccomp_data");
            if (f.k % 4 != 0 || f.k >= sizeof(seccomp_data)) return Bad(pc, "load outside seccomp_data");
            break;
          case BPF_IMM:
          case BPF_LEN: break;
          case BPF_MEM:
            if (f.k >= BPF_MEMWORDS) return Bad(pc, "scratch memory index out of range");
            break;
          default: return Bad(pc, "load mode not allowed in seccomp");
        }
        break;
      case BPF_ST:
      case BPF_STX:
        if (f.k >= BPF_MEMWORDS) return Bad(pc, "scratch memory index out of range");
        break;
      case BPF_ALU:
        switch (BPF_OP(f.code)) {
          case BPF_ADD: case BPF_SUB: case BPF_MUL: case BPF_OR: case BPF_AND: case BPF_XOR:
          case BPF_LSH: case BPF_RSH: case BPF_NEG: break;
          case BPF_DIV:
            if (BPF_SRC(f.code) == BPF_K && f.k == 0) return Bad(pc, "division by zero");
            break;
          default: return Bad(pc, "unknown ALU op");
        }
        break;
      case BPF_JMP:
        if (BPF_OP(f.code) == BPF_JA) {
          if (f.k >= prog.size() - pc - 1) return Bad(pc, "jump out of the program");
        } else {
          switch (BPF_OP(f.code)) {
            case BPF_JEQ: case BPF_JGT: case BPF_JGE: case BPF_JSET: break;
            default: return Bad(pc, "unknown jump");
          }
          if (pc + 1 + f.jt >= prog.size() || pc + 1 + f.jf >= prog.size())
            return Bad(pc, "jump out of the program");
        }
        break;
      case BPF_RET:
        if (BPF_RVAL(f.code) != BPF_K && BPF_RVAL(f.code) != BPF_A) return Bad(pc, "bad return");
        break;
      case BPF_MISC:
        if (BPF_MISCOP(f.code) != BPF_TAX && BPF_MISCOP(f.code) != BPF_TXA) return Bad(pc, "bad misc op");
        break;
      default: return Bad(pc, "unknown instruction class");
    }
  }
  if (BPF_CLASS(prog.back().code) != BPF_RET) return Bad(prog.size() - 1, "the program must end in RET");
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> RunSeccompBpf(std::span<const sock_filter> prog, const seccomp_data& data) {
  if (absl::Status st = ValidateSeccompBpf(prog); !st.ok()) return st;
  uint32_t words[sizeof(seccomp_data) / 4];
  memcpy(words, &data, sizeof words);
  uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {};
  // Jumps only go forward, so the loop ends within prog.size() steps.
  for (size_t pc = 0; pc < prog.size(); pc++) {
    const sock_filter& f = prog[pc];
    const uint32_t src = BPF_SRC(f.code) == BPF_X ? x : f.k;
    switch (BPF_CLASS(f.code)) {
      case BPF_LD:
      case BPF_LDX: {
        uint32_t v = 0;
        switch (BPF_MODE(f.code)) {
          case BPF_ABS: v = words[f.k / 4]; break;
          case BPF_IMM: v = f.k; break;
          case BPF_LEN: v = sizeof(seccomp_data); break;
          case BPF_MEM: v = mem[f.k]; break;
        }
        (BPF_CLASS(f.code) == BPF_LD ? a : x) = v;
        break;
      }
      case BPF_ST: mem[f.k] = a; break;
      case BPF_STX: mem[f.k] = x; break;
      case BPF_ALU:
        switch (BPF_OP(f.code)) {
          case BPF_ADD: a += src; break;
          case BPF_SUB: a -= src; break;
          case BPF_MUL: a *= src; break;
          case BPF_DIV: a = src == 0 ? 0 : a / src; break;
          case BPF_OR: a |= src; break;
          case BPF_AND: a &= src; break;
          case BPF_XOR: a ^= src; break;
          case BPF_LSH: a = src >= 32 ? 0 : a << src; break;
          case BPF_RSH: a = src >= 32 ? 0 : a >> src; break;
          case BPF_NEG: a = -a; break;
        }
        break;
      case BPF_JMP: {
        if (BPF_OP(f.code) == BPF_JA) {
          pc += f.k;
          break;
        }
        bool t = false;
        switch (BPF_OP(f.code)) {
          case BPF_JEQ: t = a == src; break;
          case BPF_JGT: t = a > src; break;
          case BPF_JGE: t = a >= src; break;
          case BPF_JSET: t = (a & src) != 0; break;
        }
        pc += t ? f.jt : f.jf;
        break;
      }
      case BPF_RET: return BPF_RVAL(f.code) == BPF_A ? a : f.k;
      case BPF_MISC:
        if (BPF_MISCOP(f.code) == BPF_TAX) x = a;
        else a = x;
        break;
    }
  }
  return absl::InternalError("bpf: fell off the end");  // unreachable after validation
}

std::optional<Action> ActionFromSeccompRet(uint32_t ret) {
  const uint32_t data = ret & SECCOMP_RET_DATA;
  switch (ret & SECCOMP_RET_ACTION_FULL) {
    case SECCOMP_RET_KILL_PROCESS: return Action{ActionKind::kKillProcess};
    case SECCOMP_RET_KILL_THREAD: return Action{ActionKind::kKillThread};
    case SECCOMP_RET_ERRNO: return Action{ActionKind::kErrno, static_cast<int>(data)};
    case SECCOMP_RET_TRACE: return Action{ActionKind::kTrace, 0, static_cast<uint16_t>(data)};
    case SECCOMP_RET_LOG: return Action{ActionKind::kLog};
    case SECCOMP_RET_ALLOW: return Action{ActionKind::kAllow};
    default: return std::nullopt;
  }
}

std::string DescribeSeccompRet(uint32_t ret) {
  if (auto a = ActionFromSeccompRet(ret)) {
    if (a->kind == ActionKind::kErrno && a->errno_value == 0) return "errno(0)";
    return FormatAction(*a);
  }
  const uint32_t data = ret & SECCOMP_RET_DATA;
  switch (ret & SECCOMP_RET_ACTION_FULL) {
    case SECCOMP_RET_TRAP: return absl::StrCat("trap(", data, ")");
    case SECCOMP_RET_USER_NOTIF: return "user-notif";
    default: return absl::StrFormat("unknown(0x%08x)", ret);
  }
}

namespace {

std::string FieldName(uint32_t k) {
  if (k == offsetof(seccomp_data, nr)) return "nr";
  if (k == offsetof(seccomp_data, arch)) return "arch";
  if (k == offsetof(seccomp_data, instruction_pointer)) return "ip";
  if (k == offsetof(seccomp_data, instruction_pointer) + 4) return "ip hi";
  if (k >= offsetof(seccomp_data, args) && k < sizeof(seccomp_data)) {
    const uint32_t rel = k - offsetof(seccomp_data, args);
    return absl::StrCat("arg", rel / 8, rel % 8 ? " hi" : " lo");
  }
  return "?";
}

}  // namespace

std::string DisassembleSeccompBpf(std::span<const sock_filter> prog,
                                  const std::vector<std::pair<size_t, std::string>>& labels) {
  std::string out;
  size_t next_label = 0;
  bool a_is_nr = false;  // the last load in program order was the syscall number
  for (size_t pc = 0; pc < prog.size(); pc++) {
    while (next_label < labels.size() && labels[next_label].first <= pc)
      absl::StrAppend(&out, "      # ", labels[next_label++].second, "\n");
    const sock_filter& f = prog[pc];
    std::string text, note;
    switch (BPF_CLASS(f.code)) {
      case BPF_LD:
        if (BPF_MODE(f.code) == BPF_ABS) {
          text = absl::StrFormat("ld   [%u]", f.k);
          note = FieldName(f.k);
          a_is_nr = f.k == offsetof(seccomp_data, nr);
        } else {
          text = absl::StrFormat("ld   code=0x%02x #0x%x", f.code, f.k);
          a_is_nr = false;
        }
        break;
      case BPF_ALU: {
        static const char* kOps[] = {"add", "sub", "mul", "div", "or", "and", "lsh", "rsh", "neg", "mod", "xor"};
        const unsigned op = BPF_OP(f.code) >> 4;
        text = absl::StrFormat("%-4s #0x%x", op < 11 ? kOps[op] : "alu?", f.k);
        a_is_nr = false;
        break;
      }
      case BPF_JMP: {
        if (BPF_OP(f.code) == BPF_JA) {
          text = absl::StrFormat("ja   %zu", pc + 1 + f.k);
          break;
        }
        const char* op = BPF_OP(f.code) == BPF_JEQ   ? "jeq"
                         : BPF_OP(f.code) == BPF_JGT ? "jgt"
                         : BPF_OP(f.code) == BPF_JGE ? "jge"
                                                     : "jset";
        text = absl::StrFormat("%-4s #0x%-8x jt %-4zu jf %zu", op, f.k, pc + 1 + f.jt, pc + 1 + f.jf);
        if (a_is_nr) {
          if (const abi::SyscallDesc* d = abi::LookupSyscall(abi::kNativeArch, f.k)) note = d->name;
          else if (f.k == 0x40000000) note = "x32 bit";
        } else if (f.k == AUDIT_ARCH_X86_64) {
          note = "AUDIT_ARCH_X86_64";
        }
        break;
      }
      case BPF_RET:
        text = BPF_RVAL(f.code) == BPF_A ? "ret  a" : absl::StrFormat("ret  #0x%08x", f.k);
        if (BPF_RVAL(f.code) == BPF_K) note = DescribeSeccompRet(f.k);
        break;
      default:
        text = absl::StrFormat("code=0x%02x jt %u jf %u k 0x%x", f.code, f.jt, f.jf, f.k);
        a_is_nr = false;
    }
    absl::StrAppendFormat(&out, "%5zu: %-44s%s%s\n", pc, text, note.empty() ? "" : "; ", note);
  }
  return out;
}

}  // namespace clonebot::policy
