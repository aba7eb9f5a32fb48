#pragma once
// Picks the next token from a row of logits: greedy at temperature 0, else a draw from
// softmax(logits / temperature) restricted to the top-k tokens and then to the smallest set of the
// most likely tokens whose probability reaches top_p (nucleus sampling). Draw i uses Philox
// (seed, stream "token_sampler", i), so one seed gives one sequence of tokens on any machine.
#include <cstdint>
#include <span>
#include <vector>

namespace pha {

struct SamplerOptions {
  double temperature = 1.0;  // 0: greedy (argmax, the lowest id on ties)
  int64_t top_k = 0;         // 0: no limit
  double top_p = 1.0;        // in (0, 1]; 1: no limit
  uint64_t seed = 0;
};

struct Candidate {
  int32_t token;
  double probability;
};

class TokenSampler {
 public:
  // Refuses a negative temperature or top_k, or top_p outside (0, 1].
  explicit TokenSampler(const SamplerOptions& options);

  // The next token from logits [V] (the real vocabulary only: no padding columns).
  int32_t sample(std::span<const float> logits);
  // The distribution sample() draws from: the kept tokens, most likely first (ties: lower id
  // first), probabilities renormalised to sum 1. One token at temperature 0.
  std::vector<Candidate> candidates(std::span<const float> logits) const;
  int64_t draws() const { return draws_; }

 private:
  SamplerOptions options_;
  uint64_t stream_;
  int64_t draws_ = 0;
};

}  // namespace pha
