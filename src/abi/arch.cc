#include "abi/arch.h"

namespace clonebot::abi {

const char* ArchName(Arch arch) {
  switch (arch) {
    case Arch::kX86_64: return "x86_64";
    case Arch::kAarch64: return "aarch64";
    case Arch::kI386: return "i386";
    default: return "unknown";
  }
}

}  // namespace clonebot::abi
