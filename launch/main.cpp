// pha: the command-line entry point. Dispatches to the command table; every error is printed once.
#include <fmt/format.h>

#include <cstdio>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/version.h"
#include "launch/command_table.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    fmt::print("{}", pha::launch::top_level_help());
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    fmt::print("pha {}{}\n", PHA_VERSION, PHA_HAVE_CUDA_BUILD ? " (cpu, cuda)" : " (cpu)");
    return 0;
  }
  for (const auto& command : pha::launch::command_table()) {
    if (command.name != args[0]) continue;
    try {
      return command.run(std::vector<std::string>(args.begin() + 1, args.end()));
    } catch (const std::exception& e) {
      fmt::print(stderr, "pha {}: error: {}\n", command.name, e.what());
      return 1;
    }
  }
  fmt::print(stderr, "pha: unknown command '{}'. Run 'pha --help' for the list of commands.\n",
             args[0]);
  return 2;
}
