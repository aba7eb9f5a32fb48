#pragma once
// What every subcommand does with its options: parse them, print the usage on --help, and find
// the weights file a command reads from --run DIR or --weights FILE.
#include <boost/program_options.hpp>
#include <string>
#include <vector>

namespace pha::launch {

// Parses `args` into `vm`; on --help prints the usage (from `opts`, so it cannot drift from the
// parser) and returns false: the command then returns 0.
bool parse_command_options(const boost::program_options::options_description& opts,
                           const std::vector<std::string>& args,
                           boost::program_options::variables_map& vm);

// The weights file of exactly one of `run_dir` (its weights.h5, which must exist) and `weights`;
// `command` names the command in the messages ("pha eval").
std::string weights_of(const std::string& run_dir, const std::string& weights,
                       const std::string& command);

}  // namespace pha::launch
