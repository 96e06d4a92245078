#!/bin/sh
# Interoperability of src/image layouts with skopeo (Debian's, 1.9.x):
#  1. a layout with a standard OCI config (plus a top-level "clonebot" key) and a layer of
#     clonebot's own media type is accepted by `skopeo inspect` and `skopeo inspect --raw`;
#  2. `skopeo copy oci:A oci:B` (moving an image) works and B reads back with src/image;
#  3. a custom config media type is still copied, and readable raw (plain inspect refuses it).
# Usage: skopeo_test.sh MAKE_LAYOUT. Exit 77 (skip) without skopeo.
set -eu
make_layout=$1
command -v skopeo >/dev/null 2>&1 || { echo "skopeo not installed: skip"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/skopeo_test.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

layer=$("$make_layout" write "$work/img")
echo "layer $layer"

out=$(skopeo inspect "oci:$work/img") || fail "skopeo inspect rejected the layout"
echo "$out"
echo "$out" | grep -q "\"$layer\"" || fail "skopeo inspect does not list layer $layer"
echo "$out" | grep -q '"Architecture": "amd64"' || fail "skopeo inspect did not read the config"

raw=$(skopeo inspect --raw "oci:$work/img") || fail "skopeo inspect --raw failed"
echo "$raw"
echo "$raw" | grep -q "\"digest\":\"$layer\"" || fail "raw manifest does not name $layer"
echo "$raw" | grep -q '"mediaType":"application/vnd.clonebot.snapshot.pages.v1"' ||
  fail "raw manifest lost the layer media type"

cfg=$(skopeo inspect --config --raw "oci:$work/img") || fail "skopeo inspect --config --raw failed"
echo "$cfg" | grep -q '"clonebot":{' || fail "raw config lost the clonebot key"

skopeo copy --quiet "oci:$work/img" "oci:$work/copy" || fail "skopeo copy oci: oci: failed"
"$make_layout" check "$work/copy" || fail "the copy does not read back"
"$make_layout" check "$work/copy" | grep -q "$layer" || fail "the copy lost layer $layer"
# Same manifest digest on both sides: skopeo moved the bytes unchanged.
a=$("$make_layout" check "$work/img" | cut -d' ' -f2)
b=$("$make_layout" check "$work/copy" | cut -d' ' -f2)
[ "$a" = "$b" ] || fail "manifest digest changed in the copy: $a -> $b"

# Custom config media type: copy and raw reads work; plain inspect (which decodes the config as
# an image) refuses it as an "artifact". Recorded, not required.
"$make_layout" write "$work/custom" --config-media-type application/vnd.clonebot.config.v1+json \
  >/dev/null
skopeo copy --quiet "oci:$work/custom" "oci:$work/custom-copy" || fail "copy with custom config type"
"$make_layout" check "$work/custom-copy" >/dev/null || fail "custom-config copy does not read back"
if skopeo inspect "oci:$work/custom" >/dev/null 2>&1; then
  echo "note: skopeo inspect accepts a custom config media type"
else
  echo "note: skopeo inspect refuses a custom config media type (raw and copy work)"
fi
echo "PASS"
