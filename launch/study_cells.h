#pragma once
// The cells of a study: every grid's sizes x variants x tokenizers x sequence lengths x seeds as
// one `pha train` configuration each, with what the planner says about it (parameters, FLOPs per
// token, the bytes rank 0 allocates) so the results compare at equal parameters and FLOPs.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "launch/study_data.h"
#include "launch/study_spec.h"
#include "launch/train_config.h"

namespace pha::launch {

struct StudyCell {
  std::string id;   // "byte-xs-pha-T256-s1", "tp-bpe8192-small-serial-T8192-s1"
  std::string dir;  // STUDY_DIR/cells/<id> (absolute)
  std::string grid, tokenizer, size, variant;
  bool throughput = false;
  int64_t seq_len = 0, seed = 0, ranks = 1;
  TrainConfig cfg;  // finalized
  std::string ini;  // cfg as pha train's INI: the cell's cell.ini
  int64_t params = 0;
  double flops_per_token = 0;     // model FLOPs per trained token, forward + backward
  uint64_t plan_bytes = 0;        // what rank 0 allocates (the planner's arenas)
  uint64_t plan_activations = 0;  // of which activations
  int64_t tokens() const {
    return cfg.train.steps * cfg.train.batch_size * cfg.train.seq_len * ranks;
  }
};

// Every cell of `spec`, in grid order (each grid: seeds, then tokenizers, sizes, lengths,
// variants), without duplicates. `data` holds the prepared data of every tokenizer the grids use.
// Refuses a cell that pha train would refuse, naming the cell.
std::vector<StudyCell> expand_study(const StudySpec& spec,
                                    const std::map<std::string, StudyData>& data);

}  // namespace pha::launch
