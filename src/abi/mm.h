// Memory-management kernel ABI that Debian 12's headers (linux-libc-dev 6.1) lack: the
// PAGEMAP_SCAN ioctl (kernel 6.7) and the userfaultfd features for async write-protect.
// Values are the kernel's uapi (include/uapi/linux/fs.h, userfaultfd.h); the static_asserts pin
// the struct layouts.
#pragma once

#include <linux/types.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef PAGEMAP_SCAN
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
#define PAGE_IS_HUGE (1 << 6)
#define PAGE_IS_SOFT_DIRTY (1 << 7)
struct page_region {
  __u64 start;
  __u64 end;
  __u64 categories;
};
#define PM_SCAN_WP_MATCHING (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)
struct pm_scan_arg {
  __u64 size;
  __u64 flags;
  __u64 start;
  __u64 end;
  __u64 walk_end;
  __u64 vec;
  __u64 vec_len;
  __u64 max_pages;
  __u64 category_inverted;
  __u64 category_mask;
  __u64 category_anyof_mask;
  __u64 return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif
static_assert(sizeof(pm_scan_arg) == 96, "struct pm_scan_arg layout (kernel 6.7)");
static_assert(sizeof(page_region) == 24, "struct page_region layout (kernel 6.7)");

// /proc/PID/pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst).
inline constexpr __u64 kPagemapPresent = 1ULL << 63;
inline constexpr __u64 kPagemapSwapped = 1ULL << 62;
inline constexpr __u64 kPagemapFile = 1ULL << 61;
inline constexpr __u64 kPagemapSoftDirty = 1ULL << 55;
