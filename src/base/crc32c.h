// CRC32C (Castagnoli), as used by TracePipe chunks. Hardware (SSE4.2) when the CPU has it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace clonebot::base {

// Extends |crc| (start with 0) over |data|. Crc32c(0, "123456789", 9) == 0xE3069283.
uint32_t Crc32c(uint32_t crc, const void* data, size_t len);

}  // namespace clonebot::base
