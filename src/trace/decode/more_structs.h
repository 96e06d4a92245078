// Formatters decode.cc needs beyond structs.h (H2's). Same contract: append strace's default
// text for raw x86_64-layout bytes; return false, appending nothing, if |b| is too short.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace clonebot::trace::decode {

// struct itimerval: {it_interval={tv_sec=0, tv_usec=0}, it_value={tv_sec=1, tv_usec=0}}
bool AppendItimerval(std::string* out, std::span<const uint8_t> b);
// stack_t: {ss_sp=0x55d0..., ss_flags=0, ss_size=8192}
bool AppendStackT(std::string* out, std::span<const uint8_t> b);
// A mode with its file type, as mknod prints it: S_IFCHR|0600, S_IFREG|S_ISUID|0755.
void AppendModeWithType(std::string* out, uint32_t mode);
// A wait status as wait4 prints it: [{WIFEXITED(s) && WEXITSTATUS(s) == 0}].
void AppendWaitStatus(std::string* out, int32_t status);

}  // namespace clonebot::trace::decode
