// image: OCI image layouts on disk (https://github.com/opencontainers/image-spec, layout.md).
//
// clonebot's snapshots and checkpoints are OCI image layouts so that any OCI tool (skopeo, a
// registry) can move them. This module knows the OCI layer only: blobs, descriptors, manifest,
// index.json, oci-layout, atomic creation. What the blobs mean is the business of snapshot/.
//
// Layout written:
//   DIR/oci-layout            {"imageLayoutVersion":"1.0.0"}
//   DIR/index.json            one manifest, annotated org.opencontainers.image.ref.name=latest
//   DIR/blobs/sha256/<hex>    manifest, config and layer blobs
//
// Atomicity: a LayoutWriter builds everything in a hidden sibling directory
// (".<name>.partial-<pid>") and Commit() fsyncs every file and directory, then renames it into
// place. Killed or failed before Commit, no directory named DIR appears or changes; the partial
// directory is removed by the destructor, and stale ones (whose pid is dead) by the next
// LayoutWriter::Create in the same parent directory.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace clonebot::image {

inline constexpr char kManifestMediaType[] = "application/vnd.oci.image.manifest.v1+json";
inline constexpr char kIndexMediaType[] = "application/vnd.oci.image.index.v1+json";
inline constexpr char kConfigMediaType[] = "application/vnd.oci.image.config.v1+json";

struct Descriptor {
  std::string media_type;
  std::string digest;  // "sha256:<64 hex>"
  uint64_t size = 0;
  std::map<std::string, std::string> annotations;
};

// "sha256:<hex>" of |bytes| (OpenSSL, SHA-NI where the CPU has it).
std::string Sha256Digest(std::span<const uint8_t> bytes);

// One blob being streamed into a layout. Hashes while it writes; large blobs are written with
// O_DIRECT (page-cache writes cost more than the disk on these VMs). Not thread-safe; several
// BlobWriters of one LayoutWriter may be used from different threads at once.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  virtual absl::Status Append(std::span<const uint8_t> bytes) = 0;
  virtual uint64_t size() const = 0;
  // From now on this blob and |other| (another blob of the same LayoutWriter) are hashed
  // together, two SHA-256 streams at once (twice the throughput with SHA-NI; see sha256.h):
  // bytes appended to one wait, staged, until the other has as many. Both must then be used
  // from one thread. Ends when either is finished or destroyed; pairing with a third blob ends
  // the earlier pairing.
  virtual void PairWith(BlobWriter& other) = 0;
  // Appends the bytes of |mine| to this blob and those of |theirs| to |other| (another blob of
  // the same LayoutWriter, used from the same thread), the two hashed together as far as their
  // lengths match. On a memory filesystem the bytes go from the caller's memory to the files
  // (one pwritev each), never through a staging buffer: there a write is a copy into the page
  // cache, and staging would be a second one. Elsewhere it is Append of each span. The spans
  // need not outlive the call.
  virtual absl::Status AppendTwo(std::span<const iovec> mine, BlobWriter& other,
                                 std::span<const iovec> theirs) = 0;
  // Finishes the blob, moves it to blobs/sha256/<hex> (a blob with that digest already present
  // is kept and the new copy dropped) and returns its descriptor.
  virtual absl::StatusOr<Descriptor> Finish(const std::string& media_type) = 0;
};

class LayoutWriter {
 public:
  // |dir| must not exist yet unless |replace| is set (then Commit swaps it atomically with
  // renameat2(RENAME_EXCHANGE) and removes the old one). Its parent directory must exist.
  // Replacing refuses a |dir| that is neither an OCI layout (has oci-layout) nor empty.
  static absl::StatusOr<std::unique_ptr<LayoutWriter>> Create(const std::string& dir,
                                                              bool replace = false);
  virtual ~LayoutWriter() = default;

  // NewBlob and PutBlob may be called from several threads at once. A BlobWriter may outlive
  // its LayoutWriter (its Finish then fails). O_DIRECT is skipped where open() refuses it, or
  // when the environment sets CLONEBOT_IMAGE_NO_DIRECT=1.
  virtual absl::StatusOr<std::unique_ptr<BlobWriter>> NewBlob() = 0;
  // Whether the layout is on a memory filesystem (tmpfs, ramfs): one more blob costs no fsync.
  virtual bool on_memory_fs() const = 0;
  virtual absl::StatusOr<Descriptor> PutBlob(const std::string& media_type,
                                             std::span<const uint8_t> bytes) = 0;
  // Writes the manifest (config + layers + annotations), index.json and oci-layout, fsyncs, and
  // renames the partial directory to |dir|. Returns the manifest's descriptor. Fails while a
  // BlobWriter is unfinished, or if a config/layer blob is not in this layout with that size;
  // a Commit that failed before the rename may be retried.
  virtual absl::StatusOr<Descriptor> Commit(
      const Descriptor& config, const std::vector<Descriptor>& layers,
      const std::map<std::string, std::string>& annotations) = 0;
};

// A committed layout, opened for reading. Open() checks oci-layout, index.json and the manifest
// (digest verified) and fails with one clear message on anything else.
class Layout {
 public:
  static absl::StatusOr<std::unique_ptr<Layout>> Open(const std::string& dir);
  virtual ~Layout() = default;

  virtual const std::string& dir() const = 0;
  virtual const Descriptor& manifest_descriptor() const = 0;
  virtual const Descriptor& config() const = 0;
  virtual const std::vector<Descriptor>& layers() const = 0;
  virtual const std::map<std::string, std::string>& annotations() const = 0;

  virtual bool HasBlob(const std::string& digest) const = 0;
  virtual std::string BlobPath(const std::string& digest) const = 0;
  // Reads a whole blob and verifies its digest and size.
  virtual absl::StatusOr<std::vector<uint8_t>> ReadBlob(const Descriptor& d) const = 0;
  // Maps a blob read-only (size checked, digest not verified: for large page packs read by
  // offset). The mapping lives as long as the returned object.
  struct Mapped {
    virtual ~Mapped() = default;
    virtual std::span<const uint8_t> bytes() const = 0;
  };
  virtual absl::StatusOr<std::unique_ptr<Mapped>> MapBlob(const Descriptor& d) const = 0;
};

}  // namespace clonebot::image
