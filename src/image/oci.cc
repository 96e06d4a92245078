// OCI image layouts: digests, blob writers, atomic layout creation and reading.
// See oci.h for the contract and docs/formats/image.md ("OCI layer") for what lands on disk.

#include "image/oci.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "base/unique_fd.h"
#include "image/sha256.h"

namespace clonebot::image {
namespace {

using base::ErrnoError;
using base::UniqueFd;
using json = nlohmann::json;

constexpr char kRefNameAnnotation[] = "org.opencontainers.image.ref.name";
constexpr char kLayoutVersion[] = "1.0.0";
constexpr size_t kDirectAlign = 4096;              // O_DIRECT buffer/offset/length alignment
// BlobWriter's two staging buffers, each: large for O_DIRECT (few, long writes keep a disk busy),
// small for buffered writes (the page cache takes them as they come; a small buffer stays in
// the CPU cache, and fresh memory costs ~3 us a page to fault in on these VMs).
constexpr size_t kStagingSize = 8 << 20;
constexpr size_t kBufferedStagingSize = 256 << 10;
constexpr size_t kFirstSubmit = 1 << 20;
constexpr size_t kPairChunk = 64 << 10;            // paired blobs hash in steps of at least this
constexpr size_t kMaxMetadataSize = 16 << 20;      // cap on index.json / manifest / oci-layout

// ---------------------------------------------------------------------------------------------
// Small filesystem helpers. All take a directory fd and a name relative to it.

absl::StatusOr<UniqueFd> OpenDirAt(int dirfd, const std::string& name, const std::string& shown) {
  UniqueFd fd(openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return ErrnoError("open(%s)", shown);
  return fd;
}

absl::Status FsyncFd(int fd, const std::string& shown) {
  if (fsync(fd) != 0) return ErrnoError("fsync(%s)", shown);
  return absl::OkStatus();
}

absl::Status FsyncDirAt(int dirfd, const std::string& name, const std::string& shown) {
  ASSIGN_OR_RETURN(UniqueFd fd, OpenDirAt(dirfd, name, shown));
  return FsyncFd(fd.get(), shown);
}

absl::Status WriteAll(int fd, const uint8_t* p, size_t n, uint64_t off, const std::string& shown) {
  while (n > 0) {
    ssize_t w = pwrite(fd, p, n, static_cast<off_t>(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("write(%s)", shown);
    }
    if (w == 0) return absl::DataLossError(absl::StrCat("write(", shown, "): wrote nothing"));
    p += w;
    n -= static_cast<size_t>(w);
    off += static_cast<uint64_t>(w);
  }
  return absl::OkStatus();
}

// Creates |name| (must not exist), writes |bytes| and fsyncs it.
// Creates |name| with |bytes| and returns it still open, not yet fsynced (see SyncAll).
absl::StatusOr<UniqueFd> WriteFileUnsynced(int dirfd, const std::string& name, std::span<const uint8_t> bytes,
                                           const std::string& shown) {
  UniqueFd fd(openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) return ErrnoError("create(%s)", shown);
  RETURN_IF_ERROR(WriteAll(fd.get(), bytes.data(), bytes.size(), 0, shown));
  return fd;
}

// A file written but not yet fsynced, and its name for messages.
struct Unsynced {
  UniqueFd fd;
  std::string shown;
};

// fsyncs every file of |files|, at once (one thread each) unless |sequential|: on a journaling
// filesystem concurrent fsyncs share one journal commit, where one after the other each waits
// for its own (the six small files of a snapshot's commit cost ~6 commits before). The first
// error.
absl::Status SyncAll(std::vector<Unsynced>& files, bool sequential) {
  if (files.empty()) return absl::OkStatus();
  std::vector<absl::Status> results(files.size());
  if (sequential) {
    for (size_t i = 0; i < files.size(); i++) results[i] = FsyncFd(files[i].fd.get(), files[i].shown);
  } else {
    std::vector<std::thread> threads;
    for (size_t i = 1; i < files.size(); i++)
      threads.emplace_back([&, i] { results[i] = FsyncFd(files[i].fd.get(), files[i].shown); });
    results[0] = FsyncFd(files[0].fd.get(), files[0].shown);
    for (auto& t : threads) t.join();
  }
  files.clear();
  for (absl::Status& st : results)
    if (!st.ok()) return st;
  return absl::OkStatus();
}

// Reads a whole small file; NotFound (naming |shown|) if it does not exist.
absl::StatusOr<std::string> ReadSmallFileAt(int dirfd, const std::string& name,
                                            const std::string& shown) {
  UniqueFd fd(openat(dirfd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return ErrnoError("open(%s)", shown);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoError("fstat(%s)", shown);
  if (!S_ISREG(st.st_mode)) return absl::FailedPreconditionError(shown + ": not a regular file");
  if (static_cast<uint64_t>(st.st_size) > kMaxMetadataSize)
    return absl::FailedPreconditionError(
        absl::StrCat(shown, ": too large (", st.st_size, " bytes)"));
  std::string out(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < out.size()) {
    ssize_t r = pread(fd.get(), out.data() + got, out.size() - got, static_cast<off_t>(got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("read(%s)", shown);
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  out.resize(got);
  return out;
}

// Removes |name| under |dirfd| and everything below it. Never follows symlinks. Best effort:
// returns the first error but keeps going.
absl::Status RemoveTreeAt(int at, const std::string& name) {
  if (unlinkat(at, name.c_str(), 0) == 0) return absl::OkStatus();
  if (errno == ENOENT) return absl::OkStatus();
  if (errno != EISDIR && errno != EPERM) return ErrnoError("unlink(%s)", name);
  absl::Status first = absl::OkStatus();
  int fd = openat(at, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open(%s)", name);
  DIR* d = fdopendir(fd);  // owns fd from here
  if (d == nullptr) {
    absl::Status st = ErrnoError("fdopendir(%s)", name);
    close(fd);
    return st;
  }
  std::vector<std::string> children;
  while (struct dirent* e = readdir(d)) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    children.emplace_back(e->d_name);
  }
  for (const std::string& c : children) {
    absl::Status st = RemoveTreeAt(dirfd(d), c);
    if (!st.ok() && first.ok()) first = st;
  }
  closedir(d);
  if (unlinkat(at, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT && first.ok())
    first = ErrnoError("rmdir(%s)", name);
  return first;
}

bool IsLowerHex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// "sha256:<64 lowercase hex>" → the hex part.
absl::StatusOr<std::string> DigestHex(const std::string& digest) {
  constexpr std::string_view kPrefix = "sha256:";
  if (digest.size() != kPrefix.size() + 64 || digest.compare(0, kPrefix.size(), kPrefix) != 0 ||
      !IsLowerHex(std::string_view(digest).substr(kPrefix.size())))
    return absl::InvalidArgumentError(
        absl::StrCat("bad digest \"", digest, "\" (want sha256:<64 lowercase hex>)"));
  return digest.substr(kPrefix.size());
}

// ---------------------------------------------------------------------------------------------
// JSON (de)serialization of descriptors. nlohmann::json objects are std::map: keys come out
// sorted, so output is deterministic.

json DescriptorToJson(const Descriptor& d) {
  json j = json::object();
  j["mediaType"] = d.media_type;
  j["digest"] = d.digest;
  j["size"] = d.size;
  if (!d.annotations.empty()) j["annotations"] = d.annotations;
  return j;
}

absl::StatusOr<std::string> DumpJson(const json& j, const std::string& what) {
  try {
    return j.dump();  // strict: invalid UTF-8 in a string throws type_error 316
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": cannot encode as JSON: ", e.what()));
  }
}

absl::StatusOr<json> ParseJson(const std::string& text, const std::string& shown,
                               const std::string& what) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    return absl::FailedPreconditionError(
        absl::StrCat(shown, ": ", what, " is not valid JSON: ", e.what()));
  }
}

absl::StatusOr<std::map<std::string, std::string>> AnnotationsFromJson(const json& j,
                                                                       const std::string& where) {
  std::map<std::string, std::string> out;
  if (!j.contains("annotations") || j["annotations"].is_null()) return out;
  const json& a = j["annotations"];
  if (!a.is_object()) return absl::FailedPreconditionError(where + ": annotations is not an object");
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (!it.value().is_string())
      return absl::FailedPreconditionError(
          absl::StrCat(where, ": annotation \"", it.key(), "\" is not a string"));
    out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

absl::StatusOr<Descriptor> DescriptorFromJson(const json& j, const std::string& where) {
  if (!j.is_object()) return absl::FailedPreconditionError(where + ": not an object");
  Descriptor d;
  if (!j.contains("mediaType") || !j["mediaType"].is_string())
    return absl::FailedPreconditionError(where + ": missing mediaType");
  d.media_type = j["mediaType"].get<std::string>();
  if (!j.contains("digest") || !j["digest"].is_string())
    return absl::FailedPreconditionError(where + ": missing digest");
  d.digest = j["digest"].get<std::string>();
  if (absl::StatusOr<std::string> hex = DigestHex(d.digest); !hex.ok())
    return absl::FailedPreconditionError(absl::StrCat(where, ": ", hex.status().message()));
  if (!j.contains("size") || !j["size"].is_number_unsigned())
    return absl::FailedPreconditionError(where + ": missing or negative size");
  d.size = j["size"].get<uint64_t>();
  ASSIGN_OR_RETURN(d.annotations, AnnotationsFromJson(j, where));
  return d;
}

struct PathParts {
  std::string parent;  // "." when |dir| has no slash
  std::string name;
};

absl::StatusOr<PathParts> SplitDir(const std::string& dir) {
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  size_t slash = d.rfind('/');
  PathParts p;
  if (slash == std::string::npos) {
    p.parent = ".";
    p.name = d;
  } else {
    p.parent = slash == 0 ? "/" : d.substr(0, slash);
    p.name = d.substr(slash + 1);
  }
  if (p.name.empty() || p.name == "." || p.name == "..")
    return absl::InvalidArgumentError(absl::StrCat("\"", dir, "\": not a usable directory name"));
  return p;
}

std::string PartialName(const std::string& name, pid_t pid) {
  return absl::StrCat(".", name, ".partial-", pid);
}

// If |entry| is "<anything>.partial-<pid>" starting with '.', returns the pid, else 0.
pid_t PartialPid(std::string_view entry) {
  constexpr std::string_view kTag = ".partial-";
  if (entry.size() < 2 || entry[0] != '.') return 0;
  size_t at = entry.rfind(kTag);
  if (at == std::string_view::npos || at < 2) return 0;
  std::string_view digits = entry.substr(at + kTag.size());
  if (digits.empty()) return 0;
  pid_t pid = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || pid <= 0) return 0;
  return pid;
}

bool PidAlive(pid_t pid) { return kill(pid, 0) == 0 || errno != ESRCH; }

// Removes partial directories in |parent_fd| left by writers that died. A partial directory is
// stale when its writer's pid is gone (or is our own pid: a crashed earlier process reused it)
// and nobody holds the flock every live writer keeps on its partial directory (which also
// protects writers in another pid namespace).
void RemoveStalePartials(int parent_fd) {
  int fd = dup(parent_fd);
  if (fd < 0) return;
  DIR* d = fdopendir(fd);
  if (d == nullptr) {
    close(fd);
    return;
  }
  rewinddir(d);
  std::vector<std::string> stale;
  while (struct dirent* e = readdir(d)) {
    pid_t pid = PartialPid(e->d_name);
    if (pid == 0) continue;
    if (pid != getpid() && PidAlive(pid)) continue;
    UniqueFd dfd(openat(parent_fd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dfd) continue;
    if (flock(dfd.get(), LOCK_EX | LOCK_NB) != 0) continue;  // a live writer holds it
    stale.emplace_back(e->d_name);
  }
  closedir(d);
  for (const std::string& s : stale) (void)RemoveTreeAt(parent_fd, s);
}

// Whether an existing |name| in |parent_fd| may be replaced: only an OCI layout (has
// oci-layout) or an empty directory, so that --force never deletes an unrelated tree.
absl::Status CheckReplaceable(int parent_fd, const std::string& name, const std::string& shown) {
  UniqueFd fd(openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat(shown, " exists and is not an OCI image layout; refusing to replace it"));
  }
  struct stat st;
  if (fstatat(fd.get(), "oci-layout", &st, AT_SYMLINK_NOFOLLOW) == 0) return absl::OkStatus();
  DIR* d = fdopendir(dup(fd.get()));
  bool empty = true;
  if (d != nullptr) {
    while (struct dirent* e = readdir(d)) {
      if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
        empty = false;
        break;
      }
    }
    closedir(d);
  } else {
    empty = false;
  }
  if (empty) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(shown, " exists and is not an OCI image layout; refusing to replace it"));
}

absl::Status ExistsError(const std::string& dir) {
  return absl::AlreadyExistsError(absl::StrCat(dir, " already exists (use --force to replace)"));
}

// ---------------------------------------------------------------------------------------------
// Writer side.

// What the BlobWriters of one LayoutWriter share. Outlives the LayoutWriter if a BlobWriter
// does (then Finish fails: the partial directory is gone).
struct Shared {
  std::string dir;           // as given, for messages
  UniqueFd blobs_fd;         // <partial>/blobs/sha256
  std::atomic<uint64_t> next_tmp{0};
  std::mutex mu;
  int open_writers = 0;      // BlobWriters not yet finished or destroyed (under mu)
  bool closed = false;       // committed or destroyed: no new blobs (under mu)
  bool memory_fs = false;    // the layout is on tmpfs or ramfs
};

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  ~AlignedBuffer() { free(p_); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  bool Allocate(size_t n) {
    void* p = nullptr;
    if (posix_memalign(&p, kDirectAlign, n) != 0) return false;
    p_ = static_cast<uint8_t*>(p);
    return true;
  }
  uint8_t* data() const { return p_; }

 private:
  uint8_t* p_ = nullptr;
};

// One write in flight at a time, on a thread of its own: the BlobWriter fills one staging
// buffer while the other goes to disk, so a slow disk overlaps the caller's hashing and
// compression instead of adding to it. |write| runs on that thread; its first error is kept
// and returned by Wait(). With |inline_writes| (a memory filesystem: a write is a copy into the
// page cache, CPU work that a thread of its own would only take from the caller's peers at the
// cost of a hand-off per buffer) Submit writes on the caller's thread.
class WriteBehind {
 public:
  using WriteFn = absl::Status (*)(void* ctx, const uint8_t* p, size_t n);
  WriteBehind(WriteFn fn, void* ctx, bool inline_writes)
      : fn_(fn), ctx_(ctx), inline_(inline_writes) {}
  ~WriteBehind() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  // Waits for the previous write, then starts writing [p, p+n). |p| must stay valid until the
  // next Submit or Wait returns.
  absl::Status Submit(const uint8_t* p, size_t n) {
    RETURN_IF_ERROR(Wait());
    if (inline_) {
      absl::Status st = fn_(ctx_, p, n);
      if (!st.ok()) error_ = st;
      return st;
    }
    if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
    {
      std::lock_guard<std::mutex> lock(mu_);
      p_ = p;
      n_ = n;
      busy_ = true;
    }
    cv_.notify_all();
    return absl::OkStatus();
  }
  // Waits until no write is in flight; the first error any write had.
  absl::Status Wait() {
    if (inline_) return error_;
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !busy_; });
    return error_;
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return busy_ || quit_; });
      if (!busy_) return;
      lock.unlock();
      absl::Status st = error_.ok() ? fn_(ctx_, p_, n_) : absl::OkStatus();
      lock.lock();
      if (!st.ok() && error_.ok()) error_ = st;
      busy_ = false;
      cv_.notify_all();
    }
  }

  WriteFn fn_;
  void* ctx_;
  const bool inline_;
  std::mutex mu_;
  std::condition_variable cv_;
  const uint8_t* p_ = nullptr;  // the write in flight (under mu_)
  size_t n_ = 0;
  bool busy_ = false;
  bool quit_ = false;
  absl::Status error_;
  std::thread thread_;
};

class BlobWriterImpl final : public BlobWriter {
 public:
  BlobWriterImpl(std::shared_ptr<Shared> shared, std::string tmp_name, UniqueFd fd, bool direct)
      : shared_(std::move(shared)), tmp_name_(std::move(tmp_name)), fd_(std::move(fd)),
        direct_(direct), staging_size_(direct ? kStagingSize : kBufferedStagingSize),
        submit_at_(std::min(staging_size_, kFirstSubmit)) {}

  ~BlobWriterImpl() override {
    Unpair();
    (void)behind_.Wait();
    if (!done_) {
      fd_.reset();
      unlinkat(shared_->blobs_fd.get(), tmp_name_.c_str(), 0);
      Release();
    }
  }

  absl::Status Append(std::span<const uint8_t> bytes) override {
    if (done_) return absl::FailedPreconditionError("BlobWriter: Append after Finish");
    if (!error_.ok()) return error_;
    size_ += bytes.size();
    absl::Status st = Stage(bytes);
    if (!st.ok()) {
      error_ = st;
      return st;
    }
    // Staged bytes are hashed at once, or, paired, once both blobs have kPairChunk of them.
    if (!partner_)
      HashPending(true);
    else if (Pending() >= kPairChunk && partner_->Pending() >= kPairChunk)
      HashPending(false);
    return st;
  }

  void PairWith(BlobWriter& other) override {
    auto* o = static_cast<BlobWriterImpl*>(&other);
    if (o == this || done_ || o->done_) return;
    Unpair();
    o->Unpair();
    partner_ = o;
    o->partner_ = this;
  }

  absl::Status AppendTwo(std::span<const iovec> mine, BlobWriter& other_base,
                         std::span<const iovec> theirs) override {
    auto* o = static_cast<BlobWriterImpl*>(&other_base);
    if (o == this) return absl::InvalidArgumentError("BlobWriter::AppendTwo to one blob");
    if (done_ || o->done_) return absl::FailedPreconditionError("BlobWriter: Append after Finish");
    if (!shared_->memory_fs || direct_ || o->direct_) {
      for (const iovec& v : mine) RETURN_IF_ERROR(Append({static_cast<const uint8_t*>(v.iov_base), v.iov_len}));
      for (const iovec& v : theirs)
        RETURN_IF_ERROR(o->Append({static_cast<const uint8_t*>(v.iov_base), v.iov_len}));
      return absl::OkStatus();
    }
    if (!error_.ok()) return error_;
    if (!o->error_.ok()) return o->error_;
    // What either blob has staged is hashed and written first: bytes keep their order.
    absl::Status st = Drain();
    if (st.ok()) st = o->Drain();
    if (st.ok()) {
      Sha256::UpdateTwoV(hash_, mine, o->hash_, theirs);
      st = WriteV(mine);
      if (st.ok()) st = o->WriteV(theirs);
    }
    if (!st.ok()) {
      error_ = st;
      o->error_ = st;
    }
    return st;
  }

  uint64_t size() const override { return size_; }

  absl::StatusOr<Descriptor> Finish(const std::string& media_type) override {
    if (done_) return absl::FailedPreconditionError("BlobWriter: Finish called twice");
    if (!error_.ok()) return error_;
    absl::StatusOr<Descriptor> d = FinishImpl(media_type);
    if (d.ok()) {
      done_ = true;
      Release();
    } else {
      error_ = d.status();
    }
    return d;
  }

 private:
  std::string Shown() const { return absl::StrCat(shared_->dir, " (blob ", tmp_name_, ")"); }

  // Bytes appended but not hashed yet: the tail of the buffer submitted last (old_), then
  // [hashed_, fill_) of staging_[cur_].
  struct Span {
    const uint8_t* p = nullptr;
    size_t n = 0;
  };
  size_t Pending() const { return old_.n + fill_ - hashed_; }
  int PendingSpans(Span out[2]) const {
    int k = 0;
    if (old_.n > 0) out[k++] = old_;
    if (fill_ > hashed_) out[k++] = {staging_[cur_].data() + hashed_, fill_ - hashed_};
    return k;
  }
  void Consume(size_t n) {
    size_t k = std::min(n, old_.n);
    old_.p += k;
    old_.n -= k;
    hashed_ += n - k;
  }

  // Hashes as many pending bytes of this blob and of its partner as both have, two streams at
  // once; with |all|, then the rest of this blob's alone.
  void HashPending(bool all) {
    Span a[2], b[2];
    int na = PendingSpans(a), nb = partner_ ? partner_->PendingSpans(b) : 0;
    int i = 0, j = 0;
    size_t together = 0;
    while (i < na && j < nb) {
      size_t n = std::min(a[i].n, b[j].n);
      Sha256::UpdateTwo(hash_, a[i].p, n, partner_->hash_, b[j].p, n);
      together += n;
      a[i].p += n;
      b[j].p += n;
      if ((a[i].n -= n) == 0) i++;
      if ((b[j].n -= n) == 0) j++;
    }
    Consume(together);
    if (partner_) partner_->Consume(together);
    if (!all) return;
    for (; i < na; i++) {
      hash_.Update(a[i].p, a[i].n);
      Consume(a[i].n);
    }
  }

  // Hashes the tail of the buffer submitted last, which the next Submit lets the staging reuse:
  // with the partner's pending bytes as far as they go, the rest alone.
  void HashOld() {
    if (old_.n == 0) return;
    HashPending(false);
    if (old_.n == 0) return;
    hash_.Update(old_.p, old_.n);
    Consume(old_.n);
  }

  // Ends the pairing; what either blob had pending is hashed first.
  void Unpair() {
    if (!partner_) return;
    BlobWriterImpl* o = partner_;
    HashPending(true);
    partner_ = nullptr;
    o->partner_ = nullptr;
    o->HashPending(true);
  }

  void Release() {
    std::lock_guard<std::mutex> lock(shared_->mu);
    --shared_->open_writers;
  }

  // Copies |bytes| through the aligned staging buffer, writing it out whenever it fills.
  absl::Status Stage(std::span<const uint8_t> bytes) {
    const uint8_t* p = bytes.data();
    size_t n = bytes.size();
    while (n > 0) {
      // Large, page-aligned input with nothing staged goes straight to the file.
      if (fill_ == 0 && n >= staging_size_ &&
          reinterpret_cast<uintptr_t>(p) % kDirectAlign == 0) {
        size_t chunk = n - n % kDirectAlign;
        // |p| is the caller's: hashed now, after what is pending.
        HashPending(true);
        if (partner_ && partner_->Pending() > 0) {
          Span b[2];
          int nb = partner_->PendingSpans(b);
          size_t off = 0;
          for (int j = 0; j < nb; j++) {
            size_t t = std::min(b[j].n, chunk - off);
            Sha256::UpdateTwo(hash_, p + off, t, partner_->hash_, b[j].p, t);
            partner_->Consume(t);
            off += t;
          }
          hash_.Update(p + off, chunk - off);
        } else {
          hash_.Update(p, chunk);
        }
        RETURN_IF_ERROR(behind_.Wait());
        RETURN_IF_ERROR(WriteOut(p, chunk));
        p += chunk;
        n -= chunk;
        continue;
      }
      AlignedBuffer& buf = staging_[cur_];
      if (!buf.data()) {
        if (!buf.Allocate(staging_size_))
          return absl::ResourceExhaustedError("BlobWriter: cannot allocate staging buffer");
      }
      size_t take = std::min(n, submit_at_ - fill_);
      memcpy(buf.data() + fill_, p, take);
      fill_ += take;
      p += take;
      n -= take;
      if (fill_ == submit_at_) {
        // This Submit waits for the other buffer's write and hands that buffer back to the
        // staging: what of it is unhashed goes first. This buffer's unhashed tail stays
        // pending (old_) until the next Submit, to pair with what the partner appends.
        HashOld();
        RETURN_IF_ERROR(behind_.Submit(buf.data(), fill_));
        old_ = {buf.data() + hashed_, fill_ - hashed_};
        cur_ ^= 1;
        fill_ = 0;
        hashed_ = 0;
        submit_at_ = std::min(staging_size_, submit_at_ * 2);
      }
    }
    return absl::OkStatus();
  }

  // Hashes what is pending and writes what is staged (inline writes only: memory filesystem),
  // leaving the staging empty.
  absl::Status Drain() {
    HashPending(true);
    RETURN_IF_ERROR(behind_.Wait());
    if (fill_ > 0) RETURN_IF_ERROR(WriteOut(staging_[cur_].data(), fill_));
    fill_ = 0;
    hashed_ = 0;
    old_ = {};
    return absl::OkStatus();
  }

  // Writes the bytes of |v| at the current end, from the caller's memory (buffered I/O only).
  absl::Status WriteV(std::span<const iovec> v) {
    std::vector<iovec> rest(v.begin(), v.end());
    size_t k = 0;
    while (k < rest.size()) {
      int cnt = static_cast<int>(std::min<size_t>(rest.size() - k, IOV_MAX));
      ssize_t w = pwritev(fd_.get(), rest.data() + k, cnt, static_cast<off_t>(written_));
      if (w < 0) {
        if (errno == EINTR) continue;
        return ErrnoError("write(%s)", Shown());
      }
      if (w == 0) return absl::DataLossError(absl::StrCat("write(", Shown(), "): wrote nothing"));
      written_ += static_cast<uint64_t>(w);
      size_ += static_cast<uint64_t>(w);
      for (size_t left = static_cast<size_t>(w); left > 0 && k < rest.size();) {
        size_t t = std::min(left, rest[k].iov_len);
        rest[k].iov_base = static_cast<uint8_t*>(rest[k].iov_base) + t;
        rest[k].iov_len -= t;
        left -= t;
        if (rest[k].iov_len == 0) k++;
      }
      while (k < rest.size() && rest[k].iov_len == 0) k++;
    }
    return absl::OkStatus();
  }

  // Writes |n| bytes at the current end. With O_DIRECT, |p|, |n| and the offset are multiples
  // of kDirectAlign. A filesystem that refuses the direct write (EINVAL: stricter alignment)
  // makes the writer switch to buffered I/O for the rest of the blob.
  absl::Status WriteOut(const uint8_t* p, size_t n) {
    while (n > 0) {
      ssize_t w = pwrite(fd_.get(), p, n, static_cast<off_t>(written_));
      if (w < 0) {
        if (errno == EINTR) continue;
        if (errno == EINVAL && direct_) {
          RETURN_IF_ERROR(DropDirect());
          continue;
        }
        return ErrnoError("write(%s)", Shown());
      }
      if (w == 0) return absl::DataLossError(absl::StrCat("write(", Shown(), "): wrote nothing"));
      p += w;
      n -= static_cast<size_t>(w);
      written_ += static_cast<uint64_t>(w);
      // A short direct write could leave the offset unaligned; finish buffered.
      if (direct_ && (written_ % kDirectAlign != 0 || n % kDirectAlign != 0))
        RETURN_IF_ERROR(DropDirect());
    }
    return absl::OkStatus();
  }

  absl::Status DropDirect() {
    int fl = fcntl(fd_.get(), F_GETFL);
    if (fl < 0 || fcntl(fd_.get(), F_SETFL, fl & ~O_DIRECT) != 0)
      return ErrnoError("fcntl(%s, clear O_DIRECT)", Shown());
    direct_ = false;
    return absl::OkStatus();
  }

  absl::StatusOr<Descriptor> FinishImpl(const std::string& media_type) {
    Unpair();
    HashPending(true);
    RETURN_IF_ERROR(behind_.Wait());
    if (fill_ > 0) {
      uint8_t* staged = staging_[cur_].data();
      if (direct_) {
        // The unaligned tail: write it padded with zeros to the alignment, then cut the file
        // back to the exact size.
        size_t padded = (fill_ + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
        memset(staged + fill_, 0, padded - fill_);
        RETURN_IF_ERROR(WriteOut(staged, padded));
        written_ = size_;
        if (ftruncate(fd_.get(), static_cast<off_t>(size_)) != 0)
          return ErrnoError("ftruncate(%s, %d)", Shown(), size_);
      } else {
        RETURN_IF_ERROR(WriteOut(staged, fill_));
      }
      fill_ = 0;
    }
    RETURN_IF_ERROR(FsyncFd(fd_.get(), Shown()));
    fd_.reset();
    Descriptor d;
    d.media_type = media_type;
    d.digest = hash_.Final();
    d.size = size_;
    std::string hex = d.digest.substr(7);
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      if (shared_->closed)
        return absl::FailedPreconditionError(
            absl::StrCat(shared_->dir, ": blob finished after the layout was committed or dropped"));
    }
    int dfd = shared_->blobs_fd.get();
    // A blob with this digest already present (same content) is kept; ours is dropped.
    if (renameat2(dfd, tmp_name_.c_str(), dfd, hex.c_str(), RENAME_NOREPLACE) != 0) {
      if (errno == EEXIST) {
        unlinkat(dfd, tmp_name_.c_str(), 0);
      } else if (errno == EINVAL || errno == ENOSYS) {
        if (renameat(dfd, tmp_name_.c_str(), dfd, hex.c_str()) != 0)
          return ErrnoError("rename(%s)", Shown());
      } else {
        return ErrnoError("rename(%s)", Shown());
      }
    }
    return d;
  }

  std::shared_ptr<Shared> shared_;
  std::string tmp_name_;
  UniqueFd fd_;
  bool direct_;
  const size_t staging_size_;
  // Bytes staged before a write is submitted: kFirstSubmit, doubling up to staging_size_, so
  // that the disk starts early on a small blob and gets long writes on a large one.
  size_t submit_at_;
  Sha256 hash_;
  AlignedBuffer staging_[2];  // staging_[cur_] fills while the other may be in flight
  int cur_ = 0;
  size_t fill_ = 0;       // bytes staged in staging_[cur_], not yet written
  size_t hashed_ = 0;     // of which hashed (see Pending)
  Span old_;              // the unhashed tail of the buffer submitted last
  // The blob hashed together with this one (PairWith), or null. Both are used from one thread.
  BlobWriterImpl* partner_ = nullptr;
  // Bytes written to the file (file offset of the next write). WriteOut, and so written_ and
  // direct_, belong to behind_'s thread while a write is in flight: touch them only after
  // behind_.Wait().
  uint64_t written_ = 0;
  uint64_t size_ = 0;     // bytes appended
  bool done_ = false;
  absl::Status error_;    // sticky: a failed write poisons the writer
  WriteBehind behind_{[](void* self, const uint8_t* p, size_t n) {
                        return static_cast<BlobWriterImpl*>(self)->WriteOut(p, n);
                      },
                      this, shared_->memory_fs};  // last: joined before the buffers and the fd go
};

class LayoutWriterImpl final : public LayoutWriter {
 public:
  LayoutWriterImpl(std::string dir, PathParts parts, bool replace, UniqueFd parent_fd,
                   std::string partial, UniqueFd partial_fd, std::shared_ptr<Shared> shared)
      : dir_(std::move(dir)), parts_(std::move(parts)), replace_(replace),
        parent_fd_(std::move(parent_fd)), partial_(std::move(partial)),
        partial_fd_(std::move(partial_fd)), shared_(std::move(shared)),
        partial_path_(parts_.parent + "/" + partial_) {}

  ~LayoutWriterImpl() override {
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      shared_->closed = true;
    }
    if (!committed_) (void)RemoveTreeAt(parent_fd_.get(), partial_);
  }

  bool on_memory_fs() const override { return shared_->memory_fs; }

  absl::StatusOr<std::unique_ptr<BlobWriter>> NewBlob() override {
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      if (shared_->closed)
        return absl::FailedPreconditionError(dir_ + ": NewBlob after Commit");
      ++shared_->open_writers;
    }
    std::string tmp = absl::StrCat(".tmp-", shared_->next_tmp.fetch_add(1));
    int dfd = shared_->blobs_fd.get();
    constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
    // CLONEBOT_IMAGE_NO_DIRECT=1 forces buffered writes (tests; filesystems where O_DIRECT is
    // slow).
    // On tmpfs, O_DIRECT is accepted (6.6+) but is buffered I/O with alignment rules: buffered.
    const char* no_direct = getenv("CLONEBOT_IMAGE_NO_DIRECT");
    bool direct = !(no_direct && *no_direct && strcmp(no_direct, "0") != 0) && !shared_->memory_fs;
    UniqueFd fd;
    if (direct) fd.reset(openat(dfd, tmp.c_str(), kFlags | O_DIRECT, 0644));
    if (!direct || (!fd && errno == EINVAL)) {  // no O_DIRECT here (older tmpfs): buffered
      direct = false;
      fd.reset(openat(dfd, tmp.c_str(), kFlags, 0644));
    }
    if (!fd) {
      absl::Status st = ErrnoError("create(%s/blobs/sha256/%s)", partial_path_, tmp);
      std::lock_guard<std::mutex> lock(shared_->mu);
      --shared_->open_writers;
      return st;
    }
    return std::make_unique<BlobWriterImpl>(shared_, std::move(tmp), std::move(fd), direct);
  }

  absl::StatusOr<Descriptor> PutBlob(const std::string& media_type,
                                     std::span<const uint8_t> bytes) override {
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      if (shared_->closed) return absl::FailedPreconditionError(dir_ + ": PutBlob after Commit");
    }
    return WriteSmallBlob(media_type, bytes);
  }

  absl::StatusOr<Descriptor> Commit(const Descriptor& config, const std::vector<Descriptor>& layers,
                                    const std::map<std::string, std::string>& annotations) override {
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      if (shared_->closed) return absl::FailedPreconditionError(dir_ + ": Commit called twice");
      if (shared_->open_writers > 0)
        return absl::FailedPreconditionError(absl::StrCat(
            dir_, ": Commit with ", shared_->open_writers, " blob writer(s) still open"));
      shared_->closed = true;
    }
    absl::StatusOr<Descriptor> r = CommitImpl(config, layers, annotations);
    if (!r.ok() && !committed_) {
      std::lock_guard<std::mutex> lock(shared_->mu);
      shared_->closed = false;  // the caller may fix things and retry
    }
    return r;
  }

 private:
  // Small blobs: hashed in one go, buffered write to a temporary name, rename; fsynced by Commit
  // (with the other small files, at once) before anything names them.
  absl::StatusOr<Descriptor> WriteSmallBlob(const std::string& media_type,
                                            std::span<const uint8_t> bytes) {
    Descriptor d;
    d.media_type = media_type;
    d.digest = Sha256Digest(bytes);
    d.size = bytes.size();
    std::string hex = d.digest.substr(7);
    int dfd = shared_->blobs_fd.get();
    struct stat st;
    if (fstatat(dfd, hex.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return d;  // already there
    std::string tmp = absl::StrCat(".tmp-", shared_->next_tmp.fetch_add(1));
    std::string shown = absl::StrCat(dir_, " (blob ", d.digest, ")");
    absl::StatusOr<UniqueFd> fd = WriteFileUnsynced(dfd, tmp, bytes, shown);
    absl::Status w = fd.status();
    if (w.ok() && renameat(dfd, tmp.c_str(), dfd, hex.c_str()) != 0)
      w = ErrnoError("rename(%s)", shown);
    if (!w.ok()) {
      unlinkat(dfd, tmp.c_str(), 0);
      return w;
    }
    std::lock_guard<std::mutex> lock(shared_->mu);
    unsynced_.push_back({std::move(*fd), shown});
    return d;
  }

  absl::Status CheckBlob(const Descriptor& d, const std::string& what) {
    absl::StatusOr<std::string> hex = DigestHex(d.digest);
    if (!hex.ok())
      return absl::InvalidArgumentError(absl::StrCat(dir_, ": ", what, ": ", hex.status().message()));
    struct stat st;
    if (fstatat(shared_->blobs_fd.get(), hex->c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return absl::FailedPreconditionError(
          absl::StrCat(dir_, ": ", what, " blob ", d.digest, " was not written to this layout"));
    if (static_cast<uint64_t>(st.st_size) != d.size)
      return absl::FailedPreconditionError(absl::StrCat(dir_, ": ", what, " blob ", d.digest,
                                                        " has ", st.st_size, " bytes, descriptor says ",
                                                        d.size));
    return absl::OkStatus();
  }

  absl::StatusOr<Descriptor> CommitImpl(const Descriptor& config,
                                        const std::vector<Descriptor>& layers,
                                        const std::map<std::string, std::string>& annotations) {
    RETURN_IF_ERROR(CheckBlob(config, "config"));
    for (size_t i = 0; i < layers.size(); ++i)
      RETURN_IF_ERROR(CheckBlob(layers[i], absl::StrCat("layer ", i)));

    json manifest = json::object();
    manifest["schemaVersion"] = 2;
    manifest["mediaType"] = kManifestMediaType;
    manifest["config"] = DescriptorToJson(config);
    manifest["layers"] = json::array();
    for (const Descriptor& l : layers) manifest["layers"].push_back(DescriptorToJson(l));
    if (!annotations.empty()) manifest["annotations"] = annotations;
    ASSIGN_OR_RETURN(std::string manifest_text, DumpJson(manifest, dir_ + ": manifest"));
    ASSIGN_OR_RETURN(Descriptor md,
                     WriteSmallBlob(kManifestMediaType,
                                    std::span(reinterpret_cast<const uint8_t*>(manifest_text.data()),
                                              manifest_text.size())));

    Descriptor index_entry = md;
    index_entry.annotations[kRefNameAnnotation] = "latest";
    json index = json::object();
    index["schemaVersion"] = 2;
    index["mediaType"] = kIndexMediaType;
    index["manifests"] = json::array({DescriptorToJson(index_entry)});
    ASSIGN_OR_RETURN(std::string index_text, DumpJson(index, dir_ + ": index.json"));
    std::string layout_text = json{{"imageLayoutVersion", kLayoutVersion}}.dump();

    int pfd = partial_fd_.get();
    // A failed earlier Commit may have left these behind.
    unlinkat(pfd, "index.json", 0);
    unlinkat(pfd, "oci-layout", 0);
    ASSIGN_OR_RETURN(UniqueFd index_fd,
                     WriteFileUnsynced(pfd, "index.json",
                                       std::span(reinterpret_cast<const uint8_t*>(index_text.data()),
                                                 index_text.size()),
                                       partial_path_ + "/index.json"));
    ASSIGN_OR_RETURN(UniqueFd layout_fd,
                     WriteFileUnsynced(pfd, "oci-layout",
                                       std::span(reinterpret_cast<const uint8_t*>(layout_text.data()),
                                                 layout_text.size()),
                                       partial_path_ + "/oci-layout"));
    {
      std::vector<Unsynced> files;
      {
        std::lock_guard<std::mutex> lock(shared_->mu);
        files = std::move(unsynced_);
        unsynced_.clear();
      }
      files.push_back({std::move(index_fd), partial_path_ + "/index.json"});
      files.push_back({std::move(layout_fd), partial_path_ + "/oci-layout"});
      RETURN_IF_ERROR(SyncAll(files, shared_->memory_fs));
    }
    RETURN_IF_ERROR(FsyncFd(shared_->blobs_fd.get(), partial_path_ + "/blobs/sha256"));
    RETURN_IF_ERROR(FsyncDirAt(pfd, "blobs", partial_path_ + "/blobs"));
    RETURN_IF_ERROR(FsyncFd(pfd, partial_path_));

    int parent = parent_fd_.get();
    const char* from = partial_.c_str();
    const char* to = parts_.name.c_str();
    bool exchanged = false;
    if (renameat2(parent, from, parent, to, RENAME_NOREPLACE) != 0) {
      if (errno == EEXIST || errno == ENOTEMPTY) {
        if (!replace_) return ExistsError(dir_);
        RETURN_IF_ERROR(CheckReplaceable(parent, parts_.name, dir_));
        if (renameat2(parent, from, parent, to, RENAME_EXCHANGE) != 0)
          return ErrnoError("renameat2(%s, RENAME_EXCHANGE)", dir_);
        exchanged = true;
      } else if (errno == EINVAL || errno == ENOSYS) {
        // Filesystem without renameat2 flags: check, then a plain rename (racy but rare).
        struct stat st;
        if (fstatat(parent, to, &st, AT_SYMLINK_NOFOLLOW) == 0)
          return replace_ ? absl::FailedPreconditionError(
                                dir_ + ": filesystem cannot swap directories atomically")
                          : ExistsError(dir_);
        if (renameat(parent, from, parent, to) != 0) return ErrnoError("rename(%s)", dir_);
      } else {
        return ErrnoError("renameat2(%s)", dir_);
      }
    }
    committed_ = true;
    RETURN_IF_ERROR(FsyncFd(parent, parts_.parent));
    // After an exchange the old layout sits under our partial name; remove it. If we die
    // here, it is a stale partial (dead pid) for the next Create.
    if (exchanged) (void)RemoveTreeAt(parent, partial_);
    return md;
  }

  std::string dir_;
  PathParts parts_;
  bool replace_;
  UniqueFd parent_fd_;
  std::string partial_;   // name in the parent directory
  UniqueFd partial_fd_;   // holds the flock that marks this partial directory as live
  std::shared_ptr<Shared> shared_;
  std::string partial_path_;  // for messages
  bool committed_ = false;
  std::vector<Unsynced> unsynced_;  // small blobs written, fsynced by Commit (under shared_->mu)
};

// ---------------------------------------------------------------------------------------------
// Reader side.

class MappedImpl final : public Layout::Mapped {
 public:
  MappedImpl(void* p, size_t n) : p_(p), n_(n) {}
  ~MappedImpl() override {
    if (n_ > 0) munmap(p_, n_);
  }
  std::span<const uint8_t> bytes() const override {
    return {static_cast<const uint8_t*>(p_), n_};
  }

 private:
  void* p_;
  size_t n_;
};

class LayoutImpl final : public Layout {
 public:
  LayoutImpl(std::string dir, UniqueFd fd) : dir_(std::move(dir)), fd_(std::move(fd)) {}

  absl::Status Load() {
    // oci-layout
    std::string layout_path = dir_ + "/oci-layout";
    absl::StatusOr<std::string> text = ReadSmallFileAt(fd_.get(), "oci-layout", layout_path);
    if (!text.ok()) {
      if (absl::IsNotFound(text.status()))
        return absl::FailedPreconditionError(
            absl::StrCat(dir_, " is not an OCI image layout (no oci-layout file)"));
      return text.status();
    }
    ASSIGN_OR_RETURN(json layout, ParseJson(*text, layout_path, "oci-layout"));
    if (!layout.is_object() || !layout.contains("imageLayoutVersion") ||
        !layout["imageLayoutVersion"].is_string())
      return absl::FailedPreconditionError(layout_path + ": no imageLayoutVersion");
    std::string version = layout["imageLayoutVersion"].get<std::string>();
    if (version != kLayoutVersion)
      return absl::FailedPreconditionError(absl::StrCat(
          layout_path, ": unsupported imageLayoutVersion \"", version, "\" (want ", kLayoutVersion,
          ")"));

    // index.json
    std::string index_path = dir_ + "/index.json";
    ASSIGN_OR_RETURN(std::string index_text, ReadSmallFileAt(fd_.get(), "index.json", index_path));
    ASSIGN_OR_RETURN(json index, ParseJson(index_text, index_path, "index"));
    if (!index.is_object()) return absl::FailedPreconditionError(index_path + ": not an object");
    if (!index.contains("schemaVersion") || index["schemaVersion"] != 2)
      return absl::FailedPreconditionError(index_path + ": schemaVersion is not 2");
    if (!index.contains("manifests") || !index["manifests"].is_array())
      return absl::FailedPreconditionError(index_path + ": no manifests array");
    const json& manifests = index["manifests"];
    if (manifests.empty()) return absl::FailedPreconditionError(index_path + ": no manifest");
    std::vector<Descriptor> entries;
    for (size_t i = 0; i < manifests.size(); ++i) {
      ASSIGN_OR_RETURN(Descriptor d, DescriptorFromJson(manifests[i], absl::StrCat(
                                                                          index_path, ": manifests[",
                                                                          i, "]")));
      entries.push_back(std::move(d));
    }
    // One manifest: take it (skopeo copy writes it without a ref name). Several: the one
    // named "latest".
    const Descriptor* chosen = nullptr;
    if (entries.size() == 1) {
      chosen = &entries[0];
    } else {
      for (const Descriptor& d : entries) {
        auto it = d.annotations.find(kRefNameAnnotation);
        if (it != d.annotations.end() && it->second == "latest") chosen = &d;
      }
      if (chosen == nullptr)
        return absl::FailedPreconditionError(absl::StrCat(
            index_path, ": ", entries.size(), " manifests and none is named \"latest\""));
    }
    if (chosen->media_type != kManifestMediaType)
      return absl::FailedPreconditionError(absl::StrCat(
          index_path, ": manifest ", chosen->digest, " has media type ", chosen->media_type,
          " (want ", kManifestMediaType, ")"));
    manifest_ = *chosen;

    // The manifest blob.
    std::string hex = manifest_.digest.substr(7);
    std::string mpath = BlobPath(manifest_.digest);
    std::string rel = "blobs/sha256/" + hex;
    absl::StatusOr<std::string> mtext = ReadSmallFileAt(fd_.get(), rel, mpath);
    if (!mtext.ok()) {
      if (absl::IsNotFound(mtext.status()))
        return absl::NotFoundError(absl::StrCat(mpath, ": manifest blob missing"));
      return mtext.status();
    }
    if (mtext->size() != manifest_.size)
      return absl::DataLossError(absl::StrCat(mpath, ": manifest size mismatch (", mtext->size(),
                                              " bytes, index.json says ", manifest_.size, ")"));
    std::string actual = Sha256Digest(
        std::span(reinterpret_cast<const uint8_t*>(mtext->data()), mtext->size()));
    if (actual != manifest_.digest)
      return absl::DataLossError(
          absl::StrCat(mpath, ": manifest digest mismatch (content is ", actual, ")"));
    ASSIGN_OR_RETURN(json manifest, ParseJson(*mtext, mpath, "manifest"));
    if (!manifest.is_object()) return absl::FailedPreconditionError(mpath + ": manifest not an object");
    if (!manifest.contains("schemaVersion") || manifest["schemaVersion"] != 2)
      return absl::FailedPreconditionError(mpath + ": manifest schemaVersion is not 2");
    if (manifest.contains("mediaType") && manifest["mediaType"] != kManifestMediaType)
      return absl::FailedPreconditionError(mpath + ": manifest mediaType is not " +
                                           kManifestMediaType);
    if (!manifest.contains("config"))
      return absl::FailedPreconditionError(mpath + ": manifest has no config");
    ASSIGN_OR_RETURN(config_, DescriptorFromJson(manifest["config"], mpath + ": config"));
    if (!manifest.contains("layers") || !manifest["layers"].is_array())
      return absl::FailedPreconditionError(mpath + ": manifest has no layers array");
    for (size_t i = 0; i < manifest["layers"].size(); ++i) {
      ASSIGN_OR_RETURN(Descriptor d, DescriptorFromJson(manifest["layers"][i],
                                                        absl::StrCat(mpath, ": layers[", i, "]")));
      layers_.push_back(std::move(d));
    }
    ASSIGN_OR_RETURN(annotations_, AnnotationsFromJson(manifest, mpath));

    // Referenced blobs must be present with the right size (digests are checked on read).
    RETURN_IF_ERROR(CheckPresent(config_, "config"));
    for (size_t i = 0; i < layers_.size(); ++i)
      RETURN_IF_ERROR(CheckPresent(layers_[i], absl::StrCat("layer ", i)));
    return absl::OkStatus();
  }

  const std::string& dir() const override { return dir_; }
  const Descriptor& manifest_descriptor() const override { return manifest_; }
  const Descriptor& config() const override { return config_; }
  const std::vector<Descriptor>& layers() const override { return layers_; }
  const std::map<std::string, std::string>& annotations() const override { return annotations_; }

  bool HasBlob(const std::string& digest) const override {
    absl::StatusOr<std::string> hex = DigestHex(digest);
    if (!hex.ok()) return false;
    struct stat st;
    return fstatat(fd_.get(), ("blobs/sha256/" + *hex).c_str(), &st, 0) == 0 &&
           S_ISREG(st.st_mode);
  }

  std::string BlobPath(const std::string& digest) const override {
    absl::StatusOr<std::string> hex = DigestHex(digest);
    if (!hex.ok()) return "";
    return absl::StrCat(dir_, "/blobs/sha256/", *hex);
  }

  absl::StatusOr<std::vector<uint8_t>> ReadBlob(const Descriptor& d) const override {
    ASSIGN_OR_RETURN(UniqueFd fd, OpenBlob(d));
    std::string path = BlobPath(d.digest);
    std::vector<uint8_t> out(d.size);
    size_t got = 0;
    while (got < out.size()) {
      ssize_t r = pread(fd.get(), out.data() + got, out.size() - got, static_cast<off_t>(got));
      if (r < 0) {
        if (errno == EINTR) continue;
        return ErrnoError("read(%s)", path);
      }
      if (r == 0) return absl::DataLossError(path + ": blob shrank while reading");
      got += static_cast<size_t>(r);
    }
    std::string actual = Sha256Digest(out);
    if (actual != d.digest)
      return absl::DataLossError(absl::StrCat(path, ": digest mismatch (content is ", actual, ")"));
    return out;
  }

  absl::StatusOr<std::unique_ptr<Mapped>> MapBlob(const Descriptor& d) const override {
    ASSIGN_OR_RETURN(UniqueFd fd, OpenBlob(d));
    if (d.size == 0) return std::make_unique<MappedImpl>(nullptr, 0);
    void* p = mmap(nullptr, d.size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (p == MAP_FAILED) return ErrnoError("mmap(%s)", BlobPath(d.digest));
    return std::make_unique<MappedImpl>(p, d.size);
  }

 private:
  absl::Status CheckPresent(const Descriptor& d, const std::string& what) const {
    std::string path = BlobPath(d.digest);
    struct stat st;
    if (fstatat(fd_.get(), ("blobs/sha256/" + d.digest.substr(7)).c_str(), &st, 0) != 0)
      return absl::NotFoundError(absl::StrCat(path, ": ", what, " blob missing"));
    if (static_cast<uint64_t>(st.st_size) != d.size)
      return absl::DataLossError(absl::StrCat(path, ": ", what, " blob has ", st.st_size,
                                              " bytes, manifest says ", d.size));
    return absl::OkStatus();
  }

  // Opens a blob and checks its size against |d|.
  absl::StatusOr<UniqueFd> OpenBlob(const Descriptor& d) const {
    absl::StatusOr<std::string> hex = DigestHex(d.digest);
    if (!hex.ok()) return absl::InvalidArgumentError(absl::StrCat(dir_, ": ", hex.status().message()));
    std::string path = BlobPath(d.digest);
    UniqueFd fd(openat(fd_.get(), ("blobs/sha256/" + *hex).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      if (errno == ENOENT) return absl::NotFoundError(path + ": blob missing");
      return ErrnoError("open(%s)", path);
    }
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return ErrnoError("fstat(%s)", path);
    if (!S_ISREG(st.st_mode)) return absl::DataLossError(path + ": not a regular file");
    if (static_cast<uint64_t>(st.st_size) != d.size)
      return absl::DataLossError(absl::StrCat(path, ": blob has ", st.st_size,
                                              " bytes, descriptor says ", d.size));
    return fd;
  }

  std::string dir_;
  UniqueFd fd_;
  Descriptor manifest_;
  Descriptor config_;
  std::vector<Descriptor> layers_;
  std::map<std::string, std::string> annotations_;
};

}  // namespace

std::string Sha256Digest(std::span<const uint8_t> bytes) {
  Sha256 h;
  h.Update(bytes.data(), bytes.size());
  return h.Final();
}

absl::StatusOr<std::unique_ptr<LayoutWriter>> LayoutWriter::Create(const std::string& dir,
                                                                   bool replace) {
  ASSIGN_OR_RETURN(PathParts parts, SplitDir(dir));
  UniqueFd parent(open(parts.parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!parent) return ErrnoError("open(%s) (parent of %s)", parts.parent, dir);
  struct stat st;
  if (fstatat(parent.get(), parts.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (!replace) return ExistsError(dir);
    RETURN_IF_ERROR(CheckReplaceable(parent.get(), parts.name, dir));
  }
  RemoveStalePartials(parent.get());

  std::string partial = PartialName(parts.name, getpid());
  std::string shown = parts.parent + "/" + partial;
  if (mkdirat(parent.get(), partial.c_str(), 0755) != 0) {
    if (errno == ENAMETOOLONG && partial.size() > NAME_MAX)  // the name fits, the partial one not
      return absl::InvalidArgumentError(absl::StrCat(
          dir, ": a directory name of ", parts.name.size(), " bytes is too long (at most ",
          NAME_MAX - (partial.size() - parts.name.size()), ": it is written as ", shown, " first)"));
    if (errno == EEXIST)
      return absl::AlreadyExistsError(
          absl::StrCat(dir, ": another writer of this process is creating it (", shown, ")"));
    return ErrnoError("mkdir(%s)", shown);
  }
  UniqueFd pfd(openat(parent.get(), partial.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!pfd) {
    absl::Status s = ErrnoError("open(%s)", shown);
    (void)RemoveTreeAt(parent.get(), partial);
    return s;
  }
  // Marks the partial directory as live for RemoveStalePartials (in any process).
  flock(pfd.get(), LOCK_EX | LOCK_NB);
  auto shared = std::make_shared<Shared>();
  shared->dir = dir;
  absl::Status s = absl::OkStatus();
  if (mkdirat(pfd.get(), "blobs", 0755) != 0 ||
      mkdirat(pfd.get(), "blobs/sha256", 0755) != 0) {
    s = ErrnoError("mkdir(%s/blobs/sha256)", shown);
  } else {
    absl::StatusOr<UniqueFd> bfd = OpenDirAt(pfd.get(), "blobs/sha256", shown + "/blobs/sha256");
    if (bfd.ok()) {
      shared->blobs_fd = std::move(*bfd);
      struct statfs fs;
      if (fstatfs(shared->blobs_fd.get(), &fs) == 0)
        shared->memory_fs = fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC;
    } else {
      s = bfd.status();
    }
  }
  if (!s.ok()) {
    (void)RemoveTreeAt(parent.get(), partial);
    return s;
  }
  return std::unique_ptr<LayoutWriter>(new LayoutWriterImpl(dir, std::move(parts), replace,
                                                            std::move(parent), std::move(partial),
                                                            std::move(pfd), std::move(shared)));
}

absl::StatusOr<std::unique_ptr<Layout>> Layout::Open(const std::string& dir) {
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(dir, ": no such directory"));
    if (errno == ENOTDIR) return absl::FailedPreconditionError(dir + ": not a directory");
    return ErrnoError("open(%s)", dir);
  }
  auto layout = std::make_unique<LayoutImpl>(dir, std::move(fd));
  try {
    RETURN_IF_ERROR(layout->Load());
  } catch (const std::exception& e) {  // a JSON access we did not guard; never escape
    return absl::FailedPreconditionError(absl::StrCat(dir, ": malformed image: ", e.what()));
  }
  return std::unique_ptr<Layout>(std::move(layout));
}

}  // namespace clonebot::image
