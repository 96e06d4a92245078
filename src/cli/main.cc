// clonebot: one binary, one subcommand per capability.
#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "CLI/CLI.hpp"
#include "cli/commands.h"

namespace clonebot::cli {
int Fail(const char* command, const std::string& msg, int code) {
  fprintf(stderr, "clonebot: %s: %s\n", command, msg.c_str());
  return code;
}
}  // namespace clonebot::cli

int main(int argc, char** argv) {
  CLI::App app{"clonebot: record and replay the behaviour of Linux processes and web sessions"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "clonebot 0.1.0");

  // Everything after the first "--" is a command to run; CLI11 sees only what comes before.
  std::vector<std::string> command;
  int nflags = argc;
  for (int i = 1; i < argc; i++) {
    if (std::string_view(argv[i]) == "--") {
      nflags = i;
      command.assign(argv + i + 1, argv + argc);
      break;
    }
  }
  std::map<std::string, clonebot::cli::RunFn> runs;
  runs["trace"] = clonebot::cli::RegisterTrace(app, &command);
  runs["show"] = clonebot::cli::RegisterShow(app);
  runs["check"] = clonebot::cli::RegisterCheck(app);
  runs["snapshot"] = clonebot::cli::RegisterSnapshot(app);
  runs["diff"] = clonebot::cli::RegisterDiff(app);
  runs["extract"] = clonebot::cli::RegisterExtract(app);
  runs["inspect"] = clonebot::cli::RegisterInspect(app);
  runs["policy"] = clonebot::cli::RegisterPolicy(app);
  runs["run"] = clonebot::cli::RegisterRun(app, &command);
  runs["web"] = clonebot::cli::RegisterWeb(app);

  if (nflags > 1 && argv[1][0] != '-' && runs.find(argv[1]) == runs.end()) {
    fprintf(stderr, "clonebot: unknown command '%s' (commands: check, diff, extract, inspect, policy, run, show, snapshot, trace, web; see clonebot --help)\n", argv[1]);
    return 2;
  }
  try {
    app.parse(nflags, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line, naming what was wrong.
    std::string what = e.what();
    fprintf(stderr, "clonebot: %s (see clonebot --help)\n", what.c_str());
    return 2;
  }
  for (auto* sub : app.get_subcommands()) {
    auto it = runs.find(sub->get_name());
    if (it != runs.end()) return it->second();
  }
  return 2;
}
