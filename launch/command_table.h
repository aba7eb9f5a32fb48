#pragma once
// The table of `pha` subcommands. The top-level help is generated from it, and each command builds
// its own Boost.Program_options description, which prints its own help: usage cannot drift from
// the parser.
#include <string>
#include <vector>

namespace pha::launch {

struct Command {
  std::string name;     // "train"
  std::string summary;  // one line for `pha --help`
  int (*run)(const std::vector<std::string>& args);
};

const std::vector<Command>& command_table();
std::string top_level_help();

}  // namespace pha::launch
