#include "trace/decode/more_structs.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "trace/decode/decode.h"
#include "trace/decode/primitives.h"
#include "trace/decode/structs.h"

namespace clonebot::trace::decode {
namespace {

template <typename T>
T At(std::span<const uint8_t> b, size_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof v);
  return v;
}

void AppendTimevalFields(std::string* out, std::span<const uint8_t> b) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "{tv_sec=%" PRId64 ", tv_usec=%" PRId64 "}",
                At<int64_t>(b, 0), At<int64_t>(b, 8));
  out->append(buf);
}

}  // namespace

bool AppendItimerval(std::string* out, std::span<const uint8_t> b) {
  if (b.size() < 32) return false;
  out->append("{it_interval=");
  AppendTimevalFields(out, b.subspan(0, 16));
  out->append(", it_value=");
  AppendTimevalFields(out, b.subspan(16, 16));
  out->push_back('}');
  return true;
}

bool AppendStackT(std::string* out, std::span<const uint8_t> b) {
  if (b.size() < 24) return false;
  static constexpr FlagDef kSsFlags[] = {{1, "SS_ONSTACK"}, {2, "SS_DISABLE"},
                                         {0x80000000u, "SS_AUTODISARM"}};
  out->append("{ss_sp=");
  AppendPtr(out, At<uint64_t>(b, 0));
  out->append(", ss_flags=");
  AppendFlags(out, At<uint32_t>(b, 8), kSsFlags, nullptr);
  out->append(", ss_size=");
  out->append(std::to_string(At<uint64_t>(b, 16)));
  out->push_back('}');
  return true;
}

void AppendModeWithType(std::string* out, uint32_t mode) {
  static constexpr FlagDef kTypes[] = {{0140000, "S_IFSOCK"}, {0120000, "S_IFLNK"},
                                       {0100000, "S_IFREG"},  {0060000, "S_IFBLK"},
                                       {0040000, "S_IFDIR"},  {0020000, "S_IFCHR"},
                                       {0010000, "S_IFIFO"}};
  uint32_t type = mode & 0170000;
  bool any = false;
  if (type != 0) {
    AppendEnum(out, type, kTypes, nullptr);
    any = true;
  }
  static constexpr struct { uint32_t bit; const char* name; } kBits[] = {
      {04000, "S_ISUID"}, {02000, "S_ISGID"}, {01000, "S_ISVTX"}};
  for (const auto& b : kBits) {
    if (mode & b.bit) {
      if (any) out->push_back('|');
      out->append(b.name);
      any = true;
    }
  }
  if (any) out->push_back('|');
  AppendOctalMode(out, mode & 0777);
}

void AppendWaitStatus(std::string* out, int32_t status) {
  uint32_t s = static_cast<uint32_t>(status);
  out->append("[{");
  if ((s & 0x7f) == 0) {
    out->append("WIFEXITED(s) && WEXITSTATUS(s) == ");
    out->append(std::to_string((s >> 8) & 0xff));
  } else if ((s & 0xff) == 0x7f) {
    out->append("WIFSTOPPED(s) && WSTOPSIG(s) == ");
    out->append(SignalName(static_cast<int>((s >> 8) & 0xff)));
  } else if (s == 0xffff) {
    out->append("WIFCONTINUED(s)");
  } else {
    out->append("WIFSIGNALED(s) && WTERMSIG(s) == ");
    out->append(SignalName(static_cast<int>(s & 0x7f)));
    if (s & 0x80) out->append(" && WCOREDUMP(s)");
  }
  out->push_back('}');
  uint32_t event = s >> 16;
  if (event != 0 && (s & 0xff) == 0x7f) {
    static const char* const kEvents[] = {nullptr, "PTRACE_EVENT_FORK", "PTRACE_EVENT_VFORK",
                                          "PTRACE_EVENT_CLONE", "PTRACE_EVENT_EXEC",
                                          "PTRACE_EVENT_VFORK_DONE", "PTRACE_EVENT_EXIT",
                                          "PTRACE_EVENT_SECCOMP"};
    out->append(" | ");
    if (event < 8 && kEvents[event] != nullptr) {
      out->append(kEvents[event]);
    } else if (event == 128) {
      out->append("PTRACE_EVENT_STOP");
    } else {
      char buf[16];
      std::snprintf(buf, sizeof buf, "%#x", event);
      out->append(buf);
    }
    out->append(" << 16");
  }
  out->push_back(']');
}

}  // namespace clonebot::trace::decode
