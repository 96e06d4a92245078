#include "trace/tracepipe.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zstd.h>

#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/numbers.h"
#include "base/clock.h"
#include "base/crc32c.h"
#include "base/status.h"

namespace clonebot::trace {
namespace {

constexpr uint64_t kFlushIntervalNs = 100'000'000;  // a partial chunk waits at most 100 ms
constexpr size_t kMaxQueuedBytes = 64u << 20;       // tracer blocks beyond this backlog

absl::Status WriteAll(int fd, const void* data, size_t len) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (len > 0) {
    ssize_t n = ::write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return base::ErrnoError("write(trace)");
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

void PutString(std::string* out, std::string_view s) {
  uint32_t n = static_cast<uint32_t>(s.size());
  out->append(reinterpret_cast<const char*>(&n), 4);
  out->append(s);
}

std::string JoinArgv(const std::vector<std::string>& argv) {
  std::string s;
  for (size_t i = 0; i < argv.size(); i++) {
    if (i) s.push_back('\0');
    s += argv[i];
  }
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------------- writer

TraceWriter::TraceWriter(base::UniqueFd fd, const WriterOptions& opts)
    : fd_(std::move(fd)), opts_(opts) {}

absl::StatusOr<std::unique_ptr<TraceWriter>> TraceWriter::Create(const std::string& path,
                                                                  const HeaderInfo& info,
                                                                  const WriterOptions& opts) {
  base::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return base::ErrnoError("cannot create trace file %s", path);
  return CreateOnFd(std::move(fd), info, opts);
}

absl::StatusOr<std::unique_ptr<TraceWriter>> TraceWriter::CreateOnFd(base::UniqueFd fd, const HeaderInfo& info,
                                                                     const WriterOptions& opts) {
  std::string strings;
  PutString(&strings, info.kernel);
  PutString(&strings, info.hostname);
  PutString(&strings, JoinArgv(info.command));
  PutString(&strings, info.filter);
  PutString(&strings, absl::StrJoin(info.attached, " "));
  FileHeaderFixed h{};
  memcpy(h.magic, kFileMagic, 8);
  h.major = kFormatMajor;
  h.minor = kFormatMinor;
  h.arch = static_cast<uint16_t>(info.arch);
  h.flags = info.flags;
  h.strsize = info.strsize;
  h.tracer_pid = info.tracer_pid;
  h.mono_base_ns = info.mono_base_ns;
  h.real_base_ns = info.real_base_ns;
  h.nstrings = 5;
  size_t total = Align8(static_cast<uint32_t>(sizeof h + strings.size() + 4));
  h.header_size = static_cast<uint32_t>(total);
  std::string buf(reinterpret_cast<const char*>(&h), sizeof h);
  buf += strings;
  buf.resize(total - 4, '\0');
  uint32_t crc = base::Crc32c(0, buf.data(), buf.size());
  buf.append(reinterpret_cast<const char*>(&crc), 4);
  RETURN_IF_ERROR(WriteAll(fd.get(), buf.data(), buf.size()));

  std::unique_ptr<TraceWriter> w(new TraceWriter(std::move(fd), opts));
  w->stats_.file_bytes = buf.size();
  w->cur_ = w->NewChunk(opts.chunk_bytes);
  if (opts.compress) w->zctx_ = ZSTD_createCCtx();
  w->thread_ = std::thread([p = w.get()] { p->WriterLoop(); });
  return w;
}

TraceWriter::~TraceWriter() {
  if (thread_.joinable()) (void)Close();
  if (zctx_) ZSTD_freeCCtx(static_cast<ZSTD_CCtx*>(zctx_));
}

std::unique_ptr<TraceWriter::Chunk> TraceWriter::NewChunk(size_t min_cap) {
  {
    std::lock_guard lk(q_mu_);
    while (!free_.empty()) {
      auto c = std::move(free_.back());
      free_.pop_back();
      if (c->cap >= min_cap) {
        c->used = 0;
        c->nrecords = 0;
        c->first_ts = 0;
        c->started_ns = 0;
        return c;
      }
    }
  }
  auto c = std::make_unique<Chunk>();
  c->cap = std::max(min_cap, opts_.chunk_bytes);
  c->data.reset(new uint8_t[c->cap]);
  return c;
}

void TraceWriter::Ensure(size_t n) {
  Chunk& c = *cur_;
  if (c.used + n <= c.cap) return;
  // The open record moves to a fresh chunk; the records before it are queued.
  size_t rec_len = c.used - open_off_;
  auto fresh = NewChunk(rec_len + n + 4096);
  memcpy(fresh->data.get(), c.data.get() + open_off_, rec_len);
  payload_off_ -= open_off_;
  c.used = open_off_;
  fresh->used = rec_len;
  open_off_ = 0;
  std::unique_ptr<Chunk> old = std::move(cur_);
  cur_ = std::move(fresh);
  if (old->nrecords > 0) {
    std::unique_lock lk(q_mu_);
    queued_bytes_ += old->used;
    queue_.push_back(std::move(old));
    q_cv_.notify_one();
    space_cv_.wait(lk, [&] { return queued_bytes_ <= kMaxQueuedBytes || !write_status_.ok(); });
  } else {
    std::lock_guard lk(q_mu_);
    free_.push_back(std::move(old));
  }
}

uint8_t* TraceWriter::BeginRecord(RecordType type, uint32_t fixed_size, uint64_t ts_ns) {
  cur_mu_.lock();
  if (cur_->used + fixed_size > cur_->cap * 15 / 16 && cur_->nrecords > 0) {
    std::unique_lock lk(q_mu_);
    QueueCurrentLocked(lk);
  }
  open_off_ = cur_->used;
  open_payloads_ = 0;
  open_ts_ = ts_ns;
  Ensure(fixed_size);
  uint8_t* p = cur_->data.get() + open_off_;
  memset(p, 0, fixed_size);
  reinterpret_cast<RecordHeader*>(p)->type = static_cast<uint16_t>(type);
  if (fixed_size >= sizeof(EventHead)) reinterpret_cast<EventHead*>(p)->ts_ns = ts_ns;
  cur_->used += fixed_size;
  return cur_->data.get() + open_off_;
}

void TraceWriter::EndRecord(uint16_t flags) {
  Chunk& c = *cur_;
  auto* hdr = reinterpret_cast<RecordHeader*>(c.data.get() + open_off_);
  hdr->size = static_cast<uint32_t>(c.used - open_off_);
  hdr->flags = flags;
  if (c.nrecords == 0) {
    c.first_ts = open_ts_;
    c.started_ns = base::MonotonicNs();
  }
  c.nrecords++;
  records_total_++;
  cur_mu_.unlock();
}

uint8_t* TraceWriter::Begin(uint16_t tag, uint32_t max_len) {
  Ensure(sizeof(PayloadHeader) + Align8(max_len));
  payload_off_ = cur_->used;
  auto* ph = reinterpret_cast<PayloadHeader*>(cur_->data.get() + payload_off_);
  ph->tag = tag;
  ph->flags = 0;
  ph->len = 0;
  return cur_->data.get() + payload_off_ + sizeof(PayloadHeader);
}

void TraceWriter::Commit(uint32_t len, uint16_t flags) {
  uint8_t* base = cur_->data.get() + payload_off_;
  auto* ph = reinterpret_cast<PayloadHeader*>(base);
  ph->len = len;
  ph->flags = flags;
  uint32_t padded = Align8(len);
  if (padded > len) memset(base + sizeof(PayloadHeader) + len, 0, padded - len);
  cur_->used = payload_off_ + sizeof(PayloadHeader) + padded;
  open_payloads_++;
}

// REQUIRES: cur_mu_ held, q_mu_ held through |lk|.
void TraceWriter::QueueCurrentLocked(std::unique_lock<std::mutex>& lk) {
  if (cur_->nrecords == 0) return;
  queued_bytes_ += cur_->used;
  queue_.push_back(std::move(cur_));
  q_cv_.notify_one();
  space_cv_.wait(lk, [&] { return queued_bytes_ <= kMaxQueuedBytes || !write_status_.ok(); });
  std::unique_ptr<Chunk> c;
  if (!free_.empty()) {
    c = std::move(free_.back());
    free_.pop_back();
    c->used = 0;
    c->nrecords = 0;
  }
  lk.unlock();
  cur_ = c ? std::move(c) : NewChunk(opts_.chunk_bytes);
  lk.lock();
}

void TraceWriter::WriterLoop() {
  std::unique_lock lk(q_mu_);
  for (;;) {
    if (queue_.empty() && !closing_) {
      q_cv_.wait_for(lk, std::chrono::nanoseconds(kFlushIntervalNs));
    }
    if (queue_.empty()) {
      if (closing_) break;
      // Timed flush: take the tracer's chunk if it has waited long enough and no record is open.
      lk.unlock();
      std::unique_ptr<Chunk> taken;
      if (cur_mu_.try_lock()) {
        if (cur_->nrecords > 0 && base::MonotonicNs() - cur_->started_ns >= kFlushIntervalNs) {
          taken = std::move(cur_);
          cur_ = NewChunk(opts_.chunk_bytes);
        }
        cur_mu_.unlock();
      }
      lk.lock();
      if (!taken) continue;
      queued_bytes_ += taken->used;
      queue_.push_back(std::move(taken));
    }
    auto c = std::move(queue_.front());
    queue_.pop_front();
    lk.unlock();
    absl::Status st = WriteChunk(*c, 0);
    lk.lock();
    queued_bytes_ -= c->used;
    if (!st.ok() && write_status_.ok()) write_status_ = st;
    free_.push_back(std::move(c));
    space_cv_.notify_all();
  }
}

absl::Status TraceWriter::WriteChunk(Chunk& c, uint32_t flags) {
  if (!write_status_.ok()) return write_status_;
  ChunkHeader h{};
  h.magic = kChunkMagic;
  h.raw_len = static_cast<uint32_t>(c.used);
  h.nrecords = c.nrecords;
  h.first_ts_ns = c.first_ts;
  const uint8_t* data = c.data.get();
  size_t len = c.used;
  if (zctx_ && !(flags & kChunkEnd)) {
    size_t bound = ZSTD_compressBound(c.used);
    if (zbuf_.size() < bound) zbuf_.resize(bound);
    size_t z = ZSTD_compressCCtx(static_cast<ZSTD_CCtx*>(zctx_), zbuf_.data(), bound, c.data.get(),
                                 c.used, opts_.zstd_level);
    if (!ZSTD_isError(z) && z < c.used) {
      data = zbuf_.data();
      len = z;
      flags |= kChunkZstd;
    }
  }
  h.flags = flags;
  h.stored_len = static_cast<uint32_t>(len);
  h.crc = base::Crc32c(0, data, len);
  static const uint8_t kPad[8] = {};
  size_t pad = Align8(static_cast<uint32_t>(len)) - len;
  iovec iov[3] = {{&h, sizeof h}, {const_cast<uint8_t*>(data), len}, {const_cast<uint8_t*>(kPad), pad}};
  size_t total = sizeof h + len + pad;
  ssize_t n;
  do {
    n = ::writev(fd_.get(), iov, pad ? 3 : 2);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return base::ErrnoError("write(trace)");
  if (static_cast<size_t>(n) < total) {
    // Short write (disk full?): finish with plain writes.
    std::string rest;
    for (auto& v : iov) rest.append(static_cast<const char*>(v.iov_base), v.iov_len);
    RETURN_IF_ERROR(WriteAll(fd_.get(), rest.data() + n, total - static_cast<size_t>(n)));
  }
  stats_.chunks += (flags & kChunkEnd) ? 0 : 1;
  stats_.records += c.nrecords;
  stats_.raw_bytes += c.used;
  stats_.file_bytes += total;
  return absl::OkStatus();
}

absl::Status TraceWriter::Close() {
  {
    std::lock_guard cl(cur_mu_);
    std::unique_lock lk(q_mu_);
    if (cur_ && cur_->nrecords > 0) {
      queued_bytes_ += cur_->used;
      queue_.push_back(std::move(cur_));
    }
    closing_ = true;
    q_cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
  if (!write_status_.ok()) return write_status_;
  // The end chunk marks a clean close; readers report a trace without one as cut.
  Chunk end;
  end.cap = sizeof(TraceEnd);
  end.data.reset(new uint8_t[end.cap]);
  TraceEnd te{records_total_, stats_.chunks, base::MonotonicNs()};
  memcpy(end.data.get(), &te, sizeof te);
  end.used = sizeof te;
  RETURN_IF_ERROR(WriteChunk(end, kChunkEnd));
  if (::fsync(fd_.get()) < 0 && errno != EINVAL) return base::ErrnoError("fsync(trace)");
  if (::close(fd_.release()) < 0) return base::ErrnoError("close(trace)");
  return absl::OkStatus();
}

WriterStats TraceWriter::stats() const { return stats_; }

// ---------------------------------------------------------------------------------- reader

void ParsePayloads(const RecordHeader* hdr, size_t fixed_size, uint16_t npayloads,
                   std::vector<decode::Payload>* out) {
  out->clear();
  const auto* base = reinterpret_cast<const uint8_t*>(hdr);
  size_t off = fixed_size;
  for (uint16_t i = 0; i < npayloads; i++) {
    if (off + sizeof(PayloadHeader) > hdr->size) break;
    PayloadHeader ph;
    memcpy(&ph, base + off, sizeof ph);
    off += sizeof ph;
    if (off + ph.len > hdr->size) break;
    out->push_back({ph.tag, ph.flags, {base + off, ph.len}});
    off += Align8(ph.len);
  }
}

TraceReader::~TraceReader() {
  if (map_) munmap(const_cast<uint8_t*>(map_), size_);
  if (dctx_) ZSTD_freeDCtx(static_cast<ZSTD_DCtx*>(dctx_));
}

absl::StatusOr<std::unique_ptr<TraceReader>> TraceReader::Open(const std::string& path) {
  base::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return base::ErrnoError("cannot open %s", path);
  struct stat st;
  if (fstat(fd.get(), &st) < 0) return base::ErrnoError("fstat(%s)", path);
  if (!S_ISREG(st.st_mode)) return absl::InvalidArgumentError(path + ": not a regular file");
  std::unique_ptr<TraceReader> r(new TraceReader());
  r->size_ = static_cast<size_t>(st.st_size);
  if (r->size_ < sizeof(FileHeaderFixed)) {
    return absl::InvalidArgumentError(path + ": not a clonebot trace (file too short)");
  }
  void* m = mmap(nullptr, r->size_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (m == MAP_FAILED) return base::ErrnoError("mmap(%s)", path);
  r->map_ = static_cast<const uint8_t*>(m);
  madvise(m, r->size_, MADV_SEQUENTIAL);

  FileHeaderFixed h;
  memcpy(&h, r->map_, sizeof h);
  if (memcmp(h.magic, kFileMagic, 8) != 0) {
    return absl::InvalidArgumentError(path + ": not a clonebot trace (bad magic)");
  }
  if (h.major != kFormatMajor) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": trace format version ", h.major, ".",
                                                   h.minor, " is not supported (this clonebot reads ",
                                                   kFormatMajor, ".x)"));
  }
  if (h.header_size < sizeof h + 4 || h.header_size % 8 != 0) {
    return absl::DataLossError(path + ": corrupt trace header (bad size)");
  }
  if (h.header_size > r->size_) {
    return absl::DataLossError(path + ": the file ends inside its header (cut before any event)");
  }
  uint32_t crc;
  memcpy(&crc, r->map_ + h.header_size - 4, 4);
  if (base::Crc32c(0, r->map_, h.header_size - 4) != crc) {
    return absl::DataLossError(path + ": corrupt trace header (checksum mismatch)");
  }
  HeaderInfo& info = r->info_;
  info.arch = static_cast<abi::Arch>(h.arch);
  info.flags = h.flags;
  info.strsize = h.strsize;
  info.tracer_pid = h.tracer_pid;
  info.mono_base_ns = h.mono_base_ns;
  info.real_base_ns = h.real_base_ns;
  size_t off = sizeof h;
  std::vector<std::string> strs;
  for (uint32_t i = 0; i < h.nstrings; i++) {
    uint32_t n;
    if (off + 4 > h.header_size - 4) return absl::DataLossError(path + ": corrupt trace header");
    memcpy(&n, r->map_ + off, 4);
    off += 4;
    if (off + n > h.header_size - 4) return absl::DataLossError(path + ": corrupt trace header");
    strs.emplace_back(reinterpret_cast<const char*>(r->map_ + off), n);
    off += n;
  }
  strs.resize(std::max<size_t>(strs.size(), 5));
  info.kernel = strs[0];
  info.hostname = strs[1];
  if (!strs[2].empty()) info.command = absl::StrSplit(strs[2], absl::ByChar('\0'));
  info.filter = strs[3];
  for (absl::string_view p : absl::StrSplit(strs[4], ' ', absl::SkipEmpty())) {
    uint32_t v;
    if (absl::SimpleAtoi(p, &v)) info.attached.push_back(v);
  }
  r->off_ = h.header_size;
  return r;
}

bool TraceReader::LoadChunk() {
  while (!ended_) {
    if (off_ == size_) {
      cut_ = absl::StrCat("trace was cut after ", chunks_read_,
                          " complete chunks: the tracer did not finish (killed?)");
      ended_ = true;
      return false;
    }
    if (off_ + sizeof(ChunkHeader) > size_) {
      cut_ = absl::StrCat("trace was cut after ", chunks_read_, " complete chunks (",
                          size_ - off_, " trailing bytes of an unfinished chunk)");
      ended_ = true;
      return false;
    }
    ChunkHeader h;
    memcpy(&h, map_ + off_, sizeof h);
    if (h.magic != kChunkMagic) {
      status_ = absl::DataLossError(absl::StrCat("corrupt trace: no chunk at offset ", off_));
      ended_ = true;
      return false;
    }
    size_t data_off = off_ + sizeof h;
    size_t next = data_off + Align8(h.stored_len);
    if (data_off + h.stored_len > size_) {
      cut_ = absl::StrCat("trace was cut after ", chunks_read_,
                          " complete chunks: the last chunk is incomplete (tracer killed?)");
      ended_ = true;
      return false;
    }
    const uint8_t* data = map_ + data_off;
    if (base::Crc32c(0, data, h.stored_len) != h.crc) {
      status_ = absl::DataLossError(
          absl::StrCat("corrupt trace: checksum mismatch in chunk at offset ", off_));
      ended_ = true;
      return false;
    }
    off_ = std::min(next, size_);
    if (h.flags & kChunkEnd) {
      ended_ = true;
      return false;
    }
    if (h.flags & kChunkZstd) {
      if (!dctx_) dctx_ = ZSTD_createDCtx();
      if (inflate_.size() < h.raw_len) inflate_.resize(h.raw_len);
      size_t n = ZSTD_decompressDCtx(static_cast<ZSTD_DCtx*>(dctx_), inflate_.data(), h.raw_len,
                                     data, h.stored_len);
      if (ZSTD_isError(n) || n != h.raw_len) {
        status_ = absl::DataLossError(
            absl::StrCat("corrupt trace: chunk at offset ", off_, " does not decompress"));
        ended_ = true;
        return false;
      }
      chunk_data_ = inflate_.data();
    } else {
      chunk_data_ = data;
    }
    chunk_len_ = h.raw_len;
    chunk_pos_ = 0;
    chunks_read_++;
    if (chunk_len_ > 0) return true;
  }
  return false;
}

bool TraceReader::Next(RecordRef* rec) {
  for (;;) {
    if (chunk_data_ && chunk_pos_ + sizeof(RecordHeader) <= chunk_len_) {
      const auto* hdr = reinterpret_cast<const RecordHeader*>(chunk_data_ + chunk_pos_);
      if (hdr->size < sizeof(RecordHeader) || hdr->size % 8 != 0 ||
          chunk_pos_ + hdr->size > chunk_len_) {
        status_ = absl::DataLossError(
            absl::StrCat("corrupt trace: bad record size in chunk ", chunks_read_));
        chunk_data_ = nullptr;
        ended_ = true;
        return false;
      }
      chunk_pos_ += hdr->size;
      rec->hdr = hdr;
      return true;
    }
    chunk_data_ = nullptr;
    if (!LoadChunk()) return false;
  }
}

}  // namespace clonebot::trace
