// Subcommands. Each Register* adds its subcommand and flags to |app| and returns the function
// that runs it (returning the process exit code) when it is the one chosen.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace clonebot::cli {

using RunFn = std::function<int()>;

// Prints "clonebot: <command>: <msg>" as one line on stderr and returns |code|.
int Fail(const char* command, const std::string& msg, int code = 1);

// |command| holds everything after the first "--" on the command line (main splits it off
// before flag parsing, so that the traced command's own "--" arguments stay intact).
RunFn RegisterTrace(CLI::App& app, const std::vector<std::string>* command);
RunFn RegisterShow(CLI::App& app);
RunFn RegisterCheck(CLI::App& app);
RunFn RegisterSnapshot(CLI::App& app);
RunFn RegisterDiff(CLI::App& app);
RunFn RegisterExtract(CLI::App& app);
RunFn RegisterInspect(CLI::App& app);
RunFn RegisterPolicy(CLI::App& app);
RunFn RegisterRun(CLI::App& app, const std::vector<std::string>* command);
RunFn RegisterWeb(CLI::App& app);

}  // namespace clonebot::cli
