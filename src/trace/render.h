// Rendering a TracePipe file: strace -f text, JSON lines, an strace -c style summary, and a
// Perfetto (Chrome trace-event JSON) timeline. Decoding to text happens here, never in the
// tracer.
#pragma once

#include <cstdio>

#include "absl/status/status.h"
#include "trace/tracepipe.h"

namespace clonebot::trace {

enum class ShowFormat { kText, kJsonl, kSummary, kPerfetto };

struct ShowOptions {
  ShowFormat format = ShowFormat::kText;
  // Text: prefix lines with the wall-clock time (strace -tt) and append <duration> (-T).
  bool timestamps = false;
  bool durations = false;
  // Lower the string limit below what was recorded (0: as recorded).
  uint32_t strsize = 0;
};

// Writes |reader|'s records to |out|. Returns an error for a corrupt trace (after printing what
// could be read). A trace cut short (writer killed) is not an error: reader.cut() says so.
absl::Status RenderTrace(TraceReader& reader, const ShowOptions& opts, FILE* out);

}  // namespace clonebot::trace
