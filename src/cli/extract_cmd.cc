// clonebot extract: the bytes of an address range as they were at a snapshot.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "cli/commands.h"
#include "snapshot/chain.h"

namespace clonebot::cli {
// Named, not anonymous: the command files are compiled together (a unity build, see
// CMakeLists.txt), and each has its own Fail and flags.
namespace extract_cmd {

struct ExtractFlags {
  std::string image;
  std::string addr;
  std::string len;
  std::string out = "-";
};

int Fail(const std::string& msg, int code = 1) { return cli::Fail("extract", msg, code); }

bool ParseNumber(const std::string& s, uint64_t* v) {
  if (s.rfind("0x", 0) == 0 || s.rfind("0X", 0) == 0) return absl::SimpleHexAtoi(s.substr(2), v);
  return absl::SimpleAtoi(s, v);
}

int RunExtract(const ExtractFlags& f) {
  uint64_t addr, len;
  if (!ParseNumber(f.addr, &addr)) return Fail("--addr '" + f.addr + "' is not a number (0x… or decimal)", 2);
  if (!ParseNumber(f.len, &len)) return Fail("--len '" + f.len + "' is not a number", 2);
  if (len > (1ull << 40)) return Fail("--len is larger than 1 TiB", 2);
  auto chain = snapshot::Chain::Open(f.image);
  if (!chain.ok()) return Fail(std::string(chain.status().message()));
  auto bytes = (*chain)->Extract(addr, len);
  if (!bytes.ok()) return Fail(std::string(bytes.status().message()));
  int fd = STDOUT_FILENO;
  std::string tmp;
  if (f.out != "-") {
    tmp = f.out + ".partial";
    fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Fail("cannot create " + tmp + ": " + strerror(errno));
  }
  const uint8_t* p = bytes->data();
  size_t left = bytes->size();
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      if (!tmp.empty()) unlink(tmp.c_str());
      return Fail(std::string("write: ") + strerror(err));
    }
    p += n;
    left -= n;
  }
  if (!tmp.empty()) {
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp.c_str(), f.out.c_str()) != 0) {
      int err = errno;
      unlink(tmp.c_str());
      return Fail("cannot write " + f.out + ": " + strerror(err));
    }
  }
  return 0;
}

}  // namespace extract_cmd

RunFn RegisterExtract(CLI::App& app) {
  using namespace extract_cmd;
  auto f = std::make_shared<ExtractFlags>();
  CLI::App* sub = app.add_subcommand("extract", "Write the bytes of an address range as of a snapshot");
  sub->add_option("image", f->image, "Snapshot image directory")->required();
  sub->add_option("--addr", f->addr, "Start address (0x… or decimal)")->required();
  sub->add_option("--len", f->len, "Number of bytes")->required();
  sub->add_option("-o,--output", f->out, "Output file (default: standard output)");
  return [f] { return RunExtract(*f); };
}

}  // namespace clonebot::cli
