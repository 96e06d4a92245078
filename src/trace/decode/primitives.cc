// strace-exact text primitives. See primitives.h.
#include "trace/decode/primitives.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "trace/decode/decode.h"

namespace clonebot::trace::decode {
namespace {

void AppendF(std::string* out, const char* fmt, uint64_t v) {
  char buf[32];
  int n = snprintf(buf, sizeof(buf), fmt, v);
  if (n > 0) out->append(buf, static_cast<size_t>(n));
}

constexpr bool IsPrint(uint8_t c) { return c >= ' ' && c < 0x7f; }

struct ErrnoEntry {
  int num;
  const char* name;
  const char* msg;  // glibc strerror text (what strace prints); nullptr: "Unknown error N"
};

// errno names from strace's linux/generic/errnoent.h; messages from glibc's strerror (what
// strace 6.1 prints), except the ERESTART* family whose texts strace hardcodes.
constexpr ErrnoEntry kErrnos[] = {
    {1, "EPERM", "Operation not permitted"},
    {2, "ENOENT", "No such file or directory"},
    {3, "ESRCH", "No such process"},
    {4, "EINTR", "Interrupted system call"},
    {5, "EIO", "Input/output error"},
    {6, "ENXIO", "No such device or address"},
    {7, "E2BIG", "Argument list too long"},
    {8, "ENOEXEC", "Exec format error"},
    {9, "EBADF", "Bad file descriptor"},
    {10, "ECHILD", "No child processes"},
    {11, "EAGAIN", "Resource temporarily unavailable"},
    {12, "ENOMEM", "Cannot allocate memory"},
    {13, "EACCES", "Permission denied"},
    {14, "EFAULT", "Bad address"},
    {15, "ENOTBLK", "Block device required"},
    {16, "EBUSY", "Device or resource busy"},
    {17, "EEXIST", "File exists"},
    {18, "EXDEV", "Invalid cross-device link"},
    {19, "ENODEV", "No such device"},
    {20, "ENOTDIR", "Not a directory"},
    {21, "EISDIR", "Is a directory"},
    {22, "EINVAL", "Invalid argument"},
    {23, "ENFILE", "Too many open files in system"},
    {24, "EMFILE", "Too many open files"},
    {25, "ENOTTY", "Inappropriate ioctl for device"},
    {26, "ETXTBSY", "Text file busy"},
    {27, "EFBIG", "File too large"},
    {28, "ENOSPC", "No space left on device"},
    {29, "ESPIPE", "Illegal seek"},
    {30, "EROFS", "Read-only file system"},
    {31, "EMLINK", "Too many links"},
    {32, "EPIPE", "Broken pipe"},
    {33, "EDOM", "Numerical argument out of domain"},
    {34, "ERANGE", "Numerical result out of range"},
    {35, "EDEADLK", "Resource deadlock avoided"},
    {36, "ENAMETOOLONG", "File name too long"},
    {37, "ENOLCK", "No locks available"},
    {38, "ENOSYS", "Function not implemented"},
    {39, "ENOTEMPTY", "Directory not empty"},
    {40, "ELOOP", "Too many levels of symbolic links"},
    {42, "ENOMSG", "No message of desired type"},
    {43, "EIDRM", "Identifier removed"},
    {44, "ECHRNG", "Channel number out of range"},
    {45, "EL2NSYNC", "Level 2 not synchronized"},
    {46, "EL3HLT", "Level 3 halted"},
    {47, "EL3RST", "Level 3 reset"},
    {48, "ELNRNG", "Link number out of range"},
    {49, "EUNATCH", "Protocol driver not attached"},
    {50, "ENOCSI", "No CSI structure available"},
    {51, "EL2HLT", "Level 2 halted"},
    {52, "EBADE", "Invalid exchange"},
    {53, "EBADR", "Invalid request descriptor"},
    {54, "EXFULL", "Exchange full"},
    {55, "ENOANO", "No anode"},
    {56, "EBADRQC", "Invalid request code"},
    {57, "EBADSLT", "Invalid slot"},
    {59, "EBFONT", "Bad font file format"},
    {60, "ENOSTR", "Device not a stream"},
    {61, "ENODATA", "No data available"},
    {62, "ETIME", "Timer expired"},
    {63, "ENOSR", "Out of streams resources"},
    {64, "ENONET", "Machine is not on the network"},
    {65, "ENOPKG", "Package not installed"},
    {66, "EREMOTE", "Object is remote"},
    {67, "ENOLINK", "Link has been severed"},
    {68, "EADV", "Advertise error"},
    {69, "ESRMNT", "Srmount error"},
    {70, "ECOMM", "Communication error on send"},
    {71, "EPROTO", "Protocol error"},
    {72, "EMULTIHOP", "Multihop attempted"},
    {73, "EDOTDOT", "RFS specific error"},
    {74, "EBADMSG", "Bad message"},
    {75, "EOVERFLOW", "Value too large for defined data type"},
    {76, "ENOTUNIQ", "Name not unique on network"},
    {77, "EBADFD", "File descriptor in bad state"},
    {78, "EREMCHG", "Remote address changed"},
    {79, "ELIBACC", "Can not access a needed shared library"},
    {80, "ELIBBAD", "Accessing a corrupted shared library"},
    {81, "ELIBSCN", ".lib section in a.out corrupted"},
    {82, "ELIBMAX", "Attempting to link in too many shared libraries"},
    {83, "ELIBEXEC", "Cannot exec a shared library directly"},
    {84, "EILSEQ", "Invalid or incomplete multibyte or wide character"},
    {85, "ERESTART", "Interrupted system call should be restarted"},
    {86, "ESTRPIPE", "Streams pipe error"},
    {87, "EUSERS", "Too many users"},
    {88, "ENOTSOCK", "Socket operation on non-socket"},
    {89, "EDESTADDRREQ", "Destination address required"},
    {90, "EMSGSIZE", "Message too long"},
    {91, "EPROTOTYPE", "Protocol wrong type for socket"},
    {92, "ENOPROTOOPT", "Protocol not available"},
    {93, "EPROTONOSUPPORT", "Protocol not supported"},
    {94, "ESOCKTNOSUPPORT", "Socket type not supported"},
    {95, "EOPNOTSUPP", "Operation not supported"},
    {96, "EPFNOSUPPORT", "Protocol family not supported"},
    {97, "EAFNOSUPPORT", "Address family not supported by protocol"},
    {98, "EADDRINUSE", "Address already in use"},
    {99, "EADDRNOTAVAIL", "Cannot assign requested address"},
    {100, "ENETDOWN", "Network is down"},
    {101, "ENETUNREACH", "Network is unreachable"},
    {102, "ENETRESET", "Network dropped connection on reset"},
    {103, "ECONNABORTED", "Software caused connection abort"},
    {104, "ECONNRESET", "Connection reset by peer"},
    {105, "ENOBUFS", "No buffer space available"},
    {106, "EISCONN", "Transport endpoint is already connected"},
    {107, "ENOTCONN", "Transport endpoint is not connected"},
    {108, "ESHUTDOWN", "Cannot send after transport endpoint shutdown"},
    {109, "ETOOMANYREFS", "Too many references: cannot splice"},
    {110, "ETIMEDOUT", "Connection timed out"},
    {111, "ECONNREFUSED", "Connection refused"},
    {112, "EHOSTDOWN", "Host is down"},
    {113, "EHOSTUNREACH", "No route to host"},
    {114, "EALREADY", "Operation already in progress"},
    {115, "EINPROGRESS", "Operation now in progress"},
    {116, "ESTALE", "Stale file handle"},
    {117, "EUCLEAN", "Structure needs cleaning"},
    {118, "ENOTNAM", "Not a XENIX named type file"},
    {119, "ENAVAIL", "No XENIX semaphores available"},
    {120, "EISNAM", "Is a named type file"},
    {121, "EREMOTEIO", "Remote I/O error"},
    {122, "EDQUOT", "Disk quota exceeded"},
    {123, "ENOMEDIUM", "No medium found"},
    {124, "EMEDIUMTYPE", "Wrong medium type"},
    {125, "ECANCELED", "Operation canceled"},
    {126, "ENOKEY", "Required key not available"},
    {127, "EKEYEXPIRED", "Key has expired"},
    {128, "EKEYREVOKED", "Key has been revoked"},
    {129, "EKEYREJECTED", "Key was rejected by service"},
    {130, "EOWNERDEAD", "Owner died"},
    {131, "ENOTRECOVERABLE", "State not recoverable"},
    {132, "ERFKILL", "Operation not possible due to RF-kill"},
    {133, "EHWPOISON", "Memory page has hardware error"},
    {512, "ERESTARTSYS", "To be restarted if SA_RESTART is set"},
    {513, "ERESTARTNOINTR", "To be restarted"},
    {514, "ERESTARTNOHAND", "To be restarted if no handler"},
    {515, "ENOIOCTLCMD", nullptr},
    {516, "ERESTART_RESTARTBLOCK", "Interrupted by signal"},
    {517, "EPROBE_DEFER", nullptr},
    {518, "EOPENSTALE", nullptr},
    {521, "EBADHANDLE", nullptr},
    {522, "ENOTSYNC", nullptr},
    {523, "EBADCOOKIE", nullptr},
    {524, "ENOTSUPP", nullptr},
    {525, "ETOOSMALL", nullptr},
    {526, "ESERVERFAULT", nullptr},
    {527, "EBADTYPE", nullptr},
    {528, "EJUKEBOX", nullptr},
    {529, "EIOCBQUEUED", nullptr},
    {530, "ERECALLCONFLICT", nullptr},
};

const ErrnoEntry* FindErrno(int err) {
  for (const auto& e : kErrnos) {
    if (e.num == err) return &e;
  }
  return nullptr;
}

#define F(x) FlagDef{x, #x}

// O_* (x86_64 values), in strace's open_mode_flags order.
constexpr FlagDef kOpenFlagsArr[] = {
    {0100, "O_CREAT"},        {0200, "O_EXCL"},        {0400, "O_NOCTTY"},
    {01000, "O_TRUNC"},       {02000, "O_APPEND"},     {04000, "O_NONBLOCK"},
    {04010000, "O_SYNC"},     {04000000, "__O_SYNC"},  {010000, "O_DSYNC"},
    {040000, "O_DIRECT"},     {0100000, "O_LARGEFILE"}, {0400000, "O_NOFOLLOW"},
    {01000000, "O_NOATIME"},  {02000000, "O_CLOEXEC"}, {010000000, "O_PATH"},
    {020200000, "O_TMPFILE"}, {020000000, "__O_TMPFILE"}, {0200000, "O_DIRECTORY"},
    {020000, "FASYNC"},
};
constexpr FlagDef kOpenAccModesArr[] = {
    {0, "O_RDONLY"}, {1, "O_WRONLY"}, {2, "O_RDWR"}, {3, "O_ACCMODE"},
};
constexpr FlagDef kAtFlagsArr[] = {
    {0x100, "AT_SYMLINK_NOFOLLOW"}, {0x200, "AT_REMOVEDIR"}, {0x400, "AT_SYMLINK_FOLLOW"},
    {0x800, "AT_NO_AUTOMOUNT"},     {0x1000, "AT_EMPTY_PATH"}, {0x8000, "AT_RECURSIVE"},
};
constexpr FlagDef kProtFlagsArr[] = {
    {0, "PROT_NONE"},           {0x1, "PROT_READ"}, {0x2, "PROT_WRITE"}, {0x4, "PROT_EXEC"},
    {0x8, "PROT_SEM"},          {0x01000000, "PROT_GROWSDOWN"}, {0x02000000, "PROT_GROWSUP"},
};
constexpr FlagDef kMapTypesArr[] = {
    {0x1, "MAP_SHARED"}, {0x2, "MAP_PRIVATE"}, {0x3, "MAP_SHARED_VALIDATE"},
};
constexpr FlagDef kMapFlagsArr[] = {
    {0x10, "MAP_FIXED"},       {0x20, "MAP_ANONYMOUS"},   {0x40, "MAP_32BIT"},
    {0x4000, "MAP_NORESERVE"}, {0x8000, "MAP_POPULATE"},  {0x10000, "MAP_NONBLOCK"},
    {0x100, "MAP_GROWSDOWN"},  {0x800, "MAP_DENYWRITE"},  {0x1000, "MAP_EXECUTABLE"},
    {0x2000, "MAP_LOCKED"},    {0x20000, "MAP_STACK"},    {0x40000, "MAP_HUGETLB"},
    {0x80000, "MAP_SYNC"},     {0x4000000, "MAP_UNINITIALIZED"},
    {0x100000, "MAP_FIXED_NOREPLACE"},
};
constexpr FlagDef kCloneFlagsArr[] = {
    {0x100, "CLONE_VM"},
    {0x200, "CLONE_FS"},
    {0x400, "CLONE_FILES"},
    {0x800, "CLONE_SIGHAND"},
    {0x1000, "CLONE_PIDFD"},
    {0x2000, "CLONE_PTRACE"},
    {0x4000, "CLONE_VFORK"},
    {0x8000, "CLONE_PARENT"},
    {0x10000, "CLONE_THREAD"},
    {0x20000, "CLONE_NEWNS"},
    {0x40000, "CLONE_SYSVSEM"},
    {0x80000, "CLONE_SETTLS"},
    {0x100000, "CLONE_PARENT_SETTID"},
    {0x200000, "CLONE_CHILD_CLEARTID"},
    {0x800000, "CLONE_UNTRACED"},
    {0x1000000, "CLONE_CHILD_SETTID"},
    {0x2000000, "CLONE_NEWCGROUP"},
    {0x4000000, "CLONE_NEWUTS"},
    {0x8000000, "CLONE_NEWIPC"},
    {0x10000000, "CLONE_NEWUSER"},
    {0x20000000, "CLONE_NEWPID"},
    {0x40000000, "CLONE_NEWNET"},
    {0x80000000, "CLONE_IO"},
};
constexpr FlagDef kSockTypesArr[] = {
    {1, "SOCK_STREAM"}, {2, "SOCK_DGRAM"}, {3, "SOCK_RAW"},   {4, "SOCK_RDM"},
    {5, "SOCK_SEQPACKET"}, {6, "SOCK_DCCP"}, {10, "SOCK_PACKET"},
};
constexpr FlagDef kSockTypeFlagsArr[] = {
    {02000000, "SOCK_CLOEXEC"}, {04000, "SOCK_NONBLOCK"},
};
constexpr FlagDef kAddressFamiliesArr[] = {
    {0, "AF_UNSPEC"},  {1, "AF_UNIX"},      {2, "AF_INET"},     {3, "AF_AX25"},
    {4, "AF_IPX"},     {5, "AF_APPLETALK"}, {6, "AF_NETROM"},   {7, "AF_BRIDGE"},
    {8, "AF_ATMPVC"},  {9, "AF_X25"},       {10, "AF_INET6"},   {11, "AF_ROSE"},
    {12, "AF_DECnet"}, {13, "AF_NETBEUI"},  {14, "AF_SECURITY"}, {15, "AF_KEY"},
    {16, "AF_NETLINK"}, {17, "AF_PACKET"},  {18, "AF_ASH"},     {19, "AF_ECONET"},
    {20, "AF_ATMSVC"}, {21, "AF_RDS"},      {22, "AF_SNA"},     {23, "AF_IRDA"},
    {24, "AF_PPPOX"},  {25, "AF_WANPIPE"},  {26, "AF_LLC"},     {27, "AF_IB"},
    {28, "AF_MPLS"},   {29, "AF_CAN"},      {30, "AF_TIPC"},    {31, "AF_BLUETOOTH"},
    {32, "AF_IUCV"},   {33, "AF_RXRPC"},    {34, "AF_ISDN"},    {35, "AF_PHONET"},
    {36, "AF_IEEE802154"}, {37, "AF_CAIF"}, {38, "AF_ALG"},     {39, "AF_NFC"},
    {40, "AF_VSOCK"},  {41, "AF_KCM"},      {42, "AF_QIPCRTR"}, {43, "AF_SMC"},
    {44, "AF_XDP"},    {45, "AF_MCTP"},
};
constexpr FlagDef kMsgFlagsArr[] = {
    {0x1, "MSG_OOB"},          {0x2, "MSG_PEEK"},         {0x4, "MSG_DONTROUTE"},
    {0x8, "MSG_CTRUNC"},       {0x10, "MSG_PROBE"},       {0x20, "MSG_TRUNC"},
    {0x40, "MSG_DONTWAIT"},    {0x80, "MSG_EOR"},         {0x100, "MSG_WAITALL"},
    {0x200, "MSG_FIN"},        {0x400, "MSG_SYN"},        {0x800, "MSG_CONFIRM"},
    {0x1000, "MSG_RST"},       {0x2000, "MSG_ERRQUEUE"},  {0x4000, "MSG_NOSIGNAL"},
    {0x8000, "MSG_MORE"},      {0x10000, "MSG_WAITFORONE"}, {0x20000, "MSG_SENDPAGE_NOTLAST"},
    {0x40000, "MSG_BATCH"},    {0x80000, "MSG_NO_SHARED_FRAGS"}, {0x4000000, "MSG_ZEROCOPY"},
    {0x20000000, "MSG_FASTOPEN"}, {0x40000000, "MSG_CMSG_CLOEXEC"},
    {0x80000000, "MSG_CMSG_COMPAT"},
};
constexpr FlagDef kSignalNamesArr[] = {
    {1, "SIGHUP"},    {2, "SIGINT"},     {3, "SIGQUIT"},  {4, "SIGILL"},    {5, "SIGTRAP"},
    {6, "SIGABRT"},   {7, "SIGBUS"},     {8, "SIGFPE"},   {9, "SIGKILL"},   {10, "SIGUSR1"},
    {11, "SIGSEGV"},  {12, "SIGUSR2"},   {13, "SIGPIPE"}, {14, "SIGALRM"},  {15, "SIGTERM"},
    {16, "SIGSTKFLT"}, {17, "SIGCHLD"},  {18, "SIGCONT"}, {19, "SIGSTOP"},  {20, "SIGTSTP"},
    {21, "SIGTTIN"},  {22, "SIGTTOU"},   {23, "SIGURG"},  {24, "SIGXCPU"},  {25, "SIGXFSZ"},
    {26, "SIGVTALRM"}, {27, "SIGPROF"},  {28, "SIGWINCH"}, {29, "SIGIO"},   {30, "SIGPWR"},
    {31, "SIGSYS"},   {32, "SIGRTMIN"},
};
#undef F

}  // namespace

const std::span<const FlagDef> kOpenFlags{kOpenFlagsArr};
const std::span<const FlagDef> kOpenAccModes{kOpenAccModesArr};
const std::span<const FlagDef> kAtFlags{kAtFlagsArr};
const std::span<const FlagDef> kProtFlags{kProtFlagsArr};
const std::span<const FlagDef> kMapFlags{kMapFlagsArr};
const std::span<const FlagDef> kMapTypes{kMapTypesArr};
const std::span<const FlagDef> kCloneFlags{kCloneFlagsArr};
const std::span<const FlagDef> kSockTypes{kSockTypesArr};
const std::span<const FlagDef> kSockTypeFlags{kSockTypeFlagsArr};
const std::span<const FlagDef> kAddressFamilies{kAddressFamiliesArr};
const std::span<const FlagDef> kMsgFlags{kMsgFlagsArr};
const std::span<const FlagDef> kSignalNames{kSignalNamesArr};

void AppendQuoted(std::string* out, std::span<const uint8_t> bytes, bool truncated) {
  out->push_back('"');
  const size_t n = bytes.size();
  for (size_t i = 0; i < n; ++i) {
    const uint8_t c = bytes[i];
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\f': out->append("\\f"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\v': out->append("\\v"); break;
      default:
        if (IsPrint(c)) {
          out->push_back(static_cast<char>(c));
        } else {
          // Minimal octal, unless the next byte is an octal digit (strace's sprint_byte_oct).
          const bool full = i + 1 < n && bytes[i + 1] >= '0' && bytes[i + 1] <= '7';
          out->push_back('\\');
          if (full || c >= 0100) out->push_back(static_cast<char>('0' + (c >> 6)));
          if (full || c >= 010) out->push_back(static_cast<char>('0' + ((c >> 3) & 7)));
          out->push_back(static_cast<char>('0' + (c & 7)));
        }
    }
  }
  out->push_back('"');
  if (truncated) out->append("...");
}

void AppendFlagsDflt(std::string* out, uint64_t v, std::span<const FlagDef> defs,
                     const char* dflt) {
  unsigned n = 0;
  for (const FlagDef& d : defs) {
    if (!(v || !n)) break;
    if (d.name && (v == d.value || (d.value && (v & d.value) == d.value))) {
      if (n++) out->push_back('|');
      out->append(d.name);
      v &= ~d.value;
    }
    if (!v) break;
  }
  if (n) {
    if (v) {
      out->push_back('|');
      AppendHex(out, v);
    }
  } else if (v) {
    AppendHex(out, v);
    if (dflt) {
      out->append(" /* ");
      out->append(dflt);
      out->append(" */");
    }
  } else if (dflt) {
    out->push_back('0');
  }
}

void AppendFlags(std::string* out, uint64_t v, std::span<const FlagDef> defs,
                 const char* zero_name) {
  if (v == 0) {
    for (const FlagDef& d : defs) {
      if (d.value == 0 && d.name) {
        out->append(d.name);
        return;
      }
    }
    out->append(zero_name ? zero_name : "0");
    return;
  }
  AppendFlagsDflt(out, v, defs, nullptr);
}

const char* LookupName(uint64_t v, std::span<const FlagDef> defs) {
  for (const FlagDef& d : defs) {
    if (d.value == v && d.name) return d.name;
  }
  return nullptr;
}

void AppendEnum(std::string* out, uint64_t v, std::span<const FlagDef> defs,
                const char* unknown_comment) {
  if (const char* name = LookupName(v, defs)) {
    out->append(name);
    return;
  }
  AppendHex(out, v);
  if (unknown_comment) {
    out->append(" /* ");
    out->append(unknown_comment);
    out->append(" */");
  }
}

void AppendHex(std::string* out, uint64_t v) {
  if (v == 0) {
    out->push_back('0');
    return;
  }
  AppendF(out, "%#" PRIx64, v);
}

void AppendPtr(std::string* out, uint64_t v) {
  if (v == 0) {
    out->append("NULL");
    return;
  }
  AppendF(out, "%#" PRIx64, v);
}

void AppendOctalMode(std::string* out, uint64_t mode) { AppendF(out, "%#03" PRIo64, mode); }

void AppendOpenFlags(std::string* out, uint64_t flags) {
  // strace's sprint_open_modes: access mode name, then the other flags.
  const char* acc = LookupName(flags & 3, kOpenAccModes);
  if (acc) {
    out->append(acc);
    flags &= ~uint64_t{3};
    if (!flags) return;
    out->push_back('|');
  }
  // sprintflags_ex: names in table order, remaining bits in hex.
  bool found = false;
  for (const FlagDef& d : kOpenFlags) {
    if (d.value && (flags & d.value) == d.value) {
      if (found) out->push_back('|');
      out->append(d.name);
      found = true;
      flags &= ~d.value;
      if (!flags) break;
    }
  }
  if (flags) {
    if (found) out->push_back('|');
    AppendHex(out, flags);
  }
}

const char* ErrnoName(int err) {
  const ErrnoEntry* e = FindErrno(err);
  return e ? e->name : nullptr;
}

const char* ErrnoMessage(int err) {
  const ErrnoEntry* e = FindErrno(err);
  return e ? e->msg : nullptr;
}

void AppendErrorReturn(std::string* out, int64_t ret) {
  const uint64_t err = static_cast<uint64_t>(-ret);
  const ErrnoEntry* e = err <= 4095 ? FindErrno(static_cast<int>(err)) : nullptr;
  switch (err) {
    case 512: case 513: case 514: case 516:
      out->append("? ");
      out->append(e->name);
      out->append(" (");
      out->append(e->msg);
      out->push_back(')');
      return;
    default:
      break;
  }
  out->append("-1 ");
  if (e) {
    out->append(e->name);
  } else {
    AppendF(out, "%" PRIu64, err);
  }
  out->append(" (");
  if (e && e->msg) {
    out->append(e->msg);
  } else {
    AppendF(out, "Unknown error %" PRIu64, err);
  }
  out->push_back(')');
}

}  // namespace clonebot::trace::decode
