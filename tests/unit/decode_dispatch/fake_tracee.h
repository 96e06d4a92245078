// Test doubles for the capture half of the decoder: a fake tracee address space and a payload
// sink that keeps payloads in vectors. Run() captures a syscall like the tracer would and
// returns strace's line for it (without the column padding): "name(args) = ret".
#pragma once

#include <sys/syscall.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "trace/decode/decode.h"

namespace clonebot::trace::decode::fake {

class FakeMemory : public TraceeMemory {
 public:
  // Maps |bytes| at a fresh address (0x10000 apart, starting at |base|) and returns it.
  uint64_t Put(const void* bytes, size_t len) {
    uint64_t addr = next_;
    next_ += 0x10000;
    auto& r = regions_[addr];
    r.assign(static_cast<const uint8_t*>(bytes), static_cast<const uint8_t*>(bytes) + len);
    return addr;
  }
  uint64_t PutStr(const std::string& s) { return Put(s.c_str(), s.size() + 1); }
  template <typename T>
  uint64_t PutObj(const T& v) { return Put(&v, sizeof v); }
  // Overwrites the bytes at |addr| (must be mapped), as the kernel would at exit.
  template <typename T>
  void Write(uint64_t addr, const T& v) { WriteBytes(addr, &v, sizeof v); }
  void WriteBytes(uint64_t addr, const void* p, size_t len) {
    for (auto& [base, r] : regions_) {
      if (addr >= base && addr + len <= base + r.size()) {
        std::memcpy(r.data() + (addr - base), p, len);
        return;
      }
    }
  }

  ssize_t Read(uint64_t addr, void* buf, size_t len) override {
    for (auto& [base, r] : regions_) {
      if (addr >= base && addr < base + r.size()) {
        size_t n = std::min<size_t>(len, base + r.size() - addr);
        std::memcpy(buf, r.data() + (addr - base), n);
        return static_cast<ssize_t>(n);
      }
    }
    return -1;
  }
  ssize_t ReadCString(uint64_t addr, char* buf, size_t max, bool* terminated) override {
    *terminated = false;
    for (auto& [base, r] : regions_) {
      if (addr >= base && addr < base + r.size()) {
        size_t avail = base + r.size() - addr;
        size_t n = 0;
        while (n < max && n < avail) {
          char c = static_cast<char>(r[addr - base + n]);
          if (c == '\0') {
            *terminated = true;
            return static_cast<ssize_t>(n);
          }
          buf[n++] = c;
        }
        return static_cast<ssize_t>(n);
      }
    }
    return -1;
  }

 private:
  std::map<uint64_t, std::vector<uint8_t>> regions_;
  uint64_t next_ = 0x7ffd0000;
};

class VectorSink : public PayloadSink {
 public:
  struct Item {
    uint16_t tag;
    uint16_t flags;
    std::vector<uint8_t> bytes;
  };
  uint8_t* Begin(uint16_t tag, uint32_t max_len) override {
    items_.push_back({tag, 0, std::vector<uint8_t>(max_len + 1)});
    return items_.back().bytes.data();
  }
  void Commit(uint32_t len, uint16_t flags) override {
    items_.back().bytes.resize(len);
    items_.back().flags = flags;
  }
  std::vector<Payload> Payloads() const {
    std::vector<Payload> out;
    for (const Item& i : items_) out.push_back({i.tag, i.flags, i.bytes});
    return out;
  }
  std::vector<Item> items_;
};

struct Call {
  uint32_t nr;
  std::vector<uint64_t> args;
  int64_t ret = 0;
  bool has_exit = true;
  uint32_t strsize = 32;
  uint64_t sp = 0;
  std::function<void(FakeMemory&)> kernel;  // runs between entry and exit capture
};

inline Decoded CaptureAndDecode(FakeMemory& mem, const Call& c,
                                abi::Arch arch = abi::Arch::kX86_64) {
  CaptureContext ctx{};
  ctx.arch = arch;
  ctx.nr = c.nr;
  for (size_t i = 0; i < c.args.size() && i < 6; ++i) ctx.args[i] = c.args[i];
  ctx.strsize = c.strsize;
  ctx.stack_pointer = c.sp;
  VectorSink entry, exit;
  CaptureEntry(ctx, mem, entry);
  ctx.ret = c.ret;
  if (c.kernel) c.kernel(mem);
  if (c.has_exit) CaptureExit(ctx, mem, exit);
  std::vector<Payload> ep = entry.Payloads(), xp = exit.Payloads();
  SyscallView v{};
  v.arch = arch;
  v.nr = c.nr;
  for (int i = 0; i < 6; ++i) v.args[i] = ctx.args[i];
  v.has_exit = c.has_exit;
  v.ret = c.ret;
  v.strsize = c.strsize;
  v.entry_payloads = ep;
  v.exit_payloads = xp;
  Decoded d;
  Decode(v, &d);
  return d;  // payload spans are not kept in Decoded
}

inline std::string Line(abi::Arch arch, uint32_t nr, const Decoded& d) {
  std::string s = SyscallName(arch, nr) + "(";
  for (size_t i = 0; i < d.args.size(); ++i) {
    if (i > 0) s += ", ";
    s += d.args[i];
  }
  s += ") = " + d.ret;
  return s;
}

inline std::string Strace(FakeMemory& mem, const Call& c) {
  return Line(abi::Arch::kX86_64, c.nr, CaptureAndDecode(mem, c));
}

}  // namespace clonebot::trace::decode::fake
