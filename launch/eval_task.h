#pragma once
// `pha eval --task FILE`: multiple-choice accuracy of trained weights (see task_scorer.h).
#include <string>

#include "launch/train_config.h"

namespace pha::launch {

struct TaskEvalOptions {
  std::string weights;    // the weights file
  std::string task;       // the JSONL task file (io/task_file.h)
  std::string out;        // per-item JSONL, or empty
  std::string tokenizer;  // a tokenizer spec, or empty for the run's
};

// Scores the task on one rank (CPU backend), prints the accuracies; returns the exit status.
int eval_task(const TrainConfig& cfg, const TaskEvalOptions& options);

}  // namespace pha::launch
