#include "launch/command_options.h"

#include <filesystem>
#include <iostream>

#include "core/error.h"

namespace po = boost::program_options;

namespace pha::launch {

bool parse_command_options(const po::options_description& opts,
                           const std::vector<std::string>& args, po::variables_map& vm) {
  po::store(po::command_line_parser(args).options(opts).run(), vm);
  if (vm.count("help")) {
    std::cout << opts;
    return false;
  }
  po::notify(vm);
  return true;
}

std::string weights_of(const std::string& run_dir, const std::string& weights,
                       const std::string& command) {
  PHA_REQUIRE(run_dir.empty() != weights.empty(),
              "give exactly one of --run DIR or --weights FILE (see {} --help)", command);
  const std::string path =
      weights.empty() ? (std::filesystem::path(run_dir) / "weights.h5").string() : weights;
  if (weights.empty())
    PHA_REQUIRE(std::filesystem::is_directory(run_dir),
                "the run directory '{}' does not exist (so neither does {}): give the --run.dir "
                "of a pha train run",
                run_dir, path);
  PHA_REQUIRE(std::filesystem::exists(path),
              "the weights file '{}' does not exist: a run writes it when training ends", path);
  return path;
}

}  // namespace pha::launch
