// Constant tables (strace "xlat" order) used by decode.cc beyond the common ones of
// primitives.h. Values are the x86_64/asm-generic ones, which agree for everything here.
#pragma once

#include <span>

#include "trace/decode/primitives.h"

namespace clonebot::trace::decode::xlat {

#define CB_XLAT(name) extern const std::span<const FlagDef> name
CB_XLAT(kWhence);
CB_XLAT(kAccessModes);
CB_XLAT(kSigprocmaskHow);
CB_XLAT(kMremapFlags);
CB_XLAT(kMsyncFlags);
CB_XLAT(kMadvise);
CB_XLAT(kItimerWhich);
CB_XLAT(kShutdownHow);
CB_XLAT(kWait4Options);
CB_XLAT(kWaitidOptions);
CB_XLAT(kWaitidWhich);
CB_XLAT(kFlockOps);
CB_XLAT(kRlimitResources);
CB_XLAT(kRusageWho);
CB_XLAT(kClockIds);
CB_XLAT(kTimerFlags);
CB_XLAT(kEpollOps);
CB_XLAT(kEpollCreateFlags);
CB_XLAT(kEpollEvents);
CB_XLAT(kSpliceFlags);
CB_XLAT(kFadvise);
CB_XLAT(kTimerfdCreateFlags);
CB_XLAT(kTimerfdSetFlags);
CB_XLAT(kSignalfdFlags);
CB_XLAT(kEventfdFlags);
CB_XLAT(kRenameFlags);
CB_XLAT(kGetrandomFlags);
CB_XLAT(kMemfdFlags);
CB_XLAT(kStatxMasks);
CB_XLAT(kStatxAtFlags);
CB_XLAT(kAtFlags);
CB_XLAT(kFaccessatFlags);
CB_XLAT(kXattrFlags);
CB_XLAT(kFcntlCmds);
CB_XLAT(kFdFlags);
CB_XLAT(kLockTypes);
CB_XLAT(kNotifyFlags);
CB_XLAT(kSealFlags);
CB_XLAT(kFutexCmds);
CB_XLAT(kPrctlOptions);
CB_XLAT(kArchPrctlCodes);
CB_XLAT(kSockLevels);
CB_XLAT(kSolSocketOpts);
CB_XLAT(kSolTcpOpts);
CB_XLAT(kSolIpOpts);
CB_XLAT(kSolIpv6Opts);
CB_XLAT(kIpProtocols);
CB_XLAT(kNetlinkProtocols);
CB_XLAT(kIoctlNames);
CB_XLAT(kTcflshArgs);
CB_XLAT(kDumpable);
CB_XLAT(kMlockallFlags);
CB_XLAT(kPersonality);
CB_XLAT(kPersonalityFlags);
CB_XLAT(kInotifyInitFlags);
CB_XLAT(kResolveFlags);
CB_XLAT(kScmTypes);
CB_XLAT(kUnshareFlags);
CB_XLAT(kCapabilities);
CB_XLAT(kMempolicyModes);
CB_XLAT(kMempolicyModeFlags);
CB_XLAT(kGetMempolicyFlags);
CB_XLAT(kMbindFlags);
CB_XLAT(kPriorityWhich);
CB_XLAT(kMountFlags);
CB_XLAT(kUmountFlags);
CB_XLAT(kInotifyMask);
CB_XLAT(kSeccompOps);
CB_XLAT(kSeccompFilterFlags);
CB_XLAT(kSeccompModes);
CB_XLAT(kSchedPolicies);
CB_XLAT(kCapVersions);
#undef CB_XLAT

}  // namespace clonebot::trace::decode::xlat
