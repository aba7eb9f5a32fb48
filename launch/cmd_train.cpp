// `pha train`: configuration from an INI file plus --section.key=value overrides, validated up
// front, then the training loop.
#include "launch/commands.h"
#include "launch/trainer.h"

namespace pha::launch {

int run_train(const std::vector<std::string>& args) {
  TrainConfig cfg;
  if (!parse_train_args(args, cfg)) return 0;
  return train(cfg, make_option_table(cfg).to_ini());
}

}  // namespace pha::launch
