// Private helpers shared by the struct formatters (structs*.cc, signals.cc). Not part of the
// decoder's API.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "trace/decode/primitives.h"

namespace clonebot::trace::decode::internal {

template <typename T>
T Ld(std::span<const uint8_t> b, size_t off) {
  T v{};
  if (off + sizeof(T) <= b.size()) std::memcpy(&v, b.data() + off, sizeof(T));
  return v;
}

void AppendU(std::string* out, uint64_t v);
void AppendD(std::string* out, int64_t v);
// "%#x" style used by PRINT_FIELD_X: 0 prints "0".
inline void AppendX(std::string* out, uint64_t v) { AppendHex(out, v); }
// strace's "name, or hex /* dflt */" for xval fields.
void AppendXval(std::string* out, uint64_t v, std::span<const FlagDef> defs, const char* dflt);
// sigset text for |bytes| (at most 8 used), e.g. "[INT TERM]", "~[]".
void AppendSigsetBytes(std::string* out, std::span<const uint8_t> bytes);
// strace's printsignal: "SIGINT", "SIGRT_3", or the number.
void AppendSignal(std::string* out, int64_t signo);
// print_symbolic_mode_t: "S_IFREG|0644".
void AppendSymbolicMode(std::string* out, uint32_t mode);

}  // namespace clonebot::trace::decode::internal
