// TokenSampler: greedy at temperature 0, the softmax with temperature, top-k, top-p (nucleus),
// the draws' frequencies, and one sequence per seed.
#include "layers/token_sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "core/philox.h"
#include "tests/test_util.h"

namespace pha {
namespace {

std::vector<float> random_logits(size_t n, uint64_t seed) {
  std::vector<float> l(n);
  for (size_t i = 0; i < n; ++i) l[i] = static_cast<float>(2.0 * philox_normal(seed, 3, i));
  return l;
}

// softmax(logits / temperature) in double.
std::vector<double> softmax(const std::vector<float>& logits, double temperature) {
  double top = -INFINITY, sum = 0;
  for (float x : logits) top = std::max(top, static_cast<double>(x));
  std::vector<double> p(logits.size());
  for (size_t i = 0; i < p.size(); ++i) sum += p[i] = std::exp((logits[i] - top) / temperature);
  for (double& x : p) x /= sum;
  return p;
}

TEST(TokenSampler, TemperatureZeroIsArgmaxWithLowestIdOnTies) {
  std::vector<float> logits = random_logits(101, 1);
  logits[37] = 9.5f;
  logits[80] = 9.5f;
  TokenSampler greedy({.temperature = 0, .top_k = 0, .top_p = 1, .seed = 4});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(greedy.sample(logits), 37);
  EXPECT_EQ(greedy.draws(), 0) << "greedy decoding draws no random numbers";
}

TEST(TokenSampler, ProbabilitiesAreTheSoftmaxWithTemperature) {
  const std::vector<float> logits = random_logits(50, 2);
  for (double temperature : {0.5, 1.0, 1.7}) {
    const std::vector<double> p = softmax(logits, temperature);
    const auto c = TokenSampler({.temperature = temperature}).candidates(logits);
    ASSERT_EQ(c.size(), logits.size());
    for (size_t i = 0; i < c.size(); ++i) {
      EXPECT_NEAR(c[i].probability, p[static_cast<size_t>(c[i].token)], 1e-12);
      if (i > 0) {
        EXPECT_GE(c[i - 1].probability, c[i].probability);
      }
    }
  }
}

TEST(TokenSampler, TopKKeepsOnlyTheKMostLikely) {
  const std::vector<float> logits = random_logits(200, 3);
  std::vector<float> sorted = logits;
  std::sort(sorted.rbegin(), sorted.rend());
  TokenSampler sampler({.temperature = 1.3, .top_k = 7, .top_p = 1, .seed = 9});
  const auto c = sampler.candidates(logits);
  ASSERT_EQ(c.size(), 7u);
  double sum = 0;
  for (const Candidate& x : c) {
    EXPECT_GE(logits[static_cast<size_t>(x.token)], sorted[6]);
    sum += x.probability;
  }
  EXPECT_NEAR(sum, 1.0, 1e-12);
  std::set<int32_t> seen;
  for (int i = 0; i < 2000; ++i) {
    const int32_t t = sampler.sample(logits);
    EXPECT_GE(logits[static_cast<size_t>(t)], sorted[6]) << "token " << t << " is not in the top 7";
    seen.insert(t);
  }
  EXPECT_GE(seen.size(), 5u) << "the draws should spread over the top 7";
}

TEST(TokenSampler, TopPKeepsTheSmallestSetReachingTheMass) {
  const std::vector<float> logits = random_logits(300, 4);
  const std::vector<double> p = softmax(logits, 1.0);
  for (double top_p : {0.1, 0.5, 0.9, 0.999}) {
    const auto c =
        TokenSampler({.temperature = 1.0, .top_k = 0, .top_p = top_p}).candidates(logits);
    double mass = 0;
    for (const Candidate& x : c) mass += p[static_cast<size_t>(x.token)];
    const double last = p[static_cast<size_t>(c.back().token)];
    EXPECT_GE(mass, top_p - 1e-12) << "top_p " << top_p;
    EXPECT_LT(mass - last, top_p) << "top_p " << top_p << ": one token fewer already reaches it";
    // Renormalised: each kept probability is p / mass.
    for (const Candidate& x : c)
      EXPECT_NEAR(x.probability, p[static_cast<size_t>(x.token)] / mass, 1e-12);
  }
}

TEST(TokenSampler, DrawFrequenciesFollowTheProbabilities) {
  const std::vector<float> logits{0.3f, -1.0f, 1.2f, 0.0f, 2.0f};
  TokenSampler sampler({.temperature = 0.8, .top_k = 4, .top_p = 0.95, .seed = 21});
  const auto c = sampler.candidates(logits);
  const int n = 40000;
  std::vector<int> counts(logits.size());
  for (int i = 0; i < n; ++i) ++counts[static_cast<size_t>(sampler.sample(logits))];
  int kept_count = 0;
  for (const Candidate& x : c) {
    const double f = counts[static_cast<size_t>(x.token)] / static_cast<double>(n);
    const double sigma = std::sqrt(x.probability * (1 - x.probability) / n);
    EXPECT_NEAR(f, x.probability, 5 * sigma) << "token " << x.token;
    kept_count += counts[static_cast<size_t>(x.token)];
  }
  EXPECT_EQ(kept_count, n) << "only kept tokens are drawn";
}

TEST(TokenSampler, SameSeedSameTokensOtherSeedOtherTokens) {
  const std::vector<float> logits = random_logits(64, 5);
  const auto run = [&](uint64_t seed) {
    TokenSampler s({.temperature = 1.0, .top_k = 40, .top_p = 0.9, .seed = seed});
    std::vector<int32_t> out;
    for (int i = 0; i < 50; ++i) out.push_back(s.sample(logits));
    return out;
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

TEST(TokenSampler, RefusesBadOptionsAndLogits) {
  test::expect_error([] { TokenSampler({.temperature = -1}); }, "temperature -1 must be >= 0");
  test::expect_error([] { TokenSampler({.temperature = 1, .top_k = -2}); },
                     "top-k -2 must be >= 0");
  test::expect_error([] { TokenSampler({.temperature = 1, .top_k = 0, .top_p = 0}); },
                     "top-p 0 must be in (0, 1]");
  TokenSampler s({});
  const std::vector<float> bad{0.0f, NAN};
  test::expect_error([&] { s.sample(bad); }, "logit nan of token 1 is not finite");
}

}  // namespace
}  // namespace pha
