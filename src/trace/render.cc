#include "trace/render.h"

#include <sys/wait.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "abi/syscall_table.h"
#include "base/json.h"
#include "trace/decode/decode.h"
#include "trace/decode/primitives.h"

namespace clonebot::trace {
namespace {

constexpr uint32_t kNoSyscall = UINT32_MAX;

// One syscall being assembled from its entry and exit records. The entry is copied because the
// reader's buffer moves on at chunk boundaries.
struct Pending {
  std::vector<uint8_t> entry;  // the whole SyscallEnterRecord incl. payloads
  uint32_t prev_nr = kNoSyscall;  // the task's syscall before this one
  const SyscallEnterRecord* rec() const {
    return reinterpret_cast<const SyscallEnterRecord*>(entry.data());
  }
};

// Everything the formats share: pairing entries with exits and decoding them.
class Assembler {
 public:
  explicit Assembler(const ShowOptions& o, const HeaderInfo& h)
      : strsize_(o.strsize ? std::min(o.strsize, h.strsize) : h.strsize) {}

  Pending& Begin(const RecordRef& r) {
    const uint32_t tid = reinterpret_cast<const EventHead*>(r.hdr)->tid;
    Pending& p = pending_[tid];
    // The task's previous syscall: what a restart_syscall resumes.
    auto last = last_nr_.try_emplace(tid, kNoSyscall).first;
    p.prev_nr = last->second;
    last->second = reinterpret_cast<const SyscallEnterRecord*>(r.hdr)->nr;
    p.entry.assign(reinterpret_cast<const uint8_t*>(r.hdr),
                   reinterpret_cast<const uint8_t*>(r.hdr) + r.hdr->size);
    return p;
  }
  Pending* Find(uint32_t tid) {
    auto it = pending_.find(tid);
    return it == pending_.end() ? nullptr : &it->second;
  }
  void Erase(uint32_t tid) { pending_.erase(tid); }
  // An exit seen without its entry (the task was attached inside it): remembered only as the
  // task's previous syscall, which a following restart_syscall resumes.
  void NoteOrphanExit(const SyscallExitRecord* x) { last_nr_[x->head.tid] = x->nr; }
  absl::flat_hash_map<uint32_t, Pending>& all() { return pending_; }

  // Decodes |p| with its exit |x| (nullptr: never returned).
  const decode::Decoded& Decode(const Pending& p, const SyscallExitRecord* x) {
    const SyscallEnterRecord* e = p.rec();
    ParsePayloads(&e->head.hdr, sizeof(SyscallEnterRecord), e->npayloads, &entry_pl_);
    if (x) {
      ParsePayloads(&x->head.hdr, sizeof(SyscallExitRecord), x->npayloads, &exit_pl_);
    } else {
      exit_pl_.clear();
    }
    decode::SyscallView v{};
    v.arch = static_cast<abi::Arch>(e->arch);
    v.nr = e->nr;
    memcpy(v.args, e->args, sizeof v.args);
    v.has_exit = x != nullptr;
    v.ret = x ? x->ret : 0;
    v.strsize = strsize_;
    v.entry_payloads = entry_pl_;
    v.exit_payloads = exit_pl_;
    decode::Decode(v, &dec_);
    // restart_syscall names what it resumes: per-task history that only the reader has.
    if (dec_.args.empty() && abi::LookupSyscall(v.arch, v.nr) == restart_syscall_) {
      dec_.args.push_back(p.prev_nr == kNoSyscall
                              ? std::string("<... resuming interrupted system call ...>")
                              : "<... resuming interrupted " + decode::SyscallName(v.arch, p.prev_nr) + " ...>");
      dec_.entry_args = 1;
    }
    return dec_;
  }

  std::string Name(const SyscallEnterRecord* e) {
    return decode::SyscallName(static_cast<abi::Arch>(e->arch), e->nr);
  }

 private:
  uint32_t strsize_;
  const abi::SyscallDesc* const restart_syscall_ = abi::LookupSyscall("restart_syscall");
  absl::flat_hash_map<uint32_t, Pending> pending_;
  absl::flat_hash_map<uint32_t, uint32_t> last_nr_;
  std::vector<decode::Payload> entry_pl_, exit_pl_;
  decode::Decoded dec_;
};

void JoinArgs(std::string* out, const std::vector<std::string>& args, size_t from, size_t to) {
  for (size_t i = from; i < to; i++) {
    if (i > from) out->append(", ");
    out->append(args[i]);
  }
}

std::string ExitText(const ExitRecord* x) {
  int st = x->wait_status;
  if (WIFEXITED(st)) return absl::StrCat("+++ exited with ", WEXITSTATUS(st), " +++");
  return absl::StrCat("+++ killed by ", decode::SignalName(WTERMSIG(st)),
                      (x->flags & 1) ? " (core dumped)" : "", " +++");
}

std::span<const uint8_t> SiginfoBytes(const SignalRecord* s) {
  if (s->siginfo_len == 0) return {};
  const auto* base = reinterpret_cast<const uint8_t*>(s) + sizeof(SignalRecord);
  PayloadHeader ph;
  memcpy(&ph, base, sizeof ph);
  if (sizeof(SignalRecord) + sizeof ph + ph.len > s->head.hdr.size) return {};
  return {base + sizeof ph, ph.len};
}

// ------------------------------------------------------------------------------ text

class TextRenderer {
 public:
  TextRenderer(const ShowOptions& o, const HeaderInfo& h, FILE* out)
      : o_(o), h_(h), out_(out), asm_(o, h) {}

  void OnRecord(const RecordRef& r) {
    switch (r.type()) {
      case RecordType::kSyscallEnter: {
        auto* e = r.as<SyscallEnterRecord>();
        if (!e) return;
        Interrupt();
        Pending& p = asm_.Begin(r);
        const auto& d = asm_.Decode(p, nullptr);
        StartLine(e->head);
        line_ += asm_.Name(e);
        line_ += '(';
        JoinArgs(&line_, d.args, 0, d.entry_args);
        if (d.entry_args > 0 && d.entry_args < d.args.size() && !d.sep_on_resume) line_ += ", ";
        open_tid_ = e->head.tid;
        break;
      }
      case RecordType::kSyscallExit: {
        auto* x = r.as<SyscallExitRecord>();
        if (!x) return;
        Pending* p = asm_.Find(x->head.tid);
        if (!p) {  // exit without entry (attached mid-syscall)
          asm_.NoteOrphanExit(x);
          return;
        }
        const auto& d = asm_.Decode(*p, x);
        if (open_tid_ != x->head.tid) {
          Interrupt();
          StartLine(x->head);
          absl::StrAppend(&line_, "<... ", asm_.Name(p->rec()), " resumed>");
        }
        // What strace prints only once the call returned: the tail of the last entry argument
        // (clone3's " => {parent_tid=[N]}"), then the exit arguments.
        if (d.entry_tail > 0 && d.entry_args > 0) {
          const std::string& last = d.args[d.entry_args - 1];
          line_.append(last, last.size() - std::min(d.entry_tail, last.size()), std::string::npos);
        }
        if (d.sep_on_resume && d.entry_args > 0 && d.entry_args < d.args.size()) line_ += ", ";
        JoinArgs(&line_, d.args, d.entry_args, d.args.size());
        FinishCall(d.ret, x->head.ts_ns - p->rec()->head.ts_ns);
        asm_.Erase(x->head.tid);
        break;
      }
      case RecordType::kSignal: {
        auto* s = r.as<SignalRecord>();
        if (!s) return;
        Interrupt();
        StartLine(s->head);
        if (s->head.hdr.flags & 1) {
          absl::StrAppend(&line_, "--- stopped by ", decode::SignalName(static_cast<int>(s->signo)), " ---");
        } else {
          absl::StrAppend(&line_, "--- ", decode::DecodeSignal(s->signo, SiginfoBytes(s)), " ---");
        }
        EndLine();
        break;
      }
      case RecordType::kExit: {
        auto* x = r.as<ExitRecord>();
        if (!x) return;
        if (Pending* p = asm_.Find(x->head.tid)) {
          // The task died inside a syscall (exit_group, or killed): strace prints "= ?".
          if (open_tid_ != x->head.tid) {
            Interrupt();
            StartLine(x->head);
            absl::StrAppend(&line_, "<... ", asm_.Name(p->rec()), " resumed>");
          }
          FinishCall("?", 0, /*no_duration=*/true);
          asm_.Erase(x->head.tid);
        }
        Interrupt();
        StartLine(x->head);
        line_ += ExitText(x);
        EndLine();
        break;
      }
      default:
        break;
    }
  }

  void Finish() {
    // Syscalls still open when the trace ended.
    Interrupt();
    Flush();
  }

 private:
  void StartLine(const EventHead& h) {
    line_.clear();
    absl::StrAppendFormat(&line_, "%-5u ", h.tid);
    if (o_.timestamps) {
      uint64_t real = h_.real_base_ns + (h.ts_ns - h_.mono_base_ns);
      time_t sec = static_cast<time_t>(real / 1000000000ull);
      tm t;
      localtime_r(&sec, &t);
      absl::StrAppendFormat(&line_, "%02d:%02d:%02d.%06u ", t.tm_hour, t.tm_min, t.tm_sec,
                            static_cast<unsigned>((real % 1000000000ull) / 1000));
    }
  }
  // A line left open at a syscall entry is closed as strace does when another event intervenes.
  void Interrupt() {
    if (open_tid_ == 0) return;
    line_ += " <unfinished ...>";
    EndLine();
  }
  void FinishCall(const std::string& ret, uint64_t dur_ns, bool no_duration = false) {
    line_ += ") ";
    if (line_.size() < 40) line_.append(40 - line_.size(), ' ');
    line_ += "= ";
    line_ += ret;
    if (o_.durations && !no_duration) {
      absl::StrAppendFormat(&line_, " <%u.%06u>", static_cast<unsigned>(dur_ns / 1000000000ull),
                            static_cast<unsigned>((dur_ns % 1000000000ull) / 1000));
    }
    EndLine();
  }
  void EndLine() {
    line_ += '\n';
    buf_ += line_;
    line_.clear();
    open_tid_ = 0;
    if (buf_.size() > (1 << 16)) Flush();
  }
  void Flush() {
    if (!line_.empty() && open_tid_ == 0) {
      buf_ += line_;
      line_.clear();
    }
    fwrite(buf_.data(), 1, buf_.size(), out_);
    buf_.clear();
  }

  const ShowOptions& o_;
  const HeaderInfo& h_;
  FILE* out_;
  Assembler asm_;
  std::string line_, buf_;
  uint32_t open_tid_ = 0;  // tid whose entry line is printed but not finished
};

// ------------------------------------------------------------------------------ jsonl

class JsonlRenderer {
 public:
  JsonlRenderer(const ShowOptions& o, const HeaderInfo& h, FILE* out)
      : h_(h), out_(out), asm_(o, h) {}

  void OnRecord(const RecordRef& r) {
    switch (r.type()) {
      case RecordType::kSyscallEnter:
        if (r.as<SyscallEnterRecord>()) asm_.Begin(r);
        break;
      case RecordType::kSyscallExit: {
        auto* x = r.as<SyscallExitRecord>();
        if (!x) return;
        if (Pending* p = asm_.Find(x->head.tid)) {
          Emit(*p, x);
          asm_.Erase(x->head.tid);
        } else {
          asm_.NoteOrphanExit(x);
        }
        break;
      }
      case RecordType::kSignal: {
        auto* s = r.as<SignalRecord>();
        if (!s) return;
        Head("signal", s->head);
        buf_ += ",\"signal\":";
        base::AppendJsonString(&buf_, decode::SignalName(static_cast<int>(s->signo)));
        buf_ += ",\"text\":";
        base::AppendJsonString(&buf_, (s->head.hdr.flags & 1)
                                          ? "stopped by " + decode::SignalName(static_cast<int>(s->signo))
                                          : decode::DecodeSignal(s->signo, SiginfoBytes(s)));
        End();
        break;
      }
      case RecordType::kExit: {
        auto* x = r.as<ExitRecord>();
        if (!x) return;
        if (Pending* p = asm_.Find(x->head.tid)) {
          Emit(*p, nullptr);
          asm_.Erase(x->head.tid);
        }
        Head("exit", x->head);
        int st = x->wait_status;
        if (WIFEXITED(st)) {
          absl::StrAppend(&buf_, ",\"status\":", WEXITSTATUS(st), ",\"signal\":null");
        } else {
          absl::StrAppend(&buf_, ",\"status\":null,\"signal\":");
          base::AppendJsonString(&buf_, decode::SignalName(WTERMSIG(st)));
          absl::StrAppend(&buf_, ",\"core_dumped\":", (x->flags & 1) ? "true" : "false");
        }
        End();
        break;
      }
      case RecordType::kFork: {
        auto* f = r.as<ForkRecord>();
        if (!f) return;
        Head("fork", f->head);
        absl::StrAppend(&buf_, ",\"child_tid\":", f->child_tid, ",\"child_pid\":", f->child_pid,
                        ",\"kind\":\"", f->kind == 1 ? "fork" : f->kind == 2 ? "vfork" : "clone",
                        "\"");
        End();
        break;
      }
      case RecordType::kExec: {
        auto* e = r.as<ExecRecord>();
        if (!e) return;
        Head("exec", e->head);
        absl::StrAppend(&buf_, ",\"former_tid\":", e->former_tid);
        End();
        break;
      }
      case RecordType::kAttach:
      case RecordType::kDetach: {
        auto* a = r.as<AttachRecord>();
        if (!a) return;
        Head(r.type() == RecordType::kAttach ? "attach" : "detach", a->head);
        End();
        break;
      }
    }
  }

  void Finish() {
    for (auto& [tid, p] : asm_.all()) Emit(p, nullptr);
    fwrite(buf_.data(), 1, buf_.size(), out_);
  }

 private:
  void Head(const char* type, const EventHead& h) {
    absl::StrAppend(&buf_, "{\"type\":\"", type, "\",\"ts_ns\":", h.ts_ns - h_.mono_base_ns,
                    ",\"pid\":", h.pid, ",\"tid\":", h.tid);
  }
  void End() {
    buf_ += "}\n";
    if (buf_.size() > (1 << 16)) {
      fwrite(buf_.data(), 1, buf_.size(), out_);
      buf_.clear();
    }
  }
  void Emit(const Pending& p, const SyscallExitRecord* x) {
    const SyscallEnterRecord* e = p.rec();
    const auto& d = asm_.Decode(p, x);
    Head("syscall", e->head);
    buf_ += ",\"name\":";
    base::AppendJsonString(&buf_, asm_.Name(e));
    buf_ += ",\"args\":[";
    for (size_t i = 0; i < d.args.size(); i++) {
      if (i) buf_ += ',';
      base::AppendJsonString(&buf_, d.args[i]);
    }
    buf_ += ']';
    if (x) {
      absl::StrAppend(&buf_, ",\"ret\":", x->ret, ",\"err\":");
      const char* err = x->ret < 0 && x->ret > -4096 ? decode::ErrnoName(static_cast<int>(-x->ret)) : nullptr;
      if (err) {
        base::AppendJsonString(&buf_, err);
      } else {
        buf_ += "null";
      }
      absl::StrAppend(&buf_, ",\"dur_ns\":", x->head.ts_ns - e->head.ts_ns);
    } else {
      buf_ += ",\"ret\":null,\"err\":null,\"dur_ns\":null";
    }
    buf_ += ",\"text\":";
    base::AppendJsonString(&buf_, d.ret);
    End();
  }

  const HeaderInfo& h_;
  FILE* out_;
  Assembler asm_;
  std::string buf_;
};

// ---------------------------------------------------------------------------- summary

class SummaryRenderer {
 public:
  SummaryRenderer(const ShowOptions&, const HeaderInfo&, FILE* out) : out_(out) {}

  void OnRecord(const RecordRef& r) {
    if (r.type() == RecordType::kSyscallEnter) {
      auto* e = r.as<SyscallEnterRecord>();
      if (!e) return;
      open_[e->head.tid] = {e->nr, e->arch, e->head.ts_ns};
    } else if (r.type() == RecordType::kSyscallExit) {
      auto* x = r.as<SyscallExitRecord>();
      if (!x) return;
      auto it = open_.find(x->head.tid);
      if (it == open_.end()) return;
      Stat& s = stats_[{it->second.arch, it->second.nr}];
      s.calls++;
      s.ns += x->head.ts_ns - it->second.ts;
      if (x->ret < 0 && x->ret > -4096) s.errors++;
      open_.erase(it);
    } else if (r.type() == RecordType::kExit) {
      auto* x = r.as<ExitRecord>();
      if (!x) return;
      auto it = open_.find(x->head.tid);
      if (it == open_.end()) return;
      stats_[{it->second.arch, it->second.nr}].calls++;  // e.g. exit_group: counted, no time
      open_.erase(it);
    }
  }

  void Finish() {
    for (auto& [tid, o] : open_) stats_[{o.arch, o.nr}].calls++;
    struct Row {
      std::string name;
      Stat s;
    };
    std::vector<Row> rows;
    Stat total;
    for (auto& [k, s] : stats_) {
      rows.push_back({decode::SyscallName(static_cast<abi::Arch>(k.first), k.second), s});
      total.calls += s.calls;
      total.errors += s.errors;
      total.ns += s.ns;
    }
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
      if (a.s.ns != b.s.ns) return a.s.ns > b.s.ns;
      if (a.s.calls != b.s.calls) return a.s.calls > b.s.calls;
      return a.name < b.name;
    });
    std::string o;
    absl::StrAppendFormat(&o, "%6.6s %11.11s %11.11s %9.9s %9.9s %s\n", "% time", "seconds",
                          "usecs/call", "calls", "errors", "syscall");
    const char* rule = "------ ----------- ----------- --------- --------- ----------------\n";
    o += rule;
    auto line = [&](const std::string& name, const Stat& s) {
      double pct = total.ns ? 100.0 * static_cast<double>(s.ns) / static_cast<double>(total.ns) : 0;
      absl::StrAppendFormat(&o, "%6.2f %11.6f %11u %9u ", pct, static_cast<double>(s.ns) / 1e9,
                            s.calls ? static_cast<unsigned>(s.ns / 1000 / s.calls) : 0u, s.calls);
      if (s.errors) {
        absl::StrAppendFormat(&o, "%9u ", s.errors);
      } else {
        o += "          ";
      }
      o += name;
      o += '\n';
    };
    for (const Row& r : rows) line(r.name, r.s);
    o += rule;
    line("total", total);
    fwrite(o.data(), 1, o.size(), out_);
  }

 private:
  struct Open {
    uint32_t nr;
    uint16_t arch;
    uint64_t ts;
  };
  struct Stat {
    uint64_t calls = 0, errors = 0, ns = 0;
  };
  FILE* out_;
  absl::flat_hash_map<uint32_t, Open> open_;
  std::map<std::pair<uint16_t, uint32_t>, Stat> stats_;
};

// --------------------------------------------------------------------------- perfetto

// Chrome trace-event JSON (https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU):
// one complete event ("ph":"X") per syscall on its thread's track, instant events for signals,
// metadata naming processes and threads. Timestamps are microseconds since the trace began.
class PerfettoRenderer {
 public:
  PerfettoRenderer(const ShowOptions& o, const HeaderInfo& h, FILE* out)
      : h_(h), out_(out), asm_(o, h) {
    buf_ = "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n";
  }

  void OnRecord(const RecordRef& r) {
    switch (r.type()) {
      case RecordType::kSyscallEnter:
        if (auto* e = r.as<SyscallEnterRecord>()) {
          Track(e->head);
          asm_.Begin(r);
        }
        break;
      case RecordType::kSyscallExit:
        if (auto* x = r.as<SyscallExitRecord>()) {
          if (Pending* p = asm_.Find(x->head.tid)) {
            Emit(*p, x, x->head.ts_ns);
            asm_.Erase(x->head.tid);
          }
        }
        break;
      case RecordType::kSignal:
        if (auto* s = r.as<SignalRecord>()) {
          Track(s->head);
          Sep();
          absl::StrAppendFormat(&buf_, "{\"name\":\"%s\",\"cat\":\"signal\",\"ph\":\"i\",\"s\":\"t\",\"ts\":%.3f,\"pid\":%u,\"tid\":%u}",
                                decode::SignalName(static_cast<int>(s->signo)), Us(s->head.ts_ns), s->head.pid, s->head.tid);
        }
        break;
      case RecordType::kExit:
        if (auto* x = r.as<ExitRecord>()) {
          if (Pending* p = asm_.Find(x->head.tid)) {
            Emit(*p, nullptr, x->head.ts_ns);
            asm_.Erase(x->head.tid);
          }
          Sep();
          buf_ += "{\"name\":";
          base::AppendJsonString(&buf_, ExitText(x));
          absl::StrAppendFormat(&buf_, ",\"cat\":\"process\",\"ph\":\"i\",\"s\":\"t\",\"ts\":%.3f,\"pid\":%u,\"tid\":%u}",
                                Us(x->head.ts_ns), x->head.pid, x->head.tid);
        }
        break;
      case RecordType::kExec:
        if (auto* e = r.as<ExecRecord>()) {
          Sep();
          absl::StrAppendFormat(&buf_, "{\"name\":\"execve\",\"cat\":\"process\",\"ph\":\"i\",\"s\":\"p\",\"ts\":%.3f,\"pid\":%u,\"tid\":%u}",
                                Us(e->head.ts_ns), e->head.pid, e->head.tid);
        }
        break;
      default:
        break;
    }
    if (buf_.size() > (1 << 16)) {
      fwrite(buf_.data(), 1, buf_.size(), out_);
      buf_.clear();
    }
  }

  void Finish() {
    for (auto& [tid, p] : asm_.all()) Emit(p, nullptr, last_ts_);
    buf_ += "\n]}\n";
    fwrite(buf_.data(), 1, buf_.size(), out_);
  }

 private:
  double Us(uint64_t ts) const {
    return static_cast<double>(ts - h_.mono_base_ns) / 1000.0;
  }
  void Sep() {
    if (!first_) buf_ += ",\n";
    first_ = false;
  }
  void Track(const EventHead& h) {
    last_ts_ = std::max(last_ts_, h.ts_ns);
    if (!seen_.emplace(h.tid, true).second) return;
    if (h.tid == h.pid) {
      Sep();
      absl::StrAppendFormat(&buf_, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%u,\"tid\":%u,\"args\":{\"name\":\"pid %u\"}}",
                            h.pid, h.tid, h.pid);
    }
    Sep();
    absl::StrAppendFormat(&buf_, "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%u,\"tid\":%u,\"args\":{\"name\":\"tid %u\"}}",
                          h.pid, h.tid, h.tid);
  }
  void Emit(const Pending& p, const SyscallExitRecord* x, uint64_t end) {
    const SyscallEnterRecord* e = p.rec();
    const auto& d = asm_.Decode(p, x);
    Sep();
    buf_ += "{\"name\":";
    base::AppendJsonString(&buf_, asm_.Name(e));
    absl::StrAppendFormat(&buf_, ",\"cat\":\"syscall\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,\"pid\":%u,\"tid\":%u,\"args\":{\"args\":",
                          Us(e->head.ts_ns), static_cast<double>(end - e->head.ts_ns) / 1000.0,
                          e->head.pid, e->head.tid);
    std::string joined;
    JoinArgs(&joined, d.args, 0, d.args.size());
    base::AppendJsonString(&buf_, joined);
    buf_ += ",\"ret\":";
    base::AppendJsonString(&buf_, d.ret);
    buf_ += "}}";
  }

  const HeaderInfo& h_;
  FILE* out_;
  Assembler asm_;
  std::string buf_;
  bool first_ = true;
  uint64_t last_ts_ = 0;
  absl::flat_hash_map<uint32_t, bool> seen_;
};

template <typename R>
absl::Status Drive(TraceReader& reader, R& r) {
  RecordRef rec;
  while (reader.Next(&rec)) r.OnRecord(rec);
  r.Finish();
  return reader.status();
}

}  // namespace

absl::Status RenderTrace(TraceReader& reader, const ShowOptions& opts, FILE* out) {
  const HeaderInfo& h = reader.header();
  switch (opts.format) {
    case ShowFormat::kText: {
      TextRenderer r(opts, h, out);
      return Drive(reader, r);
    }
    case ShowFormat::kJsonl: {
      JsonlRenderer r(opts, h, out);
      return Drive(reader, r);
    }
    case ShowFormat::kSummary: {
      SummaryRenderer r(opts, h, out);
      return Drive(reader, r);
    }
    case ShowFormat::kPerfetto: {
      PerfettoRenderer r(opts, h, out);
      return Drive(reader, r);
    }
  }
  return absl::OkStatus();
}

}  // namespace clonebot::trace
