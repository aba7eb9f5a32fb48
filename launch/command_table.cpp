#include "launch/command_table.h"

#include <fmt/format.h>

#include "core/version.h"
#include "launch/cmd_data.h"
#include "launch/commands.h"

namespace pha::launch {

const std::vector<Command>& command_table() {
  static const std::vector<Command> table = {
      {"train", "train a model: pha train --config FILE [--section.key=value ...]", run_train},
      {"eval",
       "validation loss and perplexity of trained weights, or a multiple-choice task (--task)",
       run_eval},
      {"sample",
       "text from trained weights (KV cache + GSS recurrence): pha sample --run DIR --prompt TEXT",
       run_sample},
      {"data",
       "make token shards: tokenize text, train a BPE tokenizer, or write the synthetic corpus",
       run_data},
      {"study",
       "a whole comparison from a study file: data, every cell (resumable), CSV, table, figures",
       run_study},
      {"ckpt", "inspect or verify a checkpoint: pha ckpt inspect|verify PATH", run_ckpt},
      {"plan",
       "per-rank memory and FLOPs of a layout before allocating; --memory-per-rank suggests one",
       run_plan},
      {"check", "forward and backward of a tiny PHA model with a finite-difference gradient check",
       run_check},
      {"export", "write weights as model.safetensors + config.json: pha export --run DIR",
       run_export},
      {"import", "a model.safetensors back into a weights file: pha import --safetensors F --out W",
       run_import},
  };
  return table;
}

std::string top_level_help() {
  std::string help = fmt::format(
      "pha {}: trains Parallel Hybrid Architecture language models.\n\n"
      "Usage: pha <command> [options]    (pha <command> --help for its options)\n"
      "       pha --version | --help\n\nCommands:\n",
      PHA_VERSION);
  for (const auto& c : command_table()) help += fmt::format("  {:<10} {}\n", c.name, c.summary);
  return help;
}

}  // namespace pha::launch
