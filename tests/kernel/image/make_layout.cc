// make_layout: writes a small clonebot-shaped OCI image layout for interoperability tests with
// other OCI tools (skopeo), or reads one back.
//
//   make_layout write DIR [--config-media-type TYPE]   prints the layer digest on stdout
//   make_layout check DIR                              opens DIR, reads and verifies every blob
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "image/oci.h"
#include "nlohmann/json.hpp"

namespace {

using namespace clonebot::image;

constexpr char kPagesMediaType[] = "application/vnd.clonebot.snapshot.pages.v1";

int Fail(const absl::Status& s) {
  fprintf(stderr, "make_layout: %s\n", std::string(s.message()).c_str());
  return 1;
}

int Write(const std::string& dir, const std::string& config_media_type) {
  auto w = LayoutWriter::Create(dir, /*replace=*/true);
  if (!w.ok()) return Fail(w.status());
  // One layer in clonebot's own media type: 3 pages and a bit of pattern.
  std::vector<uint8_t> pages(3 * 4096 + 123);
  for (size_t i = 0; i < pages.size(); ++i) pages[i] = static_cast<uint8_t>(i * 7 + 1);
  auto b = (*w)->NewBlob();
  if (!b.ok()) return Fail(b.status());
  if (absl::Status s = (*b)->Append(pages); !s.ok()) return Fail(s);
  auto layer = (*b)->Finish(kPagesMediaType);
  if (!layer.ok()) return Fail(layer.status());
  b->reset();
  layer->annotations["org.clonebot.pages"] = "3";

  // A valid OCI image config with an extra top-level "clonebot" key.
  nlohmann::json config = {
      {"architecture", "amd64"},
      {"os", "linux"},
      {"created", "2024-01-01T00:00:00Z"},
      {"config", {{"Env", {"PATH=/usr/bin"}}}},
      {"rootfs", {{"type", "layers"}, {"diff_ids", {layer->digest}}}},
      {"clonebot", {{"kind", "snapshot"}, {"format", 1}, {"pid", 1234}}},
  };
  std::string text = config.dump();
  auto c = (*w)->PutBlob(config_media_type,
                         std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  if (!c.ok()) return Fail(c.status());
  auto m = (*w)->Commit(*c, {*layer}, {{"org.opencontainers.image.title", "make_layout"}});
  if (!m.ok()) return Fail(m.status());
  printf("%s\n", layer->digest.c_str());
  return 0;
}

int Check(const std::string& dir) {
  auto lay = Layout::Open(dir);
  if (!lay.ok()) return Fail(lay.status());
  std::vector<Descriptor> all = (*lay)->layers();
  all.push_back((*lay)->config());
  for (const Descriptor& d : all) {
    auto r = (*lay)->ReadBlob(d);
    if (!r.ok()) return Fail(r.status());
  }
  printf("ok %s config %s (%s), %zu layer(s)", (*lay)->manifest_descriptor().digest.c_str(),
         (*lay)->config().digest.c_str(), (*lay)->config().media_type.c_str(),
         (*lay)->layers().size());
  for (const Descriptor& d : (*lay)->layers()) printf(" %s %s", d.media_type.c_str(), d.digest.c_str());
  printf("\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && strcmp(argv[1], "write") == 0) {
    std::string media_type = kConfigMediaType;
    if (argc == 5 && strcmp(argv[3], "--config-media-type") == 0) media_type = argv[4];
    return Write(argv[2], media_type);
  }
  if (argc == 3 && strcmp(argv[1], "check") == 0) return Check(argv[2]);
  fprintf(stderr, "usage: make_layout write DIR [--config-media-type TYPE] | check DIR\n");
  return 2;
}
