// WebSocket (RFC 6455) client pieces for attaching to a browser that is already running, by the
// URL its DevTools endpoint prints (ws://HOST:PORT/devtools/browser/ID): the opening handshake
// over TCP, and the framing that Connection (cdp.h) uses on the socket. Text frames only carry
// DevTools JSON; a client masks what it sends, a server must not.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/unique_fd.h"
#include "web/cdp.h"

namespace clonebot::web {

struct WsUrl {
  std::string host;  // a name or an IPv4/IPv6 literal (without brackets)
  uint16_t port = 80;
  std::string path;  // starts with '/'
};

// ws://HOST[:PORT]/PATH. wss:// (TLS) is refused with a clear error: DevTools listens in clear.
absl::StatusOr<WsUrl> ParseWsUrl(std::string_view url);

// Connects over TCP and completes the opening handshake: checks the 101 status and the
// Sec-WebSocket-Accept value. Returns the blocking socket. Bytes read past the response's headers
// (frames the server sent at once) go to |leftover|.
absl::StatusOr<base::UniqueFd> WsConnect(const WsUrl& url, Ms timeout, std::string* leftover);

// The Sec-WebSocket-Accept a server must answer to |key|: base64(SHA-1(key + RFC GUID)).
std::string WsAcceptFor(std::string_view key);

enum WsOpcode : uint8_t { kWsContinuation = 0, kWsText = 1, kWsBinary = 2, kWsClose = 8, kWsPing = 9, kWsPong = 10 };

// One complete client frame (FIN set), masked with a fresh random key.
std::string WsEncodeFrame(uint8_t opcode, std::string_view payload);

struct WsFrameHeader {
  bool fin = false;
  uint8_t opcode = 0;
  bool masked = false;
  uint8_t mask[4] = {};
  uint64_t length = 0;      // payload bytes
  size_t header_size = 0;   // bytes before the payload
};

// Parses the frame header at |p| (|n| bytes available). Returns 1 and fills |h|, 0 if more bytes
// are needed, -1 if the header is invalid (reserved bits set, a length with its top bit set, a
// fragmented or oversized control frame).
int WsParseHeader(const uint8_t* p, size_t n, WsFrameHeader* h);

}  // namespace clonebot::web
