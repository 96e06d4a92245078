"""The page contents snap_target writes, reproduced byte for byte (see progs/snap_target.c).

pattern(seed, i): word j (0-based, little-endian u64) of page i is mix64(s0 + (j + 1) * GOLDEN)
with s0 = mix64(mix64(seed) + i), all mod 2**64 (a splitmix64 stream keyed by seed and page).

Model keeps the expected contents of snap_target's region as the commands W/Z change it.
"""

import functools
import struct

PAGE = 4096
M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
ZERO_PAGE = bytes(PAGE)


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


@functools.lru_cache(maxsize=8192)
def pattern(seed, i, page=PAGE):
    s = mix64((mix64(seed) + i) & M64)
    words = []
    for _ in range(page // 8):
        s = (s + GOLDEN) & M64
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        words.append(z ^ (z >> 31))
    return struct.pack("<%dQ" % len(words), *words)


def initial_page(i, page=PAGE):
    """Page i of snap_target's region right after READY."""
    if i % 8 in (0, 1):          # never touched / written with zeros
        return bytes(page)
    return pattern(0, i, page)


class Model:
    """Expected contents of snap_target's region (pages as bytes objects)."""

    def __init__(self, npages, page=PAGE):
        self.page = page
        self.pages = [initial_page(i, page) for i in range(npages)]

    def write(self, seed, idxs):
        for i in idxs:
            self.pages[i] = pattern(seed, i, self.page)

    def zero(self, idxs):
        for i in idxs:
            self.pages[i] = bytes(self.page)

    def copy(self):
        m = Model.__new__(Model)
        m.page = self.page
        m.pages = list(self.pages)
        return m

    def bytes(self):
        return b"".join(self.pages)

    def differing(self, other):
        """Indices of pages whose content differs from other's."""
        return {i for i, (a, b) in enumerate(zip(self.pages, other.pages)) if a != b}
