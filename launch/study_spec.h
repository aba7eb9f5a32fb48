#pragma once
// The study file of `pha study` (docs/cli.md, "pha study"): which corpus, tokenizers, model sizes,
// variants, sequence lengths, budgets and seeds make up a study. Parsing checks every name and
// number up front and refuses a bad file with one message naming the file, line and rule.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "layers/model_config.h"

namespace pha::launch {

// A tokenizer of the study: "byte", or "bpe:N" (a BPE trained on the corpus's training text to N
// tokens); `name` is the directory and CSV name ("byte", "bpe8192").
struct StudyTokenizer {
  std::string name;
  int64_t bpe_vocab = 0;  // 0: byte-level
  static StudyTokenizer parse(const std::string& text);
};

// How much each training cell sees: `tokens` per cell, or the same `text_bytes` of training text
// for every tokenizer (converted with the shard's bytes per token). Exactly one is set.
struct StudyBudget {
  int64_t tokens = 0, text_bytes = 0;
  bool set() const { return tokens > 0 || text_bytes > 0; }
};

// A model size: the PHA shape every variant starts from. Without a preset, from d, layers and
// heads with the spec's ratios of pha-125m (n_kv = heads/3, d_ff = 8d/3, gss_f = 4d/3,
// gss_h = d/3, dss_n = 2d/3); any of them may be given instead.
struct StudySize {
  std::string name;
  ModelConfig model;  // the PHA shape (block pha, softmax mixer)
  std::string preset;
  StudyBudget budget;
};

// A model variant, named `<block>[-<modifier>...]`: block pha, serial (the spec's matched
// baseline: n_kv = n_q, d_ff = 4d), or a '+'-joined subset of attention, gss, ffn; modifiers
// softmax | scalar | channel (the mixer), heads<K> (K query heads of the size's head width: an
// attention budget), window<W> (sliding attention window of W tokens).
struct StudyVariant {
  std::string name;
  BlockKind block;
  bool matched_serial = false;
  MixerKind mixer = MixerKind::softmax;
  int64_t heads = 0, window = 0;  // 0: the size's
  static StudyVariant parse(const std::string& text);
  // The size's model under this variant; refuses head counts that do not divide.
  ModelConfig apply(const ModelConfig& size_model, const std::string& size_name) const;
};

// A cross product of cells: every size x variant x tokenizer x sequence length x seed.
// Training grids train to the budget with evaluations; throughput grids run `steps` steps at
// `batch_tokens` tokens per step (at least one sequence) and only measure speed and memory.
struct StudyGrid {
  std::string name;
  bool throughput = false;
  std::vector<std::string> sizes;
  std::vector<StudyVariant> variants;
  std::vector<StudyTokenizer> tokenizers;
  std::vector<int64_t> seq_lens, seeds;
  StudyBudget budget;  // unset: the size's, else the study's
  int64_t steps = 4;   // throughput grids
  int64_t batch_tokens = 0;
};

struct StudySpec {
  std::string file, name, dir;
  std::vector<std::string> train_files, eval_files;
  int64_t ranks = 1, threads = 0;
  std::string launcher;  // prefix of every `pha train`; {ranks} is replaced
  int64_t batch_tokens = 8192;
  int64_t evals = 4;           // evaluations per training cell, the last at its end
  int64_t eval_bytes = 65536;  // text bytes of the evaluation file each evaluation reads
  double warmup_fraction = 0.1;
  StudyBudget budget;
  // `section.key = value` lines of [study]: pha train keys set in every cell.
  std::vector<std::pair<std::string, std::string>> train_keys;
  std::vector<StudySize> sizes;
  std::vector<StudyGrid> grids;
  const StudySize& size(const std::string& name) const;
};

// Reads and checks `path`.
StudySpec read_study_file(const std::string& path);

}  // namespace pha::launch
