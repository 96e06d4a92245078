#include "policy/internal/bpf_gen.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stddef.h>

#include <algorithm>
#include <span>

#include "absl/strings/str_cat.h"
#include "base/status.h"

namespace clonebot::policy::internal {
namespace {

constexpr uint32_t kOffNr = offsetof(seccomp_data, nr);
constexpr uint32_t kOffArch = offsetof(seccomp_data, arch);
constexpr uint32_t kX32SyscallBit = 0x40000000;
constexpr uint32_t kNativeAuditArch = AUDIT_ARCH_X86_64;
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "argument word offsets assume little endian");

uint32_t ArgLo(unsigned i) { return static_cast<uint32_t>(offsetof(seccomp_data, args) + 8 * i); }
uint32_t ArgHi(unsigned i) { return ArgLo(i) + 4; }

// The program before layout: instructions, label definitions and comments. Jumps name labels,
// so that trampolines can be inserted without breaking fall-through.
class Assembler {
 public:
  int NewLabel() { return next_label_++; }
  void Bind(int label) { items_.push_back(Item{.kind = Item::kLabel, .label = label}); }
  // Text for the listing, shown before the next instruction.
  void Comment(std::string text) { items_.push_back(Item{.kind = Item::kComment, .comment = std::move(text)}); }
  void Stmt(uint16_t code, uint32_t k) { items_.push_back(Item{.insn = BPF_STMT(code, k)}); }
  void Ret(uint32_t k) { Stmt(BPF_RET | BPF_K, k); }
  void LoadWord(uint32_t off) { Stmt(BPF_LD | BPF_W | BPF_ABS, off); }
  void Ja(int target) { items_.push_back(Item{.insn = BPF_STMT(BPF_JMP | BPF_JA, 0), .ja = target}); }
  // Conditional jump on A (op: BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET) against |k|.
  void Jump(uint16_t op, uint32_t k, int jt, int jf) {
    items_.push_back(Item{.insn = BPF_JUMP(BPF_JMP | op | BPF_K, k, 0, 0), .jt = jt, .jf = jf});
  }

  absl::StatusOr<GenResult> Finish() {
    // Conditional jumps reach 255 instructions; longer ones go through "JA target" placed right
    // after the jump (nothing falls into it: a conditional jump always jumps). Inserting moves
    // code, so repeat until every jump fits.
    bool changed = true;
    while (changed) {
      changed = false;
      std::vector<size_t> pos = Positions();
      std::vector<Item> out;
      size_t pc = 0;
      for (const Item& it : items_) {
        out.push_back(it);
        if (it.kind != Item::kInsn) continue;
        if (it.jt >= 0) {
          std::vector<Item> tramps;
          for (int* t : {&out.back().jt, &out.back().jf}) {
            CB_CHECK(pos[*t] >= pc + 1, "backward jump at %zu", pc);
            if (pos[*t] - (pc + 1) > 255) {
              int l = NewLabel();
              tramps.push_back(Item{.kind = Item::kLabel, .label = l});
              tramps.push_back(Item{.insn = BPF_STMT(BPF_JMP | BPF_JA, 0), .ja = *t});
              *t = l;
              changed = true;
            }
          }
          out.insert(out.end(), tramps.begin(), tramps.end());
        }
        pc++;
      }
      items_ = std::move(out);
    }
    std::vector<size_t> pos = Positions();
    GenResult r;
    for (const Item& it : items_) {
      if (it.kind == Item::kComment) r.labels.emplace_back(r.program.size(), it.comment);
      if (it.kind != Item::kInsn) continue;
      const size_t pc = r.program.size();
      sock_filter f = it.insn;
      if (it.ja >= 0) {
        CB_CHECK(pos[it.ja] >= pc + 1, "backward jump at %zu", pc);
        f.k = static_cast<uint32_t>(pos[it.ja] - (pc + 1));
      }
      if (it.jt >= 0) {
        f.jt = static_cast<uint8_t>(pos[it.jt] - (pc + 1));
        f.jf = static_cast<uint8_t>(pos[it.jf] - (pc + 1));
      }
      r.program.push_back(f);
    }
    if (r.program.size() > BPF_MAXINSNS)
      return absl::InvalidArgumentError(absl::StrCat("the filter has ", r.program.size(),
                                                     " instructions, more than the kernel's limit of ", BPF_MAXINSNS));
    return r;
  }

 private:
  struct Item {
    enum Kind { kInsn, kLabel, kComment } kind = kInsn;
    int label = -1;
    std::string comment;
    sock_filter insn{};
    int jt = -1, jf = -1;  // conditional jump targets (labels)
    int ja = -1;           // JA target (label)
  };

  // Instruction index of every label (a label names the next instruction).
  std::vector<size_t> Positions() const {
    std::vector<size_t> pos(next_label_, 0);
    size_t pc = 0;
    for (const Item& it : items_) {
      if (it.kind == Item::kLabel) pos[it.label] = pc;
      if (it.kind == Item::kInsn) pc++;
    }
    return pos;
  }

  std::vector<Item> items_;
  int next_label_ = 0;
};

// Emits code that falls through when |c| holds and jumps to |fail| when it does not.
void EmitCond(Assembler& a, const ArgCond& c, int fail) {
  const uint32_t hi_off = ArgHi(c.index), lo_off = ArgLo(c.index);
  const uint32_t vh = static_cast<uint32_t>(c.value >> 32), vl = static_cast<uint32_t>(c.value);
  const int pass = a.NewLabel();
  auto next = [&] { return a.NewLabel(); };
  switch (c.op) {
    case CmpOp::kEq: {
      int l1 = next(), l2 = next();
      a.LoadWord(hi_off);
      a.Jump(BPF_JEQ, vh, l1, fail);
      a.Bind(l1);
      a.LoadWord(lo_off);
      a.Jump(BPF_JEQ, vl, l2, fail);
      a.Bind(l2);
      break;
    }
    case CmpOp::kNe: {
      int l1 = next();
      a.LoadWord(hi_off);
      a.Jump(BPF_JEQ, vh, l1, pass);
      a.Bind(l1);
      a.LoadWord(lo_off);
      a.Jump(BPF_JEQ, vl, fail, pass);
      break;
    }
    case CmpOp::kMaskedEq: {
      if ((c.value & ~c.mask) != 0) {  // can never hold (Docker profiles can say this)
        a.Ja(fail);
        break;
      }
      const uint32_t mh = static_cast<uint32_t>(c.mask >> 32), ml = static_cast<uint32_t>(c.mask);
      for (auto [off, m, v] : {std::tuple{hi_off, mh, vh}, std::tuple{lo_off, ml, vl}}) {
        if (m == 0) continue;  // (x & 0) == 0 always
        int l = next();
        a.LoadWord(off);
        if (m != 0xffffffff) a.Stmt(BPF_ALU | BPF_AND | BPF_K, m);
        a.Jump(BPF_JEQ, v, l, fail);
        a.Bind(l);
      }
      break;
    }
    case CmpOp::kGt:
    case CmpOp::kGe: {
      // hi > vh: holds; hi < vh: fails; hi == vh: decided by the low word.
      int l1 = next(), l2 = next();
      a.LoadWord(hi_off);
      a.Jump(BPF_JGT, vh, pass, l1);
      a.Bind(l1);
      a.Jump(BPF_JEQ, vh, l2, fail);
      a.Bind(l2);
      a.LoadWord(lo_off);
      a.Jump(c.op == CmpOp::kGt ? BPF_JGT : BPF_JGE, vl, pass, fail);
      break;
    }
    case CmpOp::kLt:
    case CmpOp::kLe: {
      // x < v is NOT x >= v; x <= v is NOT x > v.
      int l1 = next(), l2 = next();
      a.LoadWord(hi_off);
      a.Jump(BPF_JGT, vh, fail, l1);
      a.Bind(l1);
      a.Jump(BPF_JEQ, vh, l2, pass);
      a.Bind(l2);
      a.LoadWord(lo_off);
      a.Jump(c.op == CmpOp::kLt ? BPF_JGE : BPF_JGT, vl, fail, pass);
      break;
    }
  }
  a.Bind(pass);
}

struct Target {
  const GenSyscall* sys;
  int block;  // label of its rule block; -1: a single unconditional rule, returned inline
};

// Binary search on the syscall number (in A). |ts| sorted by number.
void EmitDispatch(Assembler& a, std::span<const Target> ts, int deflt) {
  if (ts.size() <= 4) {
    std::vector<std::pair<int, uint32_t>> inline_rets;  // one RET per distinct action
    for (const Target& t : ts) {
      int next = a.NewLabel();
      int target = t.block;
      if (target < 0) {
        const uint32_t ret = SeccompRet(t.sys->rules[0].action);
        auto it = std::find_if(inline_rets.begin(), inline_rets.end(), [&](const auto& r) { return r.second == ret; });
        if (it == inline_rets.end()) it = inline_rets.insert(inline_rets.end(), {a.NewLabel(), ret});
        target = it->first;
      }
      a.Jump(BPF_JEQ, static_cast<uint32_t>(t.sys->nr), target, next);
      a.Bind(next);
    }
    a.Ja(deflt);
    for (auto [label, ret] : inline_rets) {
      a.Bind(label);
      a.Ret(ret);
    }
    return;
  }
  const size_t mid = ts.size() / 2;
  int left = a.NewLabel(), right = a.NewLabel();
  a.Jump(BPF_JGE, static_cast<uint32_t>(ts[mid].sys->nr), right, left);
  a.Bind(left);
  EmitDispatch(a, ts.subspan(0, mid), deflt);
  a.Bind(right);
  EmitDispatch(a, ts.subspan(mid), deflt);
}

}  // namespace

uint32_t SeccompRet(const Action& a) {
  switch (a.kind) {
    case ActionKind::kAllow: return SECCOMP_RET_ALLOW;
    case ActionKind::kErrno: return SECCOMP_RET_ERRNO | (static_cast<uint32_t>(a.errno_value) & SECCOMP_RET_DATA);
    case ActionKind::kKillProcess: return SECCOMP_RET_KILL_PROCESS;
    case ActionKind::kKillThread: return SECCOMP_RET_KILL_THREAD;
    case ActionKind::kLog: return SECCOMP_RET_LOG;
    case ActionKind::kTrace: return SECCOMP_RET_TRACE | a.trace_data;
  }
  return SECCOMP_RET_KILL_PROCESS;
}

absl::StatusOr<GenResult> GenerateSeccompBpf(std::vector<GenSyscall> syscalls, const Action& default_action) {
  std::sort(syscalls.begin(), syscalls.end(), [](const GenSyscall& x, const GenSyscall& y) { return x.nr < y.nr; });
  for (size_t i = 1; i < syscalls.size(); i++)
    CB_CHECK(syscalls[i - 1].nr != syscalls[i].nr, "syscall %d listed twice", syscalls[i].nr);

  Assembler a;
  const int bad_arch = a.NewLabel(), deflt = a.NewLabel(), arch_ok = a.NewLabel(), native = a.NewLabel(),
            high = a.NewLabel();
  a.Comment("check the architecture (kill-thread otherwise, as libseccomp does)");
  a.LoadWord(kOffArch);
  a.Jump(BPF_JEQ, kNativeAuditArch, arch_ok, bad_arch);
  a.Bind(arch_ok);
  a.LoadWord(kOffNr);
  a.Jump(BPF_JGE, kX32SyscallBit, high, native);  // x32 shares AUDIT_ARCH_X86_64
  a.Bind(high);
  // -1 is a call a ptrace tracer skipped; like libseccomp, let it reach the default action.
  a.Jump(BPF_JEQ, 0xffffffff, deflt, bad_arch);
  a.Bind(native);

  std::vector<Target> targets;
  for (const GenSyscall& s : syscalls) {
    if (s.rules.empty()) continue;
    const bool inline_ret = s.rules.size() == 1 && s.rules[0].conds.empty();
    targets.push_back({&s, inline_ret ? -1 : a.NewLabel()});
  }
  a.Comment(absl::StrCat("dispatch on the syscall number (", targets.size(), " syscalls with rules)"));
  EmitDispatch(a, targets, deflt);

  for (const Target& t : targets) {
    if (t.block < 0) continue;
    a.Bind(t.block);
    a.Comment(absl::StrCat(t.sys->name, " (", t.sys->nr, ")"));
    bool ended = false;
    for (const GenRule& r : t.sys->rules) {
      const int next_rule = a.NewLabel();
      for (const ArgCond& c : r.conds) EmitCond(a, c, next_rule);
      a.Ret(SeccompRet(r.action));
      a.Bind(next_rule);
      if (r.conds.empty()) {  // nothing after an unconditional rule is reachable
        ended = true;
        break;
      }
    }
    if (!ended) a.Ja(deflt);
  }
  a.Bind(deflt);
  a.Comment("no rule matched: the default action");
  a.Ret(SeccompRet(default_action));
  a.Bind(bad_arch);
  a.Comment("another architecture or the x32 ABI");
  a.Ret(SECCOMP_RET_KILL_THREAD);
  return a.Finish();
}

}  // namespace clonebot::policy::internal
