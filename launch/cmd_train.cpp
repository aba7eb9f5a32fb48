// `pha train`: configuration from an INI file plus --section.key=value overrides, validated up
// front, then the training loop on every MPI rank.
#include "launch/commands.h"
#include "launch/distributed.h"
#include "launch/trainer.h"
#include "parallel/abort.h"

namespace pha::launch {

int run_train(const std::vector<std::string>& args) {
  // Multiple: the background checkpoint writer (train.async_ckpt) does MPI-IO on its own thread.
  MpiSession mpi(nullptr, nullptr, MPI_THREAD_MULTIPLE);
  TrainConfig cfg;
  try {
    if (!parse_train_args(args, cfg)) return 0;
  } catch (const std::exception& e) {
    // Every rank parses the same arguments: one prints.
    if (parallel::world_rank() == 0) fmt::print(stderr, "pha train: error: {}\n", e.what());
    return kTrainFailed;
  }
  return train(cfg, make_option_table(cfg).to_ini());
}

}  // namespace pha::launch
