// `pha import`: a model.safetensors (+ config.json) written by `pha export` back into a pha
// weights file, which `pha eval` loads.
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/cpu/cpu_backend.h"
#include "io/json_value.h"
#include "io/safetensors.h"
#include "launch/command_options.h"
#include "launch/commands.h"
#include "launch/distributed.h"
#include "launch/hf_config.h"
#include "launch/ini_config.h"
#include "launch/weights_file.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace pha::launch {

namespace {

std::string read_text(const std::string& path) {
  PHA_REQUIRE(fs::is_regular_file(path), "'{}' does not exist (or is not a file)", path);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  PHA_REQUIRE(in.good() || in.eof(), "cannot read '{}'", path);
  return text.str();
}

}  // namespace

int run_import(const std::vector<std::string>& args) {
  MpiSession mpi(nullptr, nullptr);
  std::string st_path, config_path, out;
  po::options_description opts(
      "pha import --safetensors FILE [--config config.json] --out WEIGHTS.h5");
  opts.add_options()("help,h", "print this help")("safetensors", po::value(&st_path),
                                                  "a model.safetensors written by pha export")(
      "config", po::value(&config_path),
      "its config.json (default: config.json beside the safetensors file)")(
      "out", po::value(&out), "the pha weights file to write (pha eval --weights reads it)");
  po::variables_map vm;
  if (!parse_command_options(opts, args, vm)) return 0;
  PHA_REQUIRE(!st_path.empty() && !out.empty(),
              "give --safetensors FILE and --out WEIGHTS.h5 (see pha import --help)");
  if (config_path.empty()) config_path = (fs::path(st_path).parent_path() / "config.json").string();
  const io::SafetensorsContents contents = io::read_safetensors(st_path);
  const io::JsonValue json = io::parse_json(read_text(config_path), config_path);

  // The run's settings from the file's metadata (when pha wrote it), the model from config.json.
  const auto carried = contents.metadata.find("pha.config");
  TrainConfig cfg =
      carried != contents.metadata.end() ? config_from_ini(carried->second) : TrainConfig{};
  apply_hf_config(json, config_path, cfg);
  cfg.train.seq_len = std::min(cfg.train.seq_len, cfg.model.max_seq_len);
  cfg.finalize();
  const std::string ini = make_option_table(cfg).to_ini();

  CpuBackend backend;
  Model model(backend, cfg.model, 1, 2);
  std::map<std::string, const io::NamedTensor*> by_name;
  for (const io::NamedTensor& t : contents.tensors) by_name[t.name] = &t;
  for (const ParamSpec& spec : model.param_specs()) {
    const auto it = by_name.find(spec.name);
    PHA_REQUIRE(it != by_name.end(),
                "'{}' lacks the tensor '{}' that the model of '{}' has: it was written for "
                "another configuration",
                st_path, spec.name, config_path);
    const io::NamedTensor& t = *it->second;
    const std::vector<int64_t> want(spec.global_shape.dims.begin(),
                                    spec.global_shape.dims.begin() + spec.global_shape.rank);
    PHA_REQUIRE(t.shape == want, "'{}': tensor '{}' has shape {} but '{}' gives {}", st_path,
                spec.name, io::shape_text(t.shape), config_path, io::shape_text(want));
    backend.copy_from_host(model.params().get(spec.name), t.values.data());
    by_name.erase(it);
  }
  PHA_REQUIRE(by_name.empty(), "'{}' holds the tensor '{}' that the model of '{}' does not have",
              st_path, by_name.empty() ? "" : by_name.begin()->first, config_path);
  save_weights(out, model, model.params(), ini, MPI_COMM_WORLD, parallel::GridCoord{});
  fmt::print("imported {} tensors from {} into {} (model: {})\n", contents.tensors.size(), st_path,
             out, cfg.model.summary());
  return 0;
}

}  // namespace pha::launch
