// strace-exact formatters for kernel structures, given raw native-layout (x86_64) bytes as
// copied out of the tracee. Each returns false and appends nothing when the span is too short
// for the structure; otherwise it appends strace's default (abbreviated) text and returns true.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "trace/decode/primitives.h"

namespace clonebot::trace::decode {

bool AppendStat(std::string*, std::span<const uint8_t>);      // "{st_mode=S_IFREG|0644, st_size=123, ...}"
bool AppendStatx(std::string*, std::span<const uint8_t>);
bool AppendStatfs(std::string*, std::span<const uint8_t>);
bool AppendSockaddr(std::string*, std::span<const uint8_t>);  // by sa_family, len = span size: unix, inet, inet6, netlink, packet; others generic
bool AppendTimespec(std::string*, std::span<const uint8_t>);  // {tv_sec=1, tv_nsec=0}
bool AppendTimeval(std::string*, std::span<const uint8_t>);
bool AppendItimerspec(std::string*, std::span<const uint8_t>);
// Arrays print at most |max_items| elements, then "..." (strace: -s also limits arrays).
bool AppendPollfds(std::string*, std::span<const uint8_t>, bool with_revents, uint32_t max_items = 32);
bool AppendEpollEvents(std::string*, std::span<const uint8_t>, uint32_t max_items = 32);   // array "[{events=EPOLLIN, data={u32=3, u64=3}}]"
bool AppendSigaction(std::string*, std::span<const uint8_t>);     // kernel struct sigaction as rt_sigaction passes it
bool AppendSigset(std::string*, std::span<const uint8_t>);        // "[INT TERM]", "~[RTMIN RT_1]", "[]"
bool AppendRlimit(std::string*, std::span<const uint8_t>);        // {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}
bool AppendUtsname(std::string*, std::span<const uint8_t>);
bool AppendSysinfo(std::string*, std::span<const uint8_t>);
bool AppendRusage(std::string*, std::span<const uint8_t>);
bool AppendTermios(std::string*, std::span<const uint8_t>);       // ioctl TCGETS
bool AppendWinsize(std::string*, std::span<const uint8_t>);       // ioctl TIOCGWINSZ
// getdents64 as strace 6.1 prints it by default: the caller prints the buffer address, then
// " ", then this appends "/* 25 entries */". |count| is the number of valid bytes (the
// syscall's return value); the walk is limited to min(count, span size).
bool AppendDirents64(std::string*, std::span<const uint8_t>, uint64_t count);
bool AppendSiginfo(std::string*, std::span<const uint8_t>);       // {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=..., ...}

}  // namespace clonebot::trace::decode
