// A userspace interpreter for seccomp's classic BPF, like gVisor's bpf.Exec: unit tests and
// `clonebot policy test` run Compile()'s program on a synthetic seccomp_data instead of
// installing it (STYLE.md §9, §19).
//
// It accepts what the kernel's seccomp_check_filter accepts: LD W ABS on seccomp_data (4-byte
// aligned), LD/LDX IMM, MEM and LEN, ST/STX, ALU ADD SUB MUL DIV AND OR XOR LSH RSH NEG (K and
// X; division by a zero K is refused up front, by a zero X yields 0 as in the kernel), JMP
// JA/JEQ/JGT/JGE/JSET (K and X), RET K/A, MISC TAX/TXA. Jumps go forward only; the program must
// end in RET.
#pragma once

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "policy/policy.h"

namespace clonebot::policy {

// seccomp_data for a native (x86_64) call of syscall |nr|; missing args are 0.
seccomp_data MakeSeccompData(int nr, std::span<const uint64_t> args = {});

// Checks |prog| as the kernel would on load. OK if it is a valid seccomp filter.
absl::Status ValidateSeccompBpf(std::span<const sock_filter> prog);

// Runs |prog| on |data| and returns the SECCOMP_RET_* value it returns. Validates first.
absl::StatusOr<uint32_t> RunSeccompBpf(std::span<const sock_filter> prog, const seccomp_data& data);

// The Action a SECCOMP_RET_* value stands for; nullopt for actions policies never produce
// (SECCOMP_RET_TRAP, SECCOMP_RET_USER_NOTIF, unknown).
std::optional<Action> ActionFromSeccompRet(uint32_t ret);
// Text for any SECCOMP_RET_* value: "errno(EACCES)", "kill-process", "trap(5)", ...
std::string DescribeSeccompRet(uint32_t ret);

// One line per instruction ("  12: jeq  #0x29  jt 14  jf 20  ; socket"), with |labels| (index,
// text) printed as "# text" lines before their instruction.
std::string DisassembleSeccompBpf(std::span<const sock_filter> prog,
                                  const std::vector<std::pair<size_t, std::string>>& labels = {});

}  // namespace clonebot::policy
