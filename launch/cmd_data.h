#pragma once
// `pha data`: makes the token shards that training reads.
//   pha data prepare          text files -> train/val shards, with a chosen tokenizer
//   pha data train-tokenizer  text files -> a byte-level BPE (vocab.json + merges.txt)
//   pha data synthetic        the built-in synthetic corpus -> train/val shards
// Each subcommand has its own option description, printed by `pha data <subcommand> --help`.
#include <string>
#include <vector>

namespace pha::launch {

int run_data(const std::vector<std::string>& args);

int run_data_prepare(const std::vector<std::string>& args);
int run_data_train_tokenizer(const std::vector<std::string>& args);
int run_data_synthetic(const std::vector<std::string>& args);

}  // namespace pha::launch
