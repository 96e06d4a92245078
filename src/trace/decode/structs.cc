// strace-exact struct formatters (x86_64 layouts, strace 6.1 default abbreviation).
#include "trace/decode/structs.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cinttypes>
#include <cstdio>

#include "trace/decode/structs_internal.h"

namespace clonebot::trace::decode {
namespace internal {

void AppendU(std::string* out, uint64_t v) {
  char buf[24];
  int n = snprintf(buf, sizeof(buf), "%" PRIu64, v);
  if (n > 0) out->append(buf, static_cast<size_t>(n));
}

void AppendD(std::string* out, int64_t v) {
  char buf[24];
  int n = snprintf(buf, sizeof(buf), "%" PRId64, v);
  if (n > 0) out->append(buf, static_cast<size_t>(n));
}

void AppendXval(std::string* out, uint64_t v, std::span<const FlagDef> defs, const char* dflt) {
  for (const FlagDef& d : defs) {
    if (d.value == v && d.name) {
      out->append(d.name);
      return;
    }
  }
  AppendHex(out, v);
  if (dflt) {
    out->append(" /* ");
    out->append(dflt);
    out->append(" */");
  }
}

void AppendSymbolicMode(std::string* out, uint32_t mode) {
  static constexpr FlagDef kModeTypes[] = {
      {0140000, "S_IFSOCK"}, {0120000, "S_IFLNK"}, {0100000, "S_IFREG"}, {0060000, "S_IFBLK"},
      {0040000, "S_IFDIR"},  {0020000, "S_IFCHR"}, {0010000, "S_IFIFO"},
  };
  const char* ifmt = "";
  if (mode & 0170000) {
    ifmt = nullptr;
    for (const FlagDef& d : kModeTypes) {
      if (d.value == (mode & 0170000)) ifmt = d.name;
    }
  }
  if (!ifmt) {
    AppendOctalMode(out, mode);
    return;
  }
  out->append(ifmt);
  if (*ifmt) out->push_back('|');
  if (mode & 04000) out->append("S_ISUID|");
  if (mode & 02000) out->append("S_ISGID|");
  if (mode & 01000) out->append("S_ISVTX|");
  AppendOctalMode(out, mode & ~uint32_t{0177000});
}

}  // namespace internal

namespace {

using internal::AppendD;
using internal::AppendU;
using internal::Ld;

void AppendDev(std::string* out, uint64_t dev) {
  const uint64_t major = ((dev >> 32) & 0xfffff000) | ((dev >> 8) & 0xfff);
  const uint64_t minor = ((dev >> 12) & 0xffffff00) | (dev & 0xff);
  out->append("makedev(");
  AppendHex(out, major);
  out->append(", ");
  AppendHex(out, minor);
  out->push_back(')');
}

// "%#0*x" with width 2 * size (strace's PRINT_VAL_0X).
void AppendZeroX(std::string* out, uint64_t v, int size) {
  char buf[32];
  int n = snprintf(buf, sizeof(buf), "%#0*" PRIx64, size * 2, v);
  if (n > 0) out->append(buf, static_cast<size_t>(n));
}

void AppendTimespecAt(std::string* out, std::span<const uint8_t> b, size_t off) {
  out->append("{tv_sec=");
  AppendD(out, Ld<int64_t>(b, off));
  out->append(", tv_nsec=");
  AppendD(out, Ld<int64_t>(b, off + 8));
  out->push_back('}');
}

void AppendTimevalAt(std::string* out, std::span<const uint8_t> b, size_t off) {
  out->append("{tv_sec=");
  AppendD(out, Ld<int64_t>(b, off));
  out->append(", tv_usec=");
  AppendD(out, Ld<int64_t>(b, off + 8));
  out->push_back('}');
}

// Quotes a fixed char array as PRINT_FIELD_CSTRING does: up to the NUL, "..." if none.
void AppendCString(std::string* out, std::span<const uint8_t> field) {
  size_t len = 0;
  while (len < field.size() && field[len]) ++len;
  if (len == field.size()) {
    AppendQuoted(out, field.first(field.size() - 1), true);
  } else {
    AppendQuoted(out, field.first(len), false);
  }
}

constexpr FlagDef kStatxMasks[] = {
    {0xfff, "STATX_ALL"},   {0x7ff, "STATX_BASIC_STATS"}, {0x1, "STATX_TYPE"},
    {0x2, "STATX_MODE"},    {0x4, "STATX_NLINK"},         {0x8, "STATX_UID"},
    {0x10, "STATX_GID"},    {0x20, "STATX_ATIME"},        {0x40, "STATX_MTIME"},
    {0x80, "STATX_CTIME"},  {0x100, "STATX_INO"},         {0x200, "STATX_SIZE"},
    {0x400, "STATX_BLOCKS"}, {0x800, "STATX_BTIME"},      {0x1000, "STATX_MNT_ID"},
    {0x2000, "STATX_DIOALIGN"},
};
constexpr FlagDef kStatxAttrs[] = {
    {0x4, "STATX_ATTR_COMPRESSED"}, {0x10, "STATX_ATTR_IMMUTABLE"},
    {0x20, "STATX_ATTR_APPEND"},    {0x40, "STATX_ATTR_NODUMP"},
    {0x800, "STATX_ATTR_ENCRYPTED"}, {0x1000, "STATX_ATTR_AUTOMOUNT"},
    {0x2000, "STATX_ATTR_MOUNT_ROOT"}, {0x100000, "STATX_ATTR_VERITY"},
    {0x200000, "STATX_ATTR_DAX"},
};
constexpr FlagDef kStatfsFlags[] = {
    {0x20, "ST_VALID"},      {0x1, "ST_RDONLY"},       {0x2, "ST_NOSUID"},
    {0x4, "ST_NODEV"},       {0x8, "ST_NOEXEC"},       {0x10, "ST_SYNCHRONOUS"},
    {0x40, "ST_MANDLOCK"},   {0x400, "ST_NOATIME"},    {0x800, "ST_NODIRATIME"},
    {0x1000, "ST_RELATIME"}, {0x2000, "ST_NOSYMFOLLOW"},
};
constexpr FlagDef kFsMagic[] = {
    {0x0000002f, "QNX4_SUPER_MAGIC"}, {0x00000033, "Z3FOLD_MAGIC"},
    {0x00000187, "AUTOFS_SUPER_MAGIC"}, {0x00001373, "DEVFS_SUPER_MAGIC"},
    {0x0000137d, "EXT_SUPER_MAGIC"}, {0x0000137f, "MINIX_SUPER_MAGIC"},
    {0x0000138f, "MINIX_SUPER_MAGIC2"}, {0x00001cd1, "DEVPTS_SUPER_MAGIC"},
    {0x00002468, "MINIX2_SUPER_MAGIC"}, {0x00002478, "MINIX2_SUPER_MAGIC2"},
    {0x00003434, "NILFS_SUPER_MAGIC"}, {0x00004244, "HFS_SUPER_MAGIC"},
    {0x0000482b, "HFSPLUS_SUPER_MAGIC"}, {0x00004d44, "MSDOS_SUPER_MAGIC"},
    {0x00004d5a, "MINIX3_SUPER_MAGIC"}, {0x0000517b, "SMB_SUPER_MAGIC"},
    {0x0000564c, "NCP_SUPER_MAGIC"}, {0x00005df5, "EXOFS_SUPER_MAGIC"},
    {0x00006969, "NFS_SUPER_MAGIC"}, {0x00007275, "ROMFS_MAGIC"},
    {0x000072b6, "JFFS2_SUPER_MAGIC"}, {0x00009660, "ISOFS_SUPER_MAGIC"},
    {0x00009fa0, "PROC_SUPER_MAGIC"}, {0x00009fa1, "OPENPROM_SUPER_MAGIC"},
    {0x00009fa2, "USBDEVICE_SUPER_MAGIC"}, {0x0000adf5, "ADFS_SUPER_MAGIC"},
    {0x0000adff, "AFFS_SUPER_MAGIC"}, {0x0000ef51, "EXT2_OLD_SUPER_MAGIC"},
    {0x0000ef53, "EXT2_SUPER_MAGIC"}, {0x0000f15f, "ECRYPTFS_SUPER_MAGIC"},
    {0x00011954, "UFS_MAGIC"}, {0x0027e0eb, "CGROUP_SUPER_MAGIC"},
    {0x00414a53, "EFS_SUPER_MAGIC"}, {0x00c0ffee, "HOSTFS_SUPER_MAGIC"},
    {0x00c36400, "CEPH_SUPER_MAGIC"}, {0x01021994, "TMPFS_MAGIC"},
    {0x01021997, "V9FS_MAGIC"}, {0x01161970, "GFS2_MAGIC"},
    {0x012fd16d, "XIAFS_SUPER_MAGIC"}, {0x012ff7b4, "XENIX_SUPER_MAGIC"},
    {0x012ff7b5, "SYSV4_SUPER_MAGIC"}, {0x012ff7b6, "SYSV2_SUPER_MAGIC"},
    {0x012ff7b7, "COH_SUPER_MAGIC"}, {0x02011994, "SHMFS_SUPER_MAGIC"},
    {0x09041934, "ANON_INODE_FS_MAGIC"}, {0x0bad1dea, "FUTEXFS_SUPER_MAGIC"},
    {0x0bd00bd0, "LL_SUPER_MAGIC"}, {0x0bd00bd1, "LUSTRE_SUPER_MAGIC"},
    {0x11307854, "MTD_INODE_FS_MAGIC"}, {0x13661366, "BALLOON_KVM_MAGIC"},
    {0x15013346, "UDF_SUPER_MAGIC"}, {0x1badface, "BFS_MAGIC"},
    {0x2011bab0, "EXFAT_SUPER_MAGIC"}, {0x24051905, "UBIFS_SUPER_MAGIC"},
    {0x28cd3d45, "CRAMFS_MAGIC"}, {0x2fc12fc1, "ZFS_SUPER_MAGIC"},
    {0x3153464a, "JFS_SUPER_MAGIC"}, {0x42465331, "BEFS_SUPER_MAGIC"},
    {0x42494e4d, "BINFMTFS_MAGIC"}, {0x43415d53, "SMACK_MAGIC"},
    {0x444d4142, "DMA_BUF_MAGIC"}, {0x453dcd28, "CRAMFS_MAGIC_WEND"},
    {0x454d444d, "DEVMEM_MAGIC"}, {0x47504653, "GPFS_SUPER_MAGIC"},
    {0x50495045, "PIPEFS_MAGIC"}, {0x52654973, "REISERFS_SUPER_MAGIC"},
    {0x5345434d, "SECRETMEM_MAGIC"}, {0x5346414f, "AFS_SUPER_MAGIC"},
    {0x5346544e, "NTFS_SB_MAGIC"}, {0x534f434b, "SOCKFS_MAGIC"},
    {0x54190100, "UFS_CIGAM"}, {0x565a4653, "VZFS_SUPER_MAGIC"},
    {0x57ac6e9d, "STACK_END_MAGIC"}, {0x58295829, "ZSMALLOC_MAGIC"},
    {0x58465342, "XFS_SUPER_MAGIC"}, {0x5a3c69f0, "AAFS_MAGIC"},
    {0x5a4f4653, "ZONEFS_MAGIC"}, {0x6165676c, "PSTOREFS_MAGIC"},
    {0x61756673, "AUFS_SUPER_MAGIC"}, {0x62646576, "BDEVFS_MAGIC"},
    {0x62656570, "CONFIGFS_MAGIC"}, {0x62656572, "SYSFS_MAGIC"},
    {0x63677270, "CGROUP2_SUPER_MAGIC"}, {0x64626720, "DEBUGFS_MAGIC"},
    {0x64646178, "DAXFS_MAGIC"}, {0x65735543, "FUSE_CTL_SUPER_MAGIC"},
    {0x65735546, "FUSE_SUPER_MAGIC"}, {0x68191122, "QNX6_SUPER_MAGIC"},
    {0x6b414653, "AFS_FS_MAGIC"}, {0x6c6f6f70, "BINDERFS_SUPER_MAGIC"},
    {0x6e736673, "NSFS_MAGIC"}, {0x73636673, "SECURITYFS_MAGIC"},
    {0x73717368, "SQUASHFS_MAGIC"}, {0x73727279, "BTRFS_TEST_MAGIC"},
    {0x73757245, "CODA_SUPER_MAGIC"}, {0x7461636f, "OCFS2_SUPER_MAGIC"},
    {0x74726163, "TRACEFS_MAGIC"}, {0x794c7630, "OVERLAYFS_SUPER_MAGIC"},
    {0x858458f6, "RAMFS_MAGIC"}, {0x9123683e, "BTRFS_SUPER_MAGIC"},
    {0x958458f6, "HUGETLBFS_MAGIC"}, {0xa501fcf5, "VXFS_SUPER_MAGIC"},
    {0xabba1974, "XENFS_SUPER_MAGIC"}, {0xc7571590, "PPC_CMM_MAGIC"},
    {0xc97e8168, "LOGFS_MAGIC"}, {0xcafe4a11, "BPF_FS_MAGIC"},
    {0xde5e81e4, "EFIVARFS_MAGIC"}, {0xe0f5e1e2, "EROFS_SUPER_MAGIC_V1"},
    {0xf2f52010, "F2FS_SUPER_MAGIC"}, {0xf97cff8c, "SELINUX_MAGIC"},
    {0xf995e849, "HPFS_SUPER_MAGIC"}, {0xfe534d42, "SMB2_SUPER_MAGIC"},
    {0xff534d42, "CIFS_SUPER_MAGIC"},
};
constexpr FlagDef kPollFlags[] = {
    {0x1, "POLLIN"},      {0x2, "POLLPRI"},      {0x4, "POLLOUT"},     {0x8, "POLLERR"},
    {0x10, "POLLHUP"},    {0x20, "POLLNVAL"},    {0x40, "POLLRDNORM"}, {0x80, "POLLRDBAND"},
    {0x100, "POLLWRNORM"}, {0x200, "POLLWRBAND"}, {0x400, "POLLMSG"},  {0x1000, "POLLREMOVE"},
    {0x2000, "POLLRDHUP"},
};
constexpr FlagDef kEpollEvents[] = {
    {0x1, "EPOLLIN"},          {0x2, "EPOLLPRI"},        {0x4, "EPOLLOUT"},
    {0x8, "EPOLLERR"},         {0x10, "EPOLLHUP"},       {0x20, "EPOLLNVAL"},
    {0x40, "EPOLLRDNORM"},     {0x80, "EPOLLRDBAND"},    {0x100, "EPOLLWRNORM"},
    {0x200, "EPOLLWRBAND"},    {0x400, "EPOLLMSG"},      {0x2000, "EPOLLRDHUP"},
    {1u << 28, "EPOLLEXCLUSIVE"}, {1u << 29, "EPOLLWAKEUP"}, {1u << 30, "EPOLLONESHOT"},
    {1u << 31, "EPOLLET"},
};
constexpr FlagDef kTermIflags[] = {
    {01, "IGNBRK"},   {02, "BRKINT"},  {04, "IGNPAR"},   {010, "PARMRK"},  {020, "INPCK"},
    {040, "ISTRIP"},  {0100, "INLCR"}, {0200, "IGNCR"},  {0400, "ICRNL"},  {01000, "IUCLC"},
    {02000, "IXON"},  {04000, "IXANY"}, {010000, "IXOFF"}, {020000, "IMAXBEL"},
    {040000, "IUTF8"},
};
constexpr FlagDef kTermOflags[] = {
    {01, "OPOST"}, {02, "OLCUC"},   {04, "ONLCR"},  {010, "OCRNL"},
    {020, "ONOCR"}, {040, "ONLRET"}, {0100, "OFILL"}, {0200, "OFDEL"},
};
constexpr FlagDef kTermNldly[] = {{0, "NL0"}, {0400, "NL1"}};
constexpr FlagDef kTermCrdly[] = {{0, "CR0"}, {01000, "CR1"}, {02000, "CR2"}, {03000, "CR3"}};
constexpr FlagDef kTermTabdly[] = {
    {0, "TAB0"}, {04000, "TAB1"}, {010000, "TAB2"}, {014000, "XTABS"}};
constexpr FlagDef kTermBsdly[] = {{0, "BS0"}, {020000, "BS1"}};
constexpr FlagDef kTermVtdly[] = {{0, "VT0"}, {040000, "VT1"}};
constexpr FlagDef kTermFfdly[] = {{0, "FF0"}, {0100000, "FF1"}};
constexpr FlagDef kBaud[] = {
    {0, "B0"},          {01, "B50"},         {02, "B75"},         {03, "B110"},
    {04, "B134"},       {05, "B150"},        {06, "B200"},        {07, "B300"},
    {010, "B600"},      {011, "B1200"},      {012, "B1800"},      {013, "B2400"},
    {014, "B4800"},     {015, "B9600"},      {016, "B19200"},     {017, "B38400"},
    {010000, "BOTHER"}, {010001, "B57600"},  {010002, "B115200"}, {010003, "B230400"},
    {010004, "B460800"}, {010005, "B500000"}, {010006, "B576000"}, {010007, "B921600"},
    {010010, "B1000000"}, {010011, "B1152000"}, {010012, "B1500000"}, {010013, "B2000000"},
    {010014, "B2500000"}, {010015, "B3000000"}, {010016, "B3500000"}, {010017, "B4000000"},
};
constexpr FlagDef kTermCsize[] = {{0, "CS5"}, {020, "CS6"}, {040, "CS7"}, {060, "CS8"}};
constexpr FlagDef kTermCflags[] = {
    {0100, "CSTOPB"}, {0200, "CREAD"},  {0400, "PARENB"}, {01000, "PARODD"},
    {02000, "HUPCL"}, {04000, "CLOCAL"}, {010000000000, "CMSPAR"}, {020000000000, "CRTSCTS"},
};
constexpr FlagDef kTermLflags[] = {
    {01, "ISIG"},      {02, "ICANON"},    {04, "XCASE"},    {010, "ECHO"},
    {020, "ECHOE"},    {040, "ECHOK"},    {0100, "ECHONL"}, {0200, "NOFLSH"},
    {0100000, "IEXTEN"}, {01000, "ECHOCTL"}, {02000, "ECHOPRT"}, {04000, "ECHOKE"},
    {010000, "FLUSHO"}, {040000, "PENDIN"}, {0400, "TOSTOP"}, {0200000, "EXTPROC"},
};
constexpr FlagDef kEthProtocols[] = {
    {0x0001, "ETH_P_802_3"}, {0x0002, "ETH_P_AX25"}, {0x0003, "ETH_P_ALL"},
    {0x0004, "ETH_P_802_2"}, {0x0800, "ETH_P_IP"},   {0x0806, "ETH_P_ARP"},
    {0x8035, "ETH_P_RARP"},  {0x8100, "ETH_P_8021Q"}, {0x86dd, "ETH_P_IPV6"},
    {0x8847, "ETH_P_MPLS_UC"}, {0x888e, "ETH_P_PAE"}, {0x88a8, "ETH_P_8021AD"},
    {0x88cc, "ETH_P_LLDP"},
};
constexpr FlagDef kArpHardware[] = {
    {0, "ARPHRD_NETROM"}, {1, "ARPHRD_ETHER"}, {24, "ARPHRD_IEEE1394"}, {512, "ARPHRD_PPP"},
    {768, "ARPHRD_TUNNEL"}, {769, "ARPHRD_TUNNEL6"}, {772, "ARPHRD_LOOPBACK"},
    {776, "ARPHRD_SIT"}, {778, "ARPHRD_IPGRE"}, {801, "ARPHRD_IEEE80211"},
    {803, "ARPHRD_IEEE80211_RADIOTAP"}, {65534, "ARPHRD_NONE"}, {65535, "ARPHRD_VOID"},
};
constexpr FlagDef kPacketTypes[] = {
    {0, "PACKET_HOST"},      {1, "PACKET_BROADCAST"}, {2, "PACKET_MULTICAST"},
    {3, "PACKET_OTHERHOST"}, {4, "PACKET_OUTGOING"},  {5, "PACKET_LOOPBACK"},
    {6, "PACKET_USER"},      {7, "PACKET_KERNEL"},
};

void AppendIfindex(std::string* out, uint32_t idx) {
  char name[IF_NAMESIZE + 1] = {};
  if (idx && if_indextoname(idx, name)) {
    out->append("if_nametoindex(");
    size_t len = 0;
    while (len < IF_NAMESIZE && name[len]) ++len;
    AppendQuoted(out, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(name), len),
                 false);
    out->push_back(')');
  } else {
    AppendU(out, idx);
  }
}

uint16_t Ntohs(uint16_t v) { return static_cast<uint16_t>((v >> 8) | (v << 8)); }
uint32_t Ntohl(uint32_t v) { return __builtin_bswap32(v); }

}  // namespace

bool AppendStat(std::string* out, std::span<const uint8_t> b) {
  if (b.size() < 144) return false;
  const uint32_t mode = Ld<uint32_t>(b, 24);
  out->append("{st_mode=");
  internal::AppendSymbolicMode(out, mode);
  switch (mode & 0170000) {
    case 0020000: case 0060000:
      out->append(", st_rdev=");
      AppendDev(out, Ld<uint64_t>(b, 40));
      break;
    default:
      out->append(", st_size=");
      AppendD(out, Ld<int64_t>(b, 48));
  }
  out->append(", ...}");
  return true;
}

bool AppendStatx(std::string* out, std::span<const uint8_t> b) {
  if (b.size() < 144) return false;
  out->append("{stx_mask=");
  AppendFlagsDflt(out, Ld<uint32_t>(b, 0), kStatxMasks, "STATX_???");
  out->append(", stx_attributes=");
  AppendFlagsDflt(out, Ld<uint64_t>(b, 8), kStatxAttrs, "STATX_ATTR_???");
  out->append(", stx_mode=");
  internal::AppendSymbolicMode(out, Ld<uint16_t>(b, 28));
  out->append(", stx_size=");
  AppendU(out, Ld<uint64_t>(b, 40));
  out->append(", ...}");
  return true;
}

bool AppendStatfs(std::string* out, std::span<const uint8_t> b) {
  if (b.size() < 120) return false;
  out->append("{f_type=");
  internal::AppendXval(out, Ld<uint64_t>(b, 0), kFsMagic, nullptr);
  static constexpr const char* kNames[] = {"f_bsize", "f_blocks", "f_bfree", "f_bavail",
                                           "f_files", "f_ffree"};
  for (size_t i = 0; i < 6; ++i) {
    out->append(", ");
    out->append(kNames[i]);
    out->push_back('=');
    if (i == 0) {
      AppendD(out, Ld<int64_t>(b, 8));
    } else {
      AppendU(out, Ld<uint64_t>(b, 8 + 8 * i));
    }
  }
  out->append(", f_fsid={val=[");
  AppendHex(out, Ld<uint32_t>(b, 56));
  out->append(", ");
  AppendHex(out, Ld<uint32_t>(b, 60));
  out->append("]}, f_namelen=");
  AppendD(out, Ld<int64_t>(b, 64));
  out->append(", f_frsize=");
  AppendD(out, Ld<int64_t>(b, 72));
  out->append(", f_flags=");
  AppendFlagsDflt(out, Ld<uint64_t>(b, 80), kStatfsFlags, "ST_???");
  out->push_back('}');
  return true;
}

bool AppendSockaddr(std::string* out, std::span<const uint8_t> in) {
  if (in.size() < 2) return false;
  // strace copies at most sizeof(struct sockaddr_storage) and zero-pads beyond addrlen.
  uint8_t buf[129] = {};
  const size_t len = in.size() > 128 ? 128 : in.size();
  std::memcpy(buf, in.data(), len);
  const std::span<const uint8_t> b(buf, sizeof(buf));
  const uint16_t family = Ld<uint16_t>(b, 0);
  out->append("{sa_family=");
  internal::AppendXval(out, family, kAddressFamilies, "AF_???");
  if (len > 2) {
    out->append(", ");
    if (family == 1 /* AF_UNIX */) {
      const size_t un_len = len > 110 ? 110 : len;
      const size_t path_len = un_len - 2;
      out->append("sun_path=");
      if (buf[2]) {
        size_t n = 0;
        while (n < path_len && buf[2 + n]) ++n;
        AppendQuoted(out, b.subspan(2, n), false);
      } else {
        out->push_back('@');
        AppendQuoted(out, b.subspan(3, path_len - 1), false);
      }
    } else if (family == 2 /* AF_INET */ && len >= 16) {
      out->append("sin_port=htons(");
      AppendU(out, Ntohs(Ld<uint16_t>(b, 2)));
      char ip[32];
      snprintf(ip, sizeof(ip), "%u.%u.%u.%u", buf[4], buf[5], buf[6], buf[7]);
      out->append("), sin_addr=inet_addr(\"");
      out->append(ip);
      out->append("\")");
    } else if (family == 10 /* AF_INET6 */ && len >= 24) {
      out->append("sin6_port=htons(");
      AppendU(out, Ntohs(Ld<uint16_t>(b, 2)));
      out->append("), sin6_flowinfo=htonl(");
      AppendU(out, Ntohl(Ld<uint32_t>(b, 4)));
      out->append("), inet_pton(AF_INET6, \"");
      char ip[64];
      if (!inet_ntop(AF_INET6, buf + 8, ip, sizeof(ip))) ip[0] = 0;
      out->append(ip);
      out->append("\", &sin6_addr)");
      if (len > 24) {
        out->append(", sin6_scope_id=");
        const bool linklocal = (buf[8] == 0xfe && (buf[9] & 0xc0) == 0x80) ||
                               (buf[8] == 0xff && (buf[9] & 0x0f) == 0x02);
        const uint32_t scope = Ld<uint32_t>(b, 24);
        if (linklocal) {
          AppendIfindex(out, scope);
        } else {
          AppendU(out, scope);
        }
      }
    } else if (family == 16 /* AF_NETLINK */ && len >= 12) {
      const uint16_t pad = Ld<uint16_t>(b, 2);
      if (pad) {
        out->append("nl_pad=");
        AppendHex(out, pad);
        out->append(", ");
      }
      out->append("nl_pid=");
      AppendD(out, Ld<int32_t>(b, 4));
      out->append(", nl_groups=");
      AppendZeroX(out, Ld<uint32_t>(b, 8), 4);
    } else if (family == 17 /* AF_PACKET */ && len >= 20) {
      out->append("sll_protocol=htons(");
      internal::AppendXval(out, Ntohs(Ld<uint16_t>(b, 2)), kEthProtocols, "ETH_P_???");
      out->append("), sll_ifindex=");
      AppendIfindex(out, Ld<uint32_t>(b, 4));
      out->append(", sll_hatype=");
      internal::AppendXval(out, Ld<uint16_t>(b, 8), kArpHardware, "ARPHRD_???");
      out->append(", sll_pkttype=");
      internal::AppendXval(out, buf[10], kPacketTypes, "PACKET_???");
      const uint8_t halen = buf[11];
      out->append(", sll_halen=");
      AppendU(out, halen);
      if (halen) {
        const size_t oob = len - 12;
        out->append(", sll_addr=[");
        for (size_t i = 0; i < halen; ++i) {
          if (i) out->append(", ");
          if (i >= oob) {
            out->append("...");
            break;
          }
          AppendZeroX(out, buf[12 + i], 1);
        }
        out->push_back(']');
      }
    } else {
      out->append("sa_data=");
      AppendQuoted(out, b.subspan(2, len - 2), false);
    }
  }
  out->push_back('}');
  return true;
}

bool AppendTimespec(std::string* out, std::span<const uint8_t> b) {
  if (b.size() < 16) return false;
  AppendTimespecAt(out, b, 0);
  return true;
}

bool AppendTimeval(std::string* out, std::span<const uint8_t> b) {
  if (b.size() < 16) return false;
  AppendTimevalAt(out, b, 0);
  return true;
}

bool AppendItimerspec(std::string* out, std::span<const uint8_t> b) {
  if (b.size() < 32) return false;
  out->append("{it_interval=");
  AppendTimespecAt(out, b, 0);
  out->append(", it_value=");
  AppendTimespecAt(out, b, 16);
  out->push_back('}');
  return true;
}

bool AppendPollfds(std::string* out, std::span<const uint8_t> b, bool with_revents,
                   uint32_t max_items) {
  if (b.size() < 8 && !b.empty()) return false;
  const size_t n = b.size() / 8;
  out->push_back('[');
  size_t printed = 0;
  for (size_t i = 0; i < n; ++i) {
    const int32_t fd = Ld<int32_t>(b, i * 8);
    const uint16_t events = Ld<uint16_t>(b, i * 8 + 4);
    const uint16_t revents = Ld<uint16_t>(b, i * 8 + 6);
    if (with_revents && !revents) continue;
    if (printed) out->append(", ");
    if (printed >= max_items) {
      out->append("...");
      break;
    }
    ++printed;
    out->append("{fd=");
    AppendD(out, fd);
    if (with_revents) {
      out->append(", revents=");
      AppendFlagsDflt(out, revents, kPollFlags, "POLL???");
    } else if (fd >= 0) {
      out->append(", events=");
      AppendFlagsDflt(out, events, kPollFlags, "POLL???");
    }
    out->push_back('}');
  }
  out->push_back(']');
  return true;
}

bool AppendEpollEvents(std::string* out, std::span<const uint8_t> b, uint32_t max_items) {
  const size_t n = b.size() / 12;
  out->push_back('[');
  for (size_t i = 0; i < n; ++i) {
    if (i) out->append(", ");
    if (i >= max_items) {
      out->append("...");
      break;
    }
    const uint32_t events = Ld<uint32_t>(b, i * 12);
    const uint64_t data = Ld<uint64_t>(b, i * 12 + 4);
    out->append("{events=");
    AppendFlagsDflt(out, events, kEpollEvents, "EPOLL???");
    out->append(", data={u32=");
    AppendU(out, static_cast<uint32_t>(data));
    out->append(", u64=");
    AppendU(out, data);
    out->append("}}");
  }
  out->push_back(']');
  return true;
}

namespace {
void AppendRlim(std::string* out, uint64_t v) {
  if (v == ~uint64_t{0}) {
    out->append("RLIM64_INFINITY");
  } else if (v > 1024 && v % 1024 == 0) {
    AppendU(out, v / 1024);
    out->append("*1024");
  } else {
    AppendU(out, v);
  }
}
}  // namespace

bool AppendRlimit(std::string* out, std::span<const uint8_t> b) {
  if (b.size() < 16) return false;
  out->append("{rlim_cur=");
  AppendRlim(out, Ld<uint64_t>(b, 0));
  out->append(", rlim_max=");
  AppendRlim(out, Ld<uint64_t>(b, 8));
  out->push_back('}');
  return true;
}

bool AppendUtsname(std::string* out, std::span<const uint8_t> b) {
  if (b.size() < 65 * 6) return false;
  out->append("{sysname=");
  AppendCString(out, b.subspan(0, 65));
  out->append(", nodename=");
  AppendCString(out, b.subspan(65, 65));
  out->append(", ...}");
  return true;
}

bool AppendSysinfo(std::string* out, std::span<const uint8_t> b) {
  if (b.size() < 112) return false;
  out->append("{uptime=");
  AppendD(out, Ld<int64_t>(b, 0));
  out->append(", loads=[");
  for (size_t i = 0; i < 3; ++i) {
    if (i) out->append(", ");
    AppendU(out, Ld<uint64_t>(b, 8 + 8 * i));
  }
  static constexpr const char* kNames[] = {"totalram", "freeram",  "sharedram",
                                           "bufferram", "totalswap", "freeswap"};
  out->push_back(']');
  for (size_t i = 0; i < 6; ++i) {
    out->append(", ");
    out->append(kNames[i]);
    out->push_back('=');
    AppendU(out, Ld<uint64_t>(b, 32 + 8 * i));
  }
  out->append(", procs=");
  AppendU(out, Ld<uint16_t>(b, 80));
  out->append(", totalhigh=");
  AppendU(out, Ld<uint64_t>(b, 88));
  out->append(", freehigh=");
  AppendU(out, Ld<uint64_t>(b, 96));
  out->append(", mem_unit=");
  AppendU(out, Ld<uint32_t>(b, 104));
  out->push_back('}');
  return true;
}

bool AppendRusage(std::string* out, std::span<const uint8_t> b) {
  if (b.size() < 144) return false;
  out->append("{ru_utime=");
  AppendTimevalAt(out, b, 0);
  out->append(", ru_stime=");
  AppendTimevalAt(out, b, 16);
  out->append(", ...}");
  return true;
}

bool AppendTermios(std::string* out, std::span<const uint8_t> b) {
  // Kernel struct termios: 4 tcflag_t, c_line, c_cc[19] (36 bytes).
  if (b.size() < 36) return false;
  const uint32_t iflag = Ld<uint32_t>(b, 0);
  uint32_t oflag = Ld<uint32_t>(b, 4);
  uint32_t cflag = Ld<uint32_t>(b, 8);
  const uint32_t lflag = Ld<uint32_t>(b, 12);
  out->append("{c_iflag=");
  AppendFlagsDflt(out, iflag, kTermIflags, nullptr);
  out->append(", c_oflag=");
  static constexpr struct {
    std::span<const FlagDef> xl;
    uint32_t mask;
    const char* dfl;
  } kDly[] = {
      {kTermNldly, 0400, "NL?"},     {kTermCrdly, 03000, "CR?"}, {kTermTabdly, 014000, "TAB?"},
      {kTermBsdly, 020000, "BS?"},   {kTermVtdly, 040000, "VT?"}, {kTermFfdly, 0100000, "FF?"},
  };
  for (const auto& d : kDly) {
    internal::AppendXval(out, oflag & d.mask, d.xl, d.dfl);
    out->push_back('|');
    oflag &= ~d.mask;
  }
  AppendFlagsDflt(out, oflag, kTermOflags, nullptr);
  out->append(", c_cflag=");
  internal::AppendXval(out, cflag & 010017, kBaud, "B???");
  out->push_back('|');
  constexpr uint32_t kCibaud = 002003600000;
  if (cflag & kCibaud) {
    internal::AppendXval(out, (cflag & kCibaud) >> 16, kBaud, "B???");
    out->append("<<IBSHIFT|");
  }
  internal::AppendXval(out, cflag & 060, kTermCsize, "CS?");
  out->push_back('|');
  cflag &= ~uint32_t{010017 | 060 | kCibaud};
  AppendFlagsDflt(out, cflag, kTermCflags, nullptr);
  out->append(", c_lflag=");
  AppendFlagsDflt(out, lflag, kTermLflags, nullptr);
  out->append(", ...}");
  return true;
}

bool AppendWinsize(std::string* out, std::span<const uint8_t> b) {
  if (b.size() < 8) return false;
  out->append("{ws_row=");
  AppendU(out, Ld<uint16_t>(b, 0));
  out->append(", ws_col=");
  AppendU(out, Ld<uint16_t>(b, 2));
  out->append(", ws_xpixel=");
  AppendU(out, Ld<uint16_t>(b, 4));
  out->append(", ws_ypixel=");
  AppendU(out, Ld<uint16_t>(b, 6));
  out->push_back('}');
  return true;
}

bool AppendDirents64(std::string* out, std::span<const uint8_t> b, uint64_t count) {
  const size_t len = count < b.size() ? static_cast<size_t>(count) : b.size();
  uint64_t entries = 0;
  size_t off = 0;
  while (off < len) {
    const uint16_t reclen = Ld<uint16_t>(b, off + 16);
    if (off + 19 > len || reclen == 0) break;
    ++entries;
    off += reclen;
  }
  out->append("/* ");
  AppendU(out, entries);
  out->append(entries == 1 ? " entry */" : " entries */");
  return true;
}

}  // namespace clonebot::trace::decode
