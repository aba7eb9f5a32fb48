#pragma once
// The built-in synthetic corpus: documents of the synthetic language (io/synthetic_language.h)
// mixed with multi-query associative recall (MQAR) documents
//   <kv> k17 v03 k05 v41 ... <q> k05 v41 k17 v03 ... <eos>
// where every key of the key-value section is queried once, in a shuffled order, and is followed by
// its value. Deterministic: document d depends only on (seed, split, options, d), so it can be
// generated in any order, written to shards, or produced in memory for a training batch.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace pha::io {

struct SyntheticOptions {
  double mqar_fraction = 0.25;  // share of documents that are MQAR
  uint32_t min_pairs = 4, max_pairs = 16;
  // Recall draws its keys from the first `n_keys` and its values from the first `n_values` of
  // the language's 64 each: fewer makes the task easier to learn (docs/data.md, "Recall").
  uint32_t n_keys = 64, n_values = 64;
  uint32_t min_sentences = 2, max_sentences = 8;
};

class SyntheticCorpus {
 public:
  // `split` ("train", "val") selects an independent stream of documents under the same seed.
  SyntheticCorpus(uint64_t seed, const std::string& split, SyntheticOptions options = {});

  // Document `index`, ending with <eos>.
  std::vector<uint32_t> document(uint64_t index) const;
  // The first `n_tokens` tokens of documents 0, 1, 2, ... concatenated.
  std::vector<uint32_t> generate(uint64_t n_tokens) const;

  static uint32_t vocab_size();
  static std::string identity() { return "synthetic-v1"; }

 private:
  uint64_t seed_, stream_base_;
  SyntheticOptions options_;
};

// Which tokens are recall answers: mask[i] == 1 when token i is a value that follows a query key
// whose binding appears earlier in the same span. Works on any window of a token stream (a window
// that starts inside an MQAR document marks only the queries whose key-value pair it contains).
// The model's prediction at position t is of token t + 1, so it is a recall prediction iff
// mask[t + 1] == 1.
std::vector<uint8_t> recall_answer_mask(std::span<const int32_t> tokens);

// Recall accuracy over sequences: `predicted[t]` is the model's most likely next token at position
// t (its guess for tokens[t + 1]).
struct RecallScore {
  uint64_t answers = 0, correct = 0;
  void add(std::span<const int32_t> tokens, std::span<const int32_t> predicted);
  double accuracy() const { return answers ? static_cast<double>(correct) / answers : 0.0; }
};

}  // namespace pha::io
