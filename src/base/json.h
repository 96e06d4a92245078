// Minimal JSON output helpers for streaming writers (jsonl, Perfetto), where building a DOM
// per record would dominate the cost.
#pragma once

#include <string>
#include <string_view>

namespace clonebot::base {

// Appends |s| as a JSON string literal (with quotes). Bytes that are not valid UTF-8 are
// escaped as \u00XX of the byte value so that the output is always valid JSON.
void AppendJsonString(std::string* out, std::string_view s);

}  // namespace clonebot::base
