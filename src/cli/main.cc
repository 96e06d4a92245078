// clonebot: one binary, one subcommand per capability.
#include <cstdio>
#include <functional>
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
  // Only the named command's flags are registered (CLI11 builds every option eagerly: ~0.4 ms
  // for all of them, a tenth of a sandbox's start-up); all of them for --help and the like.
  using Register = std::function<clonebot::cli::RunFn(CLI::App&)>;
  const std::pair<const char*, Register> commands[] = {
      {"check", [](CLI::App& a) { return clonebot::cli::RegisterCheck(a); }},
      {"diff", [](CLI::App& a) { return clonebot::cli::RegisterDiff(a); }},
      {"extract", [](CLI::App& a) { return clonebot::cli::RegisterExtract(a); }},
      {"inspect", [](CLI::App& a) { return clonebot::cli::RegisterInspect(a); }},
      {"policy", [](CLI::App& a) { return clonebot::cli::RegisterPolicy(a); }},
      {"run", [&](CLI::App& a) { return clonebot::cli::RegisterRun(a, &command); }},
      {"show", [](CLI::App& a) { return clonebot::cli::RegisterShow(a); }},
      {"snapshot", [](CLI::App& a) { return clonebot::cli::RegisterSnapshot(a); }},
      {"trace", [&](CLI::App& a) { return clonebot::cli::RegisterTrace(a, &command); }},
      {"web", [](CLI::App& a) { return clonebot::cli::RegisterWeb(a); }},
  };
  const bool named = nflags > 1 && argv[1][0] != '-';
  std::map<std::string, clonebot::cli::RunFn> runs;
  for (const auto& [name, reg] : commands)
    if (!named || std::string_view(argv[1]) == name) runs[name] = reg(app);

  if (named && runs.empty()) {
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
