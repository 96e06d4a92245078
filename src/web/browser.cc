#include "web/browser.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "web/websocket.h"

namespace clonebot::web {

namespace fs = std::filesystem;

namespace {

// --- the table of live browser groups (read by signal handlers) -------------------------------

constexpr int kMaxGroups = 256;
std::atomic<pid_t> g_groups[kMaxGroups];
std::atomic<int> g_signals{0};
std::atomic<int> g_first_signal{0};
std::atomic<bool> g_graceful{true};

void RegisterGroup(pid_t pgid) {
  for (auto& slot : g_groups) {
    pid_t expect = 0;
    if (slot.compare_exchange_strong(expect, pgid)) return;
  }
}

void UnregisterGroup(pid_t pgid) {
  for (auto& slot : g_groups) {
    pid_t expect = pgid;
    if (slot.compare_exchange_strong(expect, 0)) return;
  }
}

void OnInterrupt(int sig) {
  int expect = 0;
  g_first_signal.compare_exchange_strong(expect, sig);
  if (g_signals.fetch_add(1) > 0 || !g_graceful.load()) {
    KillAllBrowsers();
    _exit(128 + sig);
  }
}

void OnFatal(int sig) {
  KillAllBrowsers();
  signal(sig, SIG_DFL);
  raise(sig);
}

std::string ReadTail(const std::string& path, size_t max) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (all.size() > max) all = all.substr(all.size() - max);
  // The last non-empty line is the one that tells.
  while (!all.empty() && (all.back() == '\n' || all.back() == '\r')) all.pop_back();
  size_t nl = all.rfind('\n');
  return nl == std::string::npos ? all : all.substr(nl + 1);
}

// Removes user data directories left by clonebot processes that no longer exist (a SIGKILLed
// clonebot cannot clean up after itself). Names are clonebot-web.<pid>.<random>.
void RemoveStaleProfiles(const fs::path& parent) {
  std::error_code ec;
  for (const auto& ent : fs::directory_iterator(parent, ec)) {
    std::string name = ent.path().filename().string();
    if (name.rfind("clonebot-web.", 0) != 0) continue;
    pid_t owner = static_cast<pid_t>(atoi(name.c_str() + strlen("clonebot-web.")));
    if (owner <= 0 || owner == getpid()) continue;
    if (kill(owner, 0) == 0 || errno == EPERM) continue;
    fs::remove_all(ent.path(), ec);
  }
}

}  // namespace

void KillAllBrowsers() {
  for (auto& slot : g_groups) {
    pid_t g = slot.load();
    if (g > 0) kill(-g, SIGKILL);
  }
}

bool Interrupted() { return g_signals.load() > 0; }
int InterruptSignal() { return g_first_signal.load(); }

void InstallTeardown(bool graceful) {
  g_graceful = graceful;
  struct sigaction sa = {};
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = OnInterrupt;
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
  sa.sa_handler = OnFatal;
  sa.sa_flags = SA_RESETHAND | SA_NODEFER;
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) sigaction(sig, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

absl::StatusOr<std::pair<std::string, BrowserKind>> ResolveBrowser(const std::string& spec) {
  // /usr/bin/chromium-headless-shell is a shell script that does not exec: killing it would
  // orphan the browser. Start the binaries themselves.
  if (spec.empty() || spec == "headless-shell" || spec == "shell") {
    const char* p = "/usr/lib/chromium/chromium-headless-shell";
    if (access(p, X_OK) != 0) {
      return absl::NotFoundError(absl::StrCat(
          "Chromium's headless shell is not installed (", p,
          " is missing): apt-get install chromium-headless-shell, or run make deps"));
    }
    return std::make_pair(std::string(p), BrowserKind::kHeadlessShell);
  }
  if (spec == "chromium") {
    const char* p = "/usr/lib/chromium/chromium";
    if (access(p, X_OK) != 0) {
      return absl::NotFoundError(absl::StrCat("Chromium is not installed (", p,
                                              " is missing): apt-get install chromium, or run "
                                              "make deps"));
    }
    return std::make_pair(std::string(p), BrowserKind::kChromium);
  }
  if (spec.find('/') == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown browser '", spec, "': use headless-shell, chromium, or a path"));
  }
  if (access(spec.c_str(), X_OK) != 0) {
    return base::ErrnoError("browser executable %s", spec);
  }
  BrowserKind kind = fs::path(spec).filename().string().find("headless-shell") != std::string::npos
                         ? BrowserKind::kHeadlessShell
                         : BrowserKind::kChromium;
  return std::make_pair(spec, kind);
}

absl::StatusOr<std::unique_ptr<Browser>> Browser::Attach(const BrowserOptions& opts) {
  ASSIGN_OR_RETURN(WsUrl url, ParseWsUrl(opts.connect));
  std::string leftover;
  ASSIGN_OR_RETURN(base::UniqueFd sock, WsConnect(url, opts.launch_timeout, &leftover));
  base::UniqueFd reader(fcntl(sock.get(), F_DUPFD_CLOEXEC, 3));
  if (!reader) return base::ErrnoError("dup(socket)");
  std::unique_ptr<Browser> b(new Browser());
  b->attached_ = true;
  b->executable_ = opts.connect;
  b->conn_ = Connection::Start(std::move(sock), std::move(reader), {}, Framing::kWebSocket, std::move(leftover));
  auto version = b->conn_->Browser().Call("Browser.getVersion", Json::object(), opts.launch_timeout);
  if (!version.ok()) {
    (void)b->Close(Ms(0));
    return absl::UnavailableError(absl::StrCat(opts.connect, ": ", version.status().message()));
  }
  b->product_ = GetString(*version, "product");
  b->kind_ = absl::StrContains(b->product_, "HeadlessChrome") ? BrowserKind::kHeadlessShell : BrowserKind::kChromium;
  return b;
}

absl::StatusOr<std::unique_ptr<Browser>> Browser::Launch(const BrowserOptions& opts) {
  if (!opts.connect.empty()) return Attach(opts);
  ASSIGN_OR_RETURN(auto resolved, ResolveBrowser(opts.browser));
  std::unique_ptr<Browser> b(new Browser());
  b->executable_ = resolved.first;
  b->kind_ = resolved.second;

  const char* tmp = getenv("TMPDIR");
  fs::path tmp_dir = tmp != nullptr && *tmp != '\0' ? fs::path(tmp) : fs::path("/tmp");
  RemoveStaleProfiles(tmp_dir);
  std::string tmpl = (tmp_dir / absl::StrCat("clonebot-web.", getpid(), ".XXXXXX")).string();
  if (mkdtemp(tmpl.data()) == nullptr) return base::ErrnoError("mkdtemp(%s)", tmpl);
  b->user_data_dir_ = tmpl;
  b->stderr_path_ =
      opts.stderr_path.empty() ? (fs::path(tmpl) / "stderr.log").string() : opts.stderr_path;

  // The flags that make Chromium work without a network and without asking anything.
  std::vector<std::string> args = {
      b->executable_,
      "--remote-debugging-pipe",
      absl::StrCat("--user-data-dir=", b->user_data_dir_),
      "--no-first-run",
      "--no-default-browser-check",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-default-apps",
      "--disable-extensions",
      "--disable-breakpad",
      "--disable-crash-reporter",
      "--disable-domain-reliability",
      "--disable-client-side-phishing-detection",
      // WebUIOmniboxPopup and WebUIOmniboxAimPopup: the full browser preloads two WebUI pages
      // per window for its address bar's popups, all in one shared "top-chrome" renderer that
      // then keeps working for every open window. With 30 idle windows that renderer alone used
      // 0.8 of a core, and 50 concurrent sessions took three times as long; without them the
      // address bar falls back to its native popup. (--disable-features is read once: the last
      // one given wins, so this list is the only one.)
      "--disable-features=Translate,MediaRouter,OptimizationHints,InterestFeedContentSuggestions,"
      "WebUIOmniboxPopup,WebUIOmniboxAimPopup",
      "--disable-gpu",
      "--disable-quic",
      "--metrics-recording-only",
      "--password-store=basic",
      "--use-mock-keychain",
      "--mute-audio",
      "--hide-scrollbars",
      // Many sessions are many windows of one browser, all but one of them "in the background":
      // without these the full browser lowers their renderers' priority and throttles their
      // timers, and the sessions crawl (the headless shell has no windows to occlude).
      "--disable-background-timer-throttling",
      "--disable-backgrounding-occluded-windows",
      "--disable-renderer-backgrounding",
      "--disable-ipc-flooding-protection",
      "--disable-hang-monitor",
      "--disable-prompt-on-repost",
      "--disable-search-engine-choice-screen",
      // Screenshots in sRGB whatever the machine's display profile.
      "--force-color-profile=srgb",
  };
  // Chromium's own sandbox needs unprivileged user namespaces or a setuid helper and refuses to
  // run as root; as root it must be off.
  if (geteuid() == 0) args.push_back("--no-sandbox");
  if (b->kind_ == BrowserKind::kChromium && opts.headless) args.push_back("--headless");
  if (b->kind_ == BrowserKind::kChromium && !opts.headless) {
    args.push_back(absl::StrCat("--window-size=", opts.window_width, ",", opts.window_height));
  }
  if (opts.share_renderers) {
    // Measured at 100 sessions on 2 cores (bench/RESULTS.md): one renderer for everything
    // starves (page loads time out), 2 to 16 all work; 8 gave the least memory and was among
    // the fastest.
    args.push_back("--renderer-process-limit=8");
  }
  for (const auto& a : opts.extra_args) args.push_back(a);
  args.push_back("about:blank");

  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int to_browser[2], from_browser[2], err_pipe[2];
  if (pipe2(to_browser, O_CLOEXEC) != 0) return base::ErrnoError("pipe2");
  base::UniqueFd tb_r(to_browser[0]), tb_w(to_browser[1]);
  if (pipe2(from_browser, O_CLOEXEC) != 0) return base::ErrnoError("pipe2");
  base::UniqueFd fb_r(from_browser[0]), fb_w(from_browser[1]);
  if (pipe2(err_pipe, O_CLOEXEC) != 0) return base::ErrnoError("pipe2");
  base::UniqueFd ep_r(err_pipe[0]), ep_w(err_pipe[1]);
  base::UniqueFd log(open(b->stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!log) return base::ErrnoError("open(%s)", b->stderr_path_);
  base::UniqueFd devnull(open("/dev/null", O_RDWR | O_CLOEXEC));

  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return base::ErrnoError("fork");
  if (pid == 0) {
    // Async-signal-safe calls only: the parent may have other threads.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s = 1; s < NSIG; ++s) signal(s, SIG_DFL);
    // Move the pipe ends above 10 first so that dup2 onto 3 and 4 cannot clobber each other.
    int r = fcntl(tb_r.get(), F_DUPFD, 10);
    int w = fcntl(fb_w.get(), F_DUPFD, 10);
    int l = fcntl(log.get(), F_DUPFD, 10);
    int nul = fcntl(devnull.get(), F_DUPFD, 10);
    int e = fcntl(ep_w.get(), F_DUPFD_CLOEXEC, 10);
    if (r < 0 || w < 0 || l < 0 || nul < 0 || e < 0 || dup2(r, 3) < 0 || dup2(w, 4) < 0 ||
        dup2(nul, 0) < 0 || dup2(l, 1) < 0 || dup2(l, 2) < 0) {
      int err = errno;
      (void)!write(e >= 0 ? e : ep_w.get(), &err, sizeof err);
      _exit(127);
    }
    // Close everything else, keeping the error pipe (it is O_CLOEXEC) until exec.
    for (int fd = 5; fd < 1024; ++fd) {
      if (fd != e) close(fd);
    }
    execv(argv[0], argv.data());
    int err = errno;
    (void)!write(e, &err, sizeof err);
    _exit(127);
  }
  b->pid_ = pid;
  RegisterGroup(pid);
  // setpgid from the parent too: whichever runs first, the group exists before we signal it.
  setpgid(pid, pid);
  tb_r.reset();
  fb_w.reset();
  ep_w.reset();
  int child_err = 0;
  ssize_t n;
  do {
    n = read(ep_r.get(), &child_err, sizeof child_err);
  } while (n < 0 && errno == EINTR);
  if (n == sizeof child_err) {
    int status;
    waitpid(pid, &status, 0);
    UnregisterGroup(pid);
    b->closed_ = true;
    std::error_code ec;
    fs::remove_all(b->user_data_dir_, ec);
    return base::ErrnoToStatus(child_err, absl::StrCat("starting ", b->executable_));
  }

  pid_t bpid = pid;
  b->conn_ = Connection::Start(std::move(tb_w), std::move(fb_r), [bpid]() -> std::string {
    // The pipe closes as the browser dies: give waitid a moment to see the exit.
    for (int i = 0; i < 20; ++i) {
      siginfo_t si = {};
      if (waitid(P_PID, bpid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == bpid) {
        if (si.si_code == CLD_EXITED) return absl::StrCat("exited with status ", si.si_status);
        return absl::StrCat("was killed by signal ", si.si_status, " (",
                            sigabbrev_np(si.si_status) ? sigabbrev_np(si.si_status) : "?", ")");
      }
      usleep(5000);
    }
    return "";
  });

  auto version = b->conn_->Browser().Call("Browser.getVersion", Json::object(),
                                          opts.launch_timeout);
  if (!version.ok()) {
    std::string tail = ReadTail(b->stderr_path_, 4096);
    (void)b->Close(Ms(0));
    return absl::UnavailableError(absl::StrCat(
        b->executable_, " did not start: ", version.status().message(),
        tail.empty() ? "" : absl::StrCat("; its last words: ", tail)));
  }
  b->product_ = GetString(*version, "product");
  return b;
}

Browser::~Browser() { (void)Close(); }

absl::Status Browser::Close(Ms grace) {
  if (closed_) return absl::OkStatus();
  closed_ = true;
  if (attached_) {
    if (conn_) conn_->Shutdown();
    conn_.reset();  // wakes and joins the reader
    return absl::OkStatus();
  }
  absl::Status result = absl::OkStatus();
  if (conn_ && conn_->alive() && grace.count() > 0) {
    // Browser.close answers just before the browser exits; the pipe closes after.
    auto r = conn_->Browser().Call("Browser.close", Json::object(), grace);
    (void)r;
  }
  int status = 0;
  bool reaped = false;
  auto deadline = Clock::now() + grace;
  while (!reaped) {
    pid_t w = waitpid(pid_, &status, WNOHANG);
    if (w == pid_) {
      reaped = true;
      break;
    }
    if (w < 0 && errno != EINTR) break;
    if (Clock::now() >= deadline) break;
    usleep(5000);
  }
  // Whatever is left of the group (a renderer that has not noticed yet) goes now.
  kill(-pid_, SIGKILL);
  if (!reaped) {
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  UnregisterGroup(pid_);
  if (conn_) conn_->Shutdown();
  conn_.reset();  // joins the reader (the pipe is closed: the group is dead)
  std::error_code ec;
  fs::remove_all(user_data_dir_, ec);
  return result;
}

std::vector<pid_t> Browser::Processes() const {
  std::vector<pid_t> out;
  if (pid_ <= 0 || closed_) return out;
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    pid_t p = static_cast<pid_t>(atoi(e->d_name));
    if (getpgid(p) == pid_) out.push_back(p);
  }
  closedir(d);
  return out;
}

uint64_t ProcessPss(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/smaps_rollup", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  const char* p = strstr(buf, "\nPss:");
  if (p == nullptr) return 0;
  return strtoull(p + 5, nullptr, 10) * 1024;
}

uint64_t Browser::PssBytes() const {
  uint64_t sum = 0;
  for (pid_t p : Processes()) sum += ProcessPss(p);
  return sum;
}

uint64_t SelfPeakRss() {
  rusage ru = {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<uint64_t>(ru.ru_maxrss) * 1024;
}

}  // namespace clonebot::web
