#include "trace/tracepipe.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace clonebot::trace {
namespace {

std::string TempPath(const char* name) {
  return std::string(testing::TempDir()) + "/" + name + "." + std::to_string(getpid()) + ".cbt";
}

HeaderInfo Header() {
  HeaderInfo h;
  h.strsize = 64;
  h.tracer_pid = 4242;
  h.mono_base_ns = 1000;
  h.real_base_ns = 2000;
  h.kernel = "6.18.0";
  h.hostname = "box";
  h.command = {"ls", "-l", "/"};
  h.filter = "trace=%file";
  return h;
}

// Writes |n| syscall pairs, each entry with one payload of |i % 50| bytes.
void WriteEvents(TraceWriter& w, int n) {
  for (int i = 0; i < n; i++) {
    auto* e = reinterpret_cast<SyscallEnterRecord*>(
        w.BeginRecord(RecordType::kSyscallEnter, sizeof(SyscallEnterRecord), 10 + 2 * i));
    e->head.tid = 100 + i % 3;
    e->head.pid = 100;
    e->nr = static_cast<uint32_t>(i % 300);
    e->args[0] = static_cast<uint64_t>(i);
    uint32_t len = static_cast<uint32_t>(i % 50);
    uint8_t* p = w.Begin(7, len);
    memset(p, 'a' + i % 26, len);
    w.Commit(len, i % 2 ? kPayloadTruncated : 0);
    reinterpret_cast<SyscallEnterRecord*>(w.open_record())->npayloads = w.open_payloads();
    w.EndRecord();
    auto* x = reinterpret_cast<SyscallExitRecord*>(
        w.BeginRecord(RecordType::kSyscallExit, sizeof(SyscallExitRecord), 11 + 2 * i));
    x->head.tid = 100 + i % 3;
    x->ret = -i;
    w.EndRecord();
  }
}

void CheckEvents(TraceReader& r, int n) {
  RecordRef rec;
  std::vector<decode::Payload> pl;
  for (int i = 0; i < n; i++) {
    ASSERT_TRUE(r.Next(&rec)) << i;
    ASSERT_EQ(rec.type(), RecordType::kSyscallEnter);
    auto* e = rec.as<SyscallEnterRecord>();
    EXPECT_EQ(e->head.ts_ns, static_cast<uint64_t>(10 + 2 * i));
    EXPECT_EQ(e->nr, static_cast<uint32_t>(i % 300));
    EXPECT_EQ(e->args[0], static_cast<uint64_t>(i));
    ASSERT_EQ(e->npayloads, 1);
    ParsePayloads(rec.hdr, sizeof(SyscallEnterRecord), e->npayloads, &pl);
    ASSERT_EQ(pl.size(), 1u);
    EXPECT_EQ(pl[0].tag, 7);
    EXPECT_EQ(pl[0].data.size(), static_cast<size_t>(i % 50));
    EXPECT_EQ(pl[0].flags, i % 2 ? kPayloadTruncated : 0);
    for (uint8_t c : pl[0].data) ASSERT_EQ(c, 'a' + i % 26);
    ASSERT_TRUE(r.Next(&rec));
    ASSERT_EQ(rec.type(), RecordType::kSyscallExit);
    EXPECT_EQ(rec.as<SyscallExitRecord>()->ret, -i);
  }
}

class TracePipeTest : public testing::TestWithParam<bool> {};

TEST_P(TracePipeTest, RoundTrip) {
  std::string path = TempPath("rt");
  WriterOptions wo;
  wo.compress = GetParam();
  wo.chunk_bytes = 4096;  // many chunks, and records that force a chunk switch mid-record
  {
    auto w = TraceWriter::Create(path, Header(), wo);
    ASSERT_TRUE(w.ok()) << w.status();
    WriteEvents(**w, 5000);
    ASSERT_TRUE((*w)->Close().ok());
    EXPECT_EQ((*w)->stats().records, 10000u);
  }
  auto r = TraceReader::Open(path);
  ASSERT_TRUE(r.ok()) << r.status();
  const HeaderInfo& h = (*r)->header();
  EXPECT_EQ(h.strsize, 64u);
  EXPECT_EQ(h.kernel, "6.18.0");
  EXPECT_EQ(h.hostname, "box");
  EXPECT_EQ(h.command, (std::vector<std::string>{"ls", "-l", "/"}));
  EXPECT_EQ(h.filter, "trace=%file");
  CheckEvents(**r, 5000);
  RecordRef rec;
  EXPECT_FALSE((*r)->Next(&rec));
  EXPECT_TRUE((*r)->status().ok());
  EXPECT_EQ((*r)->cut(), "");
  EXPECT_GT((*r)->chunks_read(), 10u);
  unlink(path.c_str());
}

INSTANTIATE_TEST_SUITE_P(Compression, TracePipeTest, testing::Bool());

TEST(TracePipe, CutFileReadsCompleteChunks) {
  std::string path = TempPath("cut");
  WriterOptions wo;
  wo.chunk_bytes = 4096;
  {
    auto w = TraceWriter::Create(path, Header(), wo);
    ASSERT_TRUE(w.ok());
    WriteEvents(**w, 2000);
    ASSERT_TRUE((*w)->Close().ok());
  }
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  // Drop the end chunk and half of the last data chunk, as a SIGKILL mid-write would.
  ASSERT_EQ(truncate(path.c_str(), st.st_size - 600), 0);
  auto r = TraceReader::Open(path);
  ASSERT_TRUE(r.ok());
  RecordRef rec;
  int n = 0;
  while ((*r)->Next(&rec)) n++;
  EXPECT_TRUE((*r)->status().ok());
  EXPECT_NE((*r)->cut(), "");
  EXPECT_GT(n, 1000);
  EXPECT_LT(n, 4000);
  unlink(path.c_str());
}

TEST(TracePipe, CorruptChunkIsAnError) {
  std::string path = TempPath("corrupt");
  WriterOptions wo;
  wo.compress = false;
  {
    auto w = TraceWriter::Create(path, Header(), wo);
    ASSERT_TRUE(w.ok());
    WriteEvents(**w, 100);
    ASSERT_TRUE((*w)->Close().ok());
  }
  int fd = open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  char c = 'X';
  ASSERT_EQ(pwrite(fd, &c, 1, 400), 1);  // inside the first chunk's records
  close(fd);
  auto r = TraceReader::Open(path);
  ASSERT_TRUE(r.ok());
  RecordRef rec;
  while ((*r)->Next(&rec)) {
  }
  EXPECT_FALSE((*r)->status().ok());
  EXPECT_NE(std::string((*r)->status().message()).find("checksum"), std::string::npos);
  unlink(path.c_str());
}

TEST(TracePipe, ForeignFileIsRejected) {
  std::string path = TempPath("foreign");
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::string junk(200, 'z');
  ASSERT_EQ(write(fd, junk.data(), junk.size()), 200);
  close(fd);
  auto r = TraceReader::Open(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("not a clonebot trace"), std::string::npos);
  unlink(path.c_str());
  EXPECT_FALSE(TraceReader::Open("/nonexistent/x.cbt").ok());
}

TEST(TracePipe, HeaderCorruptionIsDetected) {
  std::string path = TempPath("hdr");
  {
    auto w = TraceWriter::Create(path, Header(), WriterOptions{});
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Close().ok());
  }
  int fd = open(path.c_str(), O_RDWR);
  char c = 'Q';
  ASSERT_EQ(pwrite(fd, &c, 1, 60), 1);  // inside the header strings
  close(fd);
  auto r = TraceReader::Open(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("header"), std::string::npos);
  unlink(path.c_str());
}

}  // namespace
}  // namespace clonebot::trace
