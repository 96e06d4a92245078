// A Chromium process driven over --remote-debugging-pipe.
//
// Never a zombie or an orphan: the browser leads its own process group (its zygote, renderers
// and utility processes stay in it), gets PR_SET_PDEATHSIG(SIGKILL), and every live group is
// listed in a process-wide table that Close(), the destructor, the signal handlers of
// InstallTeardown() and the fatal-signal handlers all kill with kill(-pgid, SIGKILL). When the
// browser's main process dies its children lose their IPC channel and exit on their own.
//
// Kernel quirk: PR_SET_PDEATHSIG fires when the *thread* that forked the browser exits, not the
// process. Launch() from a thread that outlives the browser (the main thread does).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "web/cdp.h"

namespace clonebot::web {

enum class BrowserKind { kHeadlessShell, kChromium };

struct BrowserOptions {
  // "headless-shell" (default), "chromium", or a path to a Chromium executable (its kind is
  // guessed from the name: "*headless-shell*" is the shell).
  std::string browser = "headless-shell";
  // Chromium only (the shell is always headless): false opens a visible window.
  bool headless = true;
  // Renderer processes shared across browser contexts (see web/README.md: isolation given up).
  bool share_renderers = false;
  // Window size for a visible browser; the viewport of a page is set per page.
  int window_width = 1280, window_height = 720;
  std::vector<std::string> extra_args;
  // Chromium's stderr goes to this file when set, else to <user-data-dir>/stderr.log (read back
  // for the error when the launch fails).
  std::string stderr_path;
  Ms launch_timeout = Ms(30000);
  // Attach to this running browser (ws://HOST:PORT/devtools/browser/ID, as printed by
  // --remote-debugging-port) instead of starting one: every other field but launch_timeout is
  // ignored. clonebot then never closes or kills the browser; it closes only what it opened.
  std::string connect;
};

// Resolves BrowserOptions::browser to an executable path and kind. An error names the missing
// file and the Debian package that provides it.
absl::StatusOr<std::pair<std::string, BrowserKind>> ResolveBrowser(const std::string& spec);

class Browser {
 public:
  // Starts the browser (or attaches to opts.connect) and waits until it answers
  // Browser.getVersion.
  static absl::StatusOr<std::unique_ptr<Browser>> Launch(const BrowserOptions& opts);
  // Close(), ignoring its status.
  ~Browser();
  Browser(const Browser&) = delete;
  Browser& operator=(const Browser&) = delete;

  // Asks the browser to quit (Browser.close), waits up to |grace| for it, then kills the whole
  // process group, reaps the browser and removes the user data directory. Idempotent. An
  // attached browser is left running: only the connection is closed.
  absl::Status Close(Ms grace = Ms(2000));
  // True for a browser clonebot attached to (BrowserOptions::connect) rather than started.
  bool attached() const { return attached_; }

  Connection& cdp() { return *conn_; }
  std::shared_ptr<Connection> shared_cdp() { return conn_; }
  pid_t pid() const { return pid_; }
  BrowserKind kind() const { return kind_; }
  const std::string& executable() const { return executable_; }
  const std::string& product() const { return product_; }  // "HeadlessChrome/156.0..."
  const std::string& user_data_dir() const { return user_data_dir_; }
  // Processes of the browser's group (the browser, its zygote, renderers, GPU and utilities);
  // none for an attached browser (its processes are not ours to account for).
  std::vector<pid_t> Processes() const;
  // Sum of Pss over Processes() (from /proc/PID/smaps_rollup), in bytes.
  uint64_t PssBytes() const;

 private:
  Browser() = default;
  static absl::StatusOr<std::unique_ptr<Browser>> Attach(const BrowserOptions& opts);

  pid_t pid_ = -1;
  BrowserKind kind_ = BrowserKind::kHeadlessShell;
  std::string executable_;
  std::string product_;
  std::string user_data_dir_;
  std::string stderr_path_;
  std::shared_ptr<Connection> conn_;
  bool closed_ = false;
  bool attached_ = false;
};

// Installs handlers for SIGINT, SIGTERM and SIGHUP and for SIGSEGV, SIGBUS, SIGFPE, SIGILL and
// SIGABRT (these kill every browser before the default action), and ignores SIGPIPE (a dead
// browser is an EPIPE on the pipe, handled as an error). |graceful|: the first SIGINT/SIGTERM/
// SIGHUP only raises the flag Interrupted() reads, for work that has something to save (record,
// replay); a second one kills every browser and exits 128+N. Not graceful: the first one does.
// Call once, from main, before Launch.
void InstallTeardown(bool graceful);
bool Interrupted();
// The signal that raised the flag (0 if none): exit with 128 + it.
int InterruptSignal();
// Kills every browser group this process started. Async-signal-safe.
void KillAllBrowsers();

// Sum of Pss of |pid| in bytes (0 if it is gone).
uint64_t ProcessPss(pid_t pid);
// Peak resident set of this process (getrusage), in bytes.
uint64_t SelfPeakRss();

}  // namespace clonebot::web
