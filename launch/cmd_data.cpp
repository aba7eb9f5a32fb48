// `pha data <subcommand>`: dispatches to prepare, train-tokenizer and synthetic.
#include "launch/cmd_data.h"

#include <fmt/format.h>

#include "core/error.h"

namespace pha::launch {
namespace {

struct DataCommand {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>& args);
};

constexpr DataCommand kDataCommands[] = {
    {"prepare", "tokenize text files into train/val token shards", run_data_prepare},
    {"train-tokenizer", "train a byte-level BPE tokenizer (vocab.json + merges.txt) on text files",
     run_data_train_tokenizer},
    {"synthetic", "write train/val shards of the built-in synthetic corpus (language + recall)",
     run_data_synthetic},
};

std::string data_help() {
  std::string help =
      "Usage: pha data <subcommand> [options]    (pha data <subcommand> --help for its "
      "options)\n\nSubcommands:\n";
  for (const auto& c : kDataCommands) help += fmt::format("  {:<16} {}\n", c.name, c.summary);
  return help;
}

}  // namespace

int run_data(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    fmt::print("{}", data_help());
    return args.empty() ? 2 : 0;
  }
  for (const auto& c : kDataCommands)
    if (args[0] == c.name) return c.run(std::vector<std::string>(args.begin() + 1, args.end()));
  fail("unknown data subcommand '{}': use prepare, train-tokenizer or synthetic (pha data --help)",
       args[0]);
}

}  // namespace pha::launch
