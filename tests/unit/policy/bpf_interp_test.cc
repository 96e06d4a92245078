// The userspace seccomp-BPF interpreter on hand-written programs: every instruction class it
// runs, and the checks the kernel makes when a filter is loaded.
#include "policy/bpf_interp.h"

#include <linux/audit.h>
#include <stddef.h>

#include <vector>

#include "gtest/gtest.h"

namespace clonebot::policy {
namespace {

constexpr uint32_t kNr = offsetof(seccomp_data, nr);
constexpr uint32_t kArch = offsetof(seccomp_data, arch);
constexpr uint32_t kArg0Lo = offsetof(seccomp_data, args[0]);
constexpr uint32_t kArg0Hi = offsetof(seccomp_data, args[0]) + 4;

sock_filter Stmt(uint16_t code, uint32_t k) { return BPF_STMT(code, k); }
sock_filter Jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) { return BPF_JUMP(code, k, jt, jf); }

uint32_t Exec(const std::vector<sock_filter>& prog, const seccomp_data& d) {
  auto r = RunSeccompBpf(prog, d);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : 0xdeadbeef;
}

TEST(PolicyBpfInterp, LoadsAndJumps) {
  // if (arch != x86_64) kill; if (nr == 39) errno(1); if (arg0.hi > 0 || arg0.lo >= 10) log; allow
  std::vector<sock_filter> prog = {
      Stmt(BPF_LD | BPF_W | BPF_ABS, kArch),
      Jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      Stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      Stmt(BPF_LD | BPF_W | BPF_ABS, kNr),
      Jump(BPF_JMP | BPF_JEQ | BPF_K, 39, 0, 1),
      Stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1),
      Stmt(BPF_LD | BPF_W | BPF_ABS, kArg0Hi),
      Jump(BPF_JMP | BPF_JGT | BPF_K, 0, 2, 0),
      Stmt(BPF_LD | BPF_W | BPF_ABS, kArg0Lo),
      Jump(BPF_JMP | BPF_JGE | BPF_K, 10, 0, 1),
      Stmt(BPF_RET | BPF_K, SECCOMP_RET_LOG),
      Stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  ASSERT_TRUE(ValidateSeccompBpf(prog).ok());
  EXPECT_EQ(Exec(prog, MakeSeccompData(39)), SECCOMP_RET_ERRNO | 1u);
  const uint64_t nine[] = {9}, ten[] = {10}, big[] = {0x100000000};
  EXPECT_EQ(Exec(prog, MakeSeccompData(40, nine)), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Exec(prog, MakeSeccompData(40, ten)), SECCOMP_RET_LOG);
  EXPECT_EQ(Exec(prog, MakeSeccompData(40, big)), SECCOMP_RET_LOG);
  seccomp_data other = MakeSeccompData(39);
  other.arch = AUDIT_ARCH_I386;
  EXPECT_EQ(Exec(prog, other), SECCOMP_RET_KILL_PROCESS);
}

TEST(PolicyBpfInterp, AluMemoryAndRegisters) {
  // A = arg0.lo; A &= 0xf0; A |= 1; A += 2; A -= 1; A *= 3; A /= 2; A ^= 4; A <<= 2; A >>= 1;
  // M[3] = A; X = 7; A = X; A = M[3]; JSET 0x10; X = A; A = len; RET A via TXA ...
  std::vector<sock_filter> prog = {
      Stmt(BPF_LD | BPF_W | BPF_ABS, kArg0Lo),  // A = 0x35
      Stmt(BPF_ALU | BPF_AND | BPF_K, 0xf0),     // 0x30
      Stmt(BPF_ALU | BPF_OR | BPF_K, 1),         // 0x31 = 49
      Stmt(BPF_ALU | BPF_ADD | BPF_K, 2),        // 51
      Stmt(BPF_ALU | BPF_SUB | BPF_K, 1),        // 50
      Stmt(BPF_ALU | BPF_MUL | BPF_K, 3),        // 150
      Stmt(BPF_ALU | BPF_DIV | BPF_K, 2),        // 75
      Stmt(BPF_ALU | BPF_XOR | BPF_K, 4),        // 79
      Stmt(BPF_ALU | BPF_LSH | BPF_K, 2),        // 316
      Stmt(BPF_ALU | BPF_RSH | BPF_K, 1),        // 158
      Stmt(BPF_ST, 3),                           // M[3] = 158
      Stmt(BPF_LDX | BPF_W | BPF_IMM, 7),        // X = 7
      Stmt(BPF_MISC | BPF_TXA, 0),               // A = 7
      Stmt(BPF_ALU | BPF_ADD | BPF_X, 0),        // A = 14
      Stmt(BPF_STX, 4),                          // M[4] = 7
      Stmt(BPF_LD | BPF_MEM, 3),                 // A = 158
      Stmt(BPF_LDX | BPF_MEM, 4),                // X = 7
      Stmt(BPF_ALU | BPF_SUB | BPF_X, 0),        // A = 151
      Jump(BPF_JMP | BPF_JSET | BPF_K, 0x10, 1, 0),  // 151 = 0x97: bit 4 set
      Stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_THREAD),
      Stmt(BPF_MISC | BPF_TAX, 0),                  // X = 151
      Jump(BPF_JMP | BPF_JEQ | BPF_X, 0, 1, 0),     // A == X
      Stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_THREAD),
      Stmt(BPF_ALU | BPF_OR | BPF_K, SECCOMP_RET_ERRNO),
      Stmt(BPF_RET | BPF_A, 0),
  };
  const uint64_t args[] = {0x35};
  EXPECT_EQ(Exec(prog, MakeSeccompData(1, args)), SECCOMP_RET_ERRNO | 151u);
}

TEST(PolicyBpfInterp, DivisionByZeroRegisterYieldsZero) {
  std::vector<sock_filter> prog = {
      Stmt(BPF_LD | BPF_W | BPF_IMM, 100),
      Stmt(BPF_LDX | BPF_W | BPF_IMM, 0),
      Stmt(BPF_ALU | BPF_DIV | BPF_X, 0),
      Stmt(BPF_ALU | BPF_ADD | BPF_K, SECCOMP_RET_ERRNO),
      Stmt(BPF_RET | BPF_A, 0),
  };
  EXPECT_EQ(Exec(prog, MakeSeccompData(1)), SECCOMP_RET_ERRNO);
}

TEST(PolicyBpfInterp, RejectsWhatTheKernelRejects) {
  auto why = [](std::vector<sock_filter> prog) {
    absl::Status st = ValidateSeccompBpf(prog);
    return st.ok() ? std::string("ok") : std::string(st.message());
  };
  EXPECT_EQ(why({}), "bpf: bad length 0 (1..4096)");
  EXPECT_EQ(why(std::vector<sock_filter>(4097, Stmt(BPF_RET | BPF_K, 0))), "bpf: bad length 4097 (1..4096)");
  EXPECT_EQ(why({Stmt(BPF_LD | BPF_W | BPF_ABS, 2), Stmt(BPF_RET | BPF_K, 0)}), "bpf[0]: load outside seccomp_data");
  EXPECT_EQ(why({Stmt(BPF_LD | BPF_W | BPF_ABS, 64), Stmt(BPF_RET | BPF_K, 0)}), "bpf[0]: load outside seccomp_data");
  EXPECT_EQ(why({Stmt(BPF_LD | BPF_H | BPF_ABS, 0), Stmt(BPF_RET | BPF_K, 0)}),
            "bpf[0]: only 32-bit loads from seccomp_data");
  EXPECT_EQ(why({Jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0), Stmt(BPF_RET | BPF_K, 0)}), "bpf[0]: jump out of the program");
  EXPECT_EQ(why({Stmt(BPF_JMP | BPF_JA, 1), Stmt(BPF_RET | BPF_K, 0)}), "bpf[0]: jump out of the program");
  EXPECT_EQ(why({Stmt(BPF_LD | BPF_W | BPF_IMM, 1)}), "bpf[0]: the program must end in RET");
  EXPECT_EQ(why({Stmt(BPF_ALU | BPF_DIV | BPF_K, 0), Stmt(BPF_RET | BPF_K, 0)}), "bpf[0]: division by zero");
  EXPECT_EQ(why({Stmt(BPF_ALU | BPF_MOD | BPF_K, 3), Stmt(BPF_RET | BPF_K, 0)}), "bpf[0]: unknown ALU op");
  EXPECT_EQ(why({Stmt(BPF_ST, 16), Stmt(BPF_RET | BPF_K, 0)}), "bpf[0]: scratch memory index out of range");
  EXPECT_EQ(why({Stmt(BPF_LD | BPF_W | BPF_IND, 0), Stmt(BPF_RET | BPF_K, 0)}), "bpf[0]: load mode not allowed in seccomp");
  EXPECT_EQ(why({Stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)}), "ok");
  EXPECT_FALSE(RunSeccompBpf(std::vector<sock_filter>{}, MakeSeccompData(1)).ok());
}

TEST(PolicyBpfInterp, DescribesReturnValues) {
  EXPECT_EQ(DescribeSeccompRet(SECCOMP_RET_ALLOW), "allow");
  EXPECT_EQ(DescribeSeccompRet(SECCOMP_RET_ERRNO | 13), "errno(EACCES)");
  EXPECT_EQ(DescribeSeccompRet(SECCOMP_RET_ERRNO | 0), "errno(0)");
  EXPECT_EQ(DescribeSeccompRet(SECCOMP_RET_KILL_PROCESS), "kill-process");
  EXPECT_EQ(DescribeSeccompRet(SECCOMP_RET_KILL_THREAD), "kill-thread");
  EXPECT_EQ(DescribeSeccompRet(SECCOMP_RET_TRACE | 9), "trace(9)");
  EXPECT_EQ(DescribeSeccompRet(SECCOMP_RET_LOG), "log");
  EXPECT_EQ(DescribeSeccompRet(SECCOMP_RET_TRAP | 2), "trap(2)");
  EXPECT_EQ(DescribeSeccompRet(SECCOMP_RET_USER_NOTIF), "user-notif");
  EXPECT_EQ(DescribeSeccompRet(0x12340000), "unknown(0x12340000)");
  EXPECT_FALSE(ActionFromSeccompRet(SECCOMP_RET_TRAP).has_value());
  EXPECT_EQ(*ActionFromSeccompRet(SECCOMP_RET_ERRNO | 1), (Action{ActionKind::kErrno, 1}));
}

}  // namespace
}  // namespace clonebot::policy
