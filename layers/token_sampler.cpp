#include "layers/token_sampler.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/philox.h"

namespace pha {

TokenSampler::TokenSampler(const SamplerOptions& options)
    : options_(options), stream_(stream_of("token_sampler")) {
  PHA_REQUIRE(std::isfinite(options.temperature) && options.temperature >= 0,
              "temperature {} must be >= 0 (0 = greedy)", options.temperature);
  PHA_REQUIRE(options.top_k >= 0, "top-k {} must be >= 0 (0 = no limit)", options.top_k);
  PHA_REQUIRE(options.top_p > 0 && options.top_p <= 1, "top-p {} must be in (0, 1] (1 = no limit)",
              options.top_p);
}

std::vector<Candidate> TokenSampler::candidates(std::span<const float> logits) const {
  PHA_REQUIRE(!logits.empty(), "the sampler got an empty row of logits");
  const auto more_likely = [](const Candidate& a, const Candidate& b) {
    return a.probability > b.probability || (a.probability == b.probability && a.token < b.token);
  };
  std::vector<Candidate> c(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    PHA_REQUIRE(std::isfinite(logits[i]), "logit {} of token {} is not finite", logits[i], i);
    c[i] = {static_cast<int32_t>(i), static_cast<double>(logits[i])};
  }
  if (options_.temperature == 0) {
    // The ordering on logits equals the ordering on probabilities.
    return {Candidate{std::min_element(c.begin(), c.end(), more_likely)->token, 1.0}};
  }
  // Top-k first (on the logits: same order), then sort only what is kept.
  size_t kept = c.size();
  if (options_.top_k > 0) kept = std::min(kept, static_cast<size_t>(options_.top_k));
  std::partial_sort(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(kept), c.end(), more_likely);
  c.resize(kept);
  // softmax(logits / temperature) over the kept tokens: the ones dropped by top-k do not count.
  const double top = c.front().probability;
  double sum = 0;
  for (Candidate& x : c) {
    x.probability = std::exp((x.probability - top) / options_.temperature);
    sum += x.probability;
  }
  // Nucleus: the shortest prefix whose mass reaches top_p (always at least one token).
  double mass = 0;
  size_t nucleus = 0;
  while (nucleus < c.size()) {
    mass += c[nucleus].probability / sum;
    ++nucleus;
    if (mass >= options_.top_p) break;
  }
  c.resize(nucleus);
  double kept_sum = 0;
  for (const Candidate& x : c) kept_sum += x.probability;
  for (Candidate& x : c) x.probability /= kept_sum;
  return c;
}

int32_t TokenSampler::sample(std::span<const float> logits) {
  const std::vector<Candidate> c = candidates(logits);
  if (c.size() == 1) return c.front().token;
  const double u = philox_uniform(options_.seed, stream_, static_cast<uint64_t>(draws_++));
  double cumulative = 0;
  for (const Candidate& x : c) {
    cumulative += x.probability;
    if (u < cumulative) return x.token;
  }
  return c.back().token;  // u within rounding of 1
}

}  // namespace pha
