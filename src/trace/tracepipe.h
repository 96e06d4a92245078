// TracePipe (.cbt) files: a versioned header, then checksummed chunks of event records
// (trace/record.h). Byte layout: docs/formats/tracepipe.md.
//
// Writer: the tracer thread appends records into an in-memory chunk; a writer thread compresses,
// checksums and writes full chunks, so the tracer never formats text and never waits on the disk
// (unless the disk falls more than kMaxQueuedBytes behind). A chunk that has waited
// kFlushInterval is written even if not full, so a killed tracer loses at most that much.
//
// Reader: maps the file and walks records in place; compressed chunks are inflated once into a
// reusable buffer. A file cut short (writer killed) reads back every complete chunk and reports
// the cut; a corrupt or foreign file is an error naming the offset.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "abi/arch.h"
#include "base/unique_fd.h"
#include "trace/decode/decode.h"
#include "trace/record.h"

namespace clonebot::trace {

inline constexpr char kFileMagic[8] = {'C', 'B', 'T', 'R', 'A', 'C', 'E', '\0'};
inline constexpr uint16_t kFormatMajor = 1;  // readers reject other majors
inline constexpr uint16_t kFormatMinor = 0;  // readers accept newer minors (append-only changes)
inline constexpr uint32_t kChunkMagic = 0x4b434243;  // "CBCK"

// Header flags.
enum : uint32_t {
  kHeaderSeccompFilter = 1,  // the spawned command ran under a RET_TRACE prefilter
  kHeaderAttached = 2,       // processes were attached with -p
};

// Chunk flags.
enum : uint32_t {
  kChunkZstd = 1,  // payload is one zstd frame of raw_len bytes
  kChunkEnd = 2,   // the last chunk of a trace closed cleanly; payload is an EndRecord
};

struct FileHeaderFixed {
  char magic[8];
  uint16_t major;
  uint16_t minor;
  uint32_t header_size;   // whole header incl. strings and trailing CRC, multiple of 8
  uint16_t arch;          // abi::Arch of the tracer
  uint16_t reserved;
  uint32_t flags;
  uint32_t strsize;       // -s used when capturing
  uint32_t tracer_pid;
  uint64_t mono_base_ns;  // CLOCK_MONOTONIC at start ...
  uint64_t real_base_ns;  // ... and CLOCK_REALTIME at the same instant
  uint32_t nstrings;      // length-prefixed strings that follow (see HeaderInfo)
  uint32_t reserved2;
};
static_assert(sizeof(FileHeaderFixed) == 56);

struct ChunkHeader {
  uint32_t magic;       // kChunkMagic
  uint32_t flags;
  uint32_t stored_len;  // bytes after this header (before padding to 8)
  uint32_t raw_len;     // bytes of records once inflated
  uint32_t nrecords;
  uint32_t crc;         // CRC32C of the stored bytes
  uint64_t first_ts_ns;
};
static_assert(sizeof(ChunkHeader) == 32);

struct TraceEnd {
  uint64_t records;      // records written in the whole trace
  uint64_t chunks;       // data chunks before this one
  uint64_t end_ts_ns;
};

// What a trace says about itself.
struct HeaderInfo {
  abi::Arch arch = abi::kNativeArch;
  uint32_t flags = 0;
  uint32_t strsize = 32;
  uint32_t tracer_pid = 0;
  uint64_t mono_base_ns = 0;
  uint64_t real_base_ns = 0;
  // Strings, stored in this order; readers ignore extra trailing strings.
  std::string kernel;                // uname -r
  std::string hostname;
  std::vector<std::string> command;  // argv of the spawned command (empty if attached)
  std::string filter;                // the -e trace= expression, "" for all
  std::vector<uint32_t> attached;    // -p pids, stored as one decimal string "1 2 3"
};

struct WriterOptions {
  bool compress = true;
  int zstd_level = 1;
  size_t chunk_bytes = 1 << 20;
};

struct WriterStats {
  uint64_t records = 0;
  uint64_t chunks = 0;
  uint64_t raw_bytes = 0;     // record bytes before compression
  uint64_t file_bytes = 0;    // bytes written to the file
};

class TraceWriter final : public decode::PayloadSink {
 public:
  // Creates |path| (truncating it) and writes the header.
  static absl::StatusOr<std::unique_ptr<TraceWriter>> Create(const std::string& path,
                                                             const HeaderInfo& info,
                                                             const WriterOptions& opts);
  // The same on an open, empty, writable file (`clonebot run --trace` hands one into the sandbox,
  // where the path may not be visible). Takes ownership of |fd|.
  static absl::StatusOr<std::unique_ptr<TraceWriter>> CreateOnFd(base::UniqueFd fd, const HeaderInfo& info,
                                                                 const WriterOptions& opts);
  ~TraceWriter() override;

  // Record building, on the tracer thread only. Between BeginRecord and EndRecord the writer
  // thread cannot take the chunk. BeginRecord returns zeroed space for the fixed part of a record
  // of |fixed_size| bytes with the EventHead's ts_ns set (size and flags are filled by
  // EndRecord); payloads may follow via Begin/Commit.
  uint8_t* BeginRecord(RecordType type, uint32_t fixed_size, uint64_t ts_ns);
  // Finishes the record: fills size/type, counts payloads into *npayloads if given.
  void EndRecord(uint16_t flags = 0);
  // Number of payloads committed in the open record.
  uint16_t open_payloads() const { return open_payloads_; }
  // The fixed part of the open record (it may move when a payload forces a new chunk).
  uint8_t* open_record() { return cur_->data.get() + open_off_; }

  // decode::PayloadSink
  uint8_t* Begin(uint16_t tag, uint32_t max_len) override;
  void Commit(uint32_t len, uint16_t flags) override;

  // Flushes everything, writes the end chunk, fsyncs and closes. Call once.
  absl::Status Close();
  WriterStats stats() const;

 private:
  struct Chunk {
    std::unique_ptr<uint8_t[]> data;
    size_t cap = 0;
    size_t used = 0;
    uint32_t nrecords = 0;
    uint64_t first_ts = 0;
    uint64_t started_ns = 0;  // monotonic time of the first record, for timed flushes
  };

  TraceWriter(base::UniqueFd fd, const WriterOptions& opts);
  std::unique_ptr<Chunk> NewChunk(size_t min_cap);
  // Makes room for |n| more bytes in the open record, moving it to a new chunk if needed.
  void Ensure(size_t n);
  void QueueCurrentLocked(std::unique_lock<std::mutex>& lk);
  void WriterLoop();
  absl::Status WriteChunk(Chunk& c, uint32_t flags);

  base::UniqueFd fd_;
  WriterOptions opts_;

  // Guards cur_ while a record is open; the writer thread takes cur_ after kFlushInterval.
  std::mutex cur_mu_;
  std::unique_ptr<Chunk> cur_;
  size_t open_off_ = 0;        // offset of the open record in cur_
  uint16_t open_payloads_ = 0;
  size_t payload_off_ = 0;     // offset of the open payload header
  uint64_t open_ts_ = 0;

  // Queue of full chunks and free list, guarded by q_mu_.
  std::mutex q_mu_;
  std::condition_variable q_cv_;      // writer waits for work
  std::condition_variable space_cv_;  // tracer waits when too far ahead
  std::deque<std::unique_ptr<Chunk>> queue_;
  std::vector<std::unique_ptr<Chunk>> free_;
  size_t queued_bytes_ = 0;
  bool closing_ = false;
  absl::Status write_status_;
  WriterStats stats_;
  uint64_t records_total_ = 0;

  std::thread thread_;
  void* zctx_ = nullptr;  // ZSTD_CCtx*, writer thread only
  std::vector<uint8_t> zbuf_;
};

// A record as the reader returns it: points into the mapped file or the inflate buffer, valid
// until the next call to Next().
struct RecordRef {
  const RecordHeader* hdr;
  RecordType type() const { return static_cast<RecordType>(hdr->type); }
  template <typename T>
  const T* as() const { return hdr->size >= sizeof(T) ? reinterpret_cast<const T*>(hdr) : nullptr; }
};

// Parses the payloads that follow a syscall record's fixed part into |out|.
void ParsePayloads(const RecordHeader* hdr, size_t fixed_size, uint16_t npayloads,
                   std::vector<decode::Payload>* out);

class TraceReader {
 public:
  static absl::StatusOr<std::unique_ptr<TraceReader>> Open(const std::string& path);
  ~TraceReader();

  const HeaderInfo& header() const { return info_; }

  // Advances to the next record. Returns false at the end of the data. A corrupt chunk in the
  // middle of the file makes status() non-OK; a missing end chunk (writer killed) sets cut().
  bool Next(RecordRef* rec);
  const absl::Status& status() const { return status_; }
  // Non-empty when the trace did not end cleanly: a sentence saying where it was cut.
  const std::string& cut() const { return cut_; }
  uint64_t chunks_read() const { return chunks_read_; }
  uint64_t file_size() const { return size_; }

 private:
  TraceReader() = default;
  bool LoadChunk();

  const uint8_t* map_ = nullptr;
  size_t size_ = 0;
  size_t off_ = 0;          // next chunk offset
  HeaderInfo info_;
  std::vector<uint8_t> inflate_;
  const uint8_t* chunk_data_ = nullptr;
  size_t chunk_len_ = 0;
  size_t chunk_pos_ = 0;
  uint64_t chunks_read_ = 0;
  bool ended_ = false;
  absl::Status status_;
  std::string cut_;
  void* dctx_ = nullptr;
};

}  // namespace clonebot::trace
