// strace-exact text primitives used by the syscall decoder (decode.cc) and the struct
// formatters (structs.h). Everything appends to a caller-owned std::string; nothing allocates
// beyond that string, throws or aborts, whatever the input bytes.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace clonebot::trace::decode {

struct FlagDef {
  uint64_t value;
  const char* name;
};

// strace string quoting: "..." with \n \t \v \f \r \" \\ escapes and minimal octal for other
// non-printables (3 digits if the next byte is a digit). Appends a trailing ... after the
// closing quote when |truncated|.
void AppendQuoted(std::string* out, std::span<const uint8_t> bytes, bool truncated);

// "A|B|0x40": names of the set bits in |defs| order, then the unknown rest in hex.
// v == 0 prints |zero_name| if non-null, else "0".
void AppendFlags(std::string* out, uint64_t v, std::span<const FlagDef> defs,
                 const char* zero_name);

// "NAME" for an exact match, else "0x10 /* AF_??? */" (the comment only if |unknown_comment|
// is non-null; it is the text inside the comment, e.g. "AF_???").
void AppendEnum(std::string* out, uint64_t v, std::span<const FlagDef> defs,
                const char* unknown_comment);

// strace's printflags with a default: like AppendFlags, but a table entry with value 0 names
// v == 0; otherwise v == 0 prints "0" if |dflt| is non-null and nothing at all if it is null;
// with no known bit set prints "0x40 /* dflt */".
void AppendFlagsDflt(std::string* out, uint64_t v, std::span<const FlagDef> defs,
                     const char* dflt);

// Name of the entry equal to |v|, or nullptr.
const char* LookupName(uint64_t v, std::span<const FlagDef> defs);

// 0x1f ; 0 prints "0".
void AppendHex(std::string* out, uint64_t v);

// NULL for 0, else 0x7ffd....
void AppendPtr(std::string* out, uint64_t v);

// strerror-like text strace prints in parentheses after the errno name ("No such file or
// directory", "To be restarted if SA_RESTART is set"); nullptr for unknown.
const char* ErrnoMessage(int err);

// The text after "= " for a failed syscall whose raw return is |ret| (-errno):
// "-1 ENOENT (No such file or directory)", "? ERESTARTSYS (To be restarted if SA_RESTART is
// set)". Unknown errno values print as "-1 (errno 4000)" like strace.
void AppendErrorReturn(std::string* out, int64_t ret);

// Common tables for the dispatcher (x86_64 values).
extern const std::span<const FlagDef> kOpenFlags;     // O_* except access mode (O_RDONLY...)
extern const std::span<const FlagDef> kOpenAccModes;  // O_RDONLY, O_WRONLY, O_RDWR (enum)
extern const std::span<const FlagDef> kAtFlags;       // AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH...
extern const std::span<const FlagDef> kProtFlags;     // PROT_* (zero name "PROT_NONE")
extern const std::span<const FlagDef> kMapFlags;      // MAP_* excluding the type bits
extern const std::span<const FlagDef> kMapTypes;      // MAP_SHARED, MAP_PRIVATE, ... (enum)
extern const std::span<const FlagDef> kCloneFlags;    // CLONE_* (without the CSIGNAL byte)
extern const std::span<const FlagDef> kSockTypes;     // SOCK_STREAM... (enum, low 4 bits)
extern const std::span<const FlagDef> kSockTypeFlags; // SOCK_NONBLOCK|SOCK_CLOEXEC
extern const std::span<const FlagDef> kAddressFamilies;  // AF_* (enum)
extern const std::span<const FlagDef> kMsgFlags;      // MSG_*
extern const std::span<const FlagDef> kSignalNames;   // SIGHUP..SIGSYS (enum, 1..31)

// strace's text for an open(2) flags argument, e.g. "O_RDONLY|O_CLOEXEC".
void AppendOpenFlags(std::string* out, uint64_t flags);

// strace's "mode" rendering: 0644, 000 (three or more octal digits with a leading 0).
void AppendOctalMode(std::string* out, uint64_t mode);

}  // namespace clonebot::trace::decode
