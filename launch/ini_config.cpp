#include "launch/ini_config.h"

#include <sstream>

namespace po = boost::program_options;

namespace pha::launch {

TrainConfig config_from_ini(const std::string& ini) {
  TrainConfig cfg;
  OptionTable table = make_option_table(cfg);
  std::istringstream in(ini);
  po::variables_map vm;
  po::store(po::parse_config_file(in, table.description("config"), false), vm);
  table.apply(vm);
  return cfg;
}

}  // namespace pha::launch
