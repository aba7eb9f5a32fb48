#include "launch/text_generator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>

namespace pha::launch {

namespace {

// Wall-clock and process CPU seconds since construction (on a shared machine the CPU time is the
// steadier figure).
struct Stopwatch {
  std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
  std::clock_t cpu = std::clock();
  Timing elapsed() const {
    return {std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count(),
            static_cast<double>(std::clock() - cpu) / CLOCKS_PER_SEC};
  }
};

// max over positions of max_v |a - b| / max_v |b|: rows [S, V] of the decoder (a) and the
// forward (b).
double worst_relative_error(const std::vector<float>& a, const std::vector<float>& b, int64_t V) {
  double worst = 0;
  for (size_t row = 0; row * static_cast<size_t>(V) < b.size(); ++row) {
    double diff = 0, scale = 0;
    for (size_t v = 0; v < static_cast<size_t>(V); ++v) {
      const size_t i = row * static_cast<size_t>(V) + v;
      diff = std::max(diff, std::fabs(static_cast<double>(a[i]) - b[i]));
      scale = std::max(scale, std::fabs(static_cast<double>(b[i])));
    }
    worst = std::max(worst, diff / scale);
  }
  return worst;
}

}  // namespace

int64_t positions_needed(int64_t prompt_tokens, int64_t tokens) {
  return prompt_tokens + std::max<int64_t>(tokens - 1, 0);
}

std::vector<int32_t> encode_prompt(const io::Tokenizer& tokenizer, const ModelConfig& cfg,
                                   const GenerateOptions& o) {
  PHA_REQUIRE(o.tokens >= 1, "--tokens {}: generate at least one token", o.tokens);
  const std::vector<uint32_t> ids = tokenizer.encode(o.prompt);
  PHA_REQUIRE(!ids.empty(), "the prompt encodes to no tokens: give a non-empty --prompt");
  std::vector<int32_t> prompt;
  for (uint32_t id : ids) {
    PHA_REQUIRE(id < static_cast<uint64_t>(cfg.vocab),
                "the prompt's token {} is outside the model's vocabulary of {}: the tokenizer is "
                "not the model's",
                id, cfg.vocab);
    prompt.push_back(static_cast<int32_t>(id));
  }
  const int64_t needed = positions_needed(static_cast<int64_t>(prompt.size()), o.tokens);
  PHA_REQUIRE(needed <= cfg.max_seq_len,
              "the prompt ({} tokens) and --tokens {} need {} positions, more than the model's "
              "max_seq_len = {}: shorten the prompt or generate fewer tokens",
              prompt.size(), o.tokens, needed, cfg.max_seq_len);
  return prompt;
}

GenerateResult generate(Decoder& decoder, Model& model, const io::Tokenizer& tokenizer,
                        const std::vector<int32_t>& prompt, const GenerateOptions& o) {
  // Only ids the tokenizer can decode are drawn (a model may have a wider vocabulary than its
  // data's tokenizer).
  const int64_t V = decoder.config().vocab_padded();
  const int64_t vocab = std::min<int64_t>(decoder.config().vocab, tokenizer.vocab_size());
  TokenSampler sampler(o.sampler);
  const std::optional<uint32_t> end = tokenizer.end_of_text();
  GenerateResult r;
  r.prompt_tokens = prompt;
  std::vector<float> kept;  // with check: the decoder's logits at every position [S, V]
  // Feeds one token; returns the logits when a sample or the check needs them.
  const auto advance = [&](int32_t token, bool need_logits) -> std::vector<float> {
    if (!need_logits && !o.check) {
      decoder.feed(token);
      return {};
    }
    std::vector<float> logits = model.backend().to_host_f32(decoder.step(token));
    if (o.check) kept.insert(kept.end(), logits.begin(), logits.end());
    return logits;
  };
  const auto next = [&](const std::vector<float>& logits) {
    return sampler.sample(std::span<const float>(logits.data(), static_cast<size_t>(vocab)));
  };
  const auto is_end = [&](int32_t token) { return end && static_cast<uint32_t>(token) == *end; };

  decoder.reset();
  Stopwatch prefill;
  std::vector<float> logits;
  for (size_t i = 0; i < prompt.size(); ++i) logits = advance(prompt[i], i + 1 == prompt.size());
  r.generated.push_back(next(logits));
  r.prefill = prefill.elapsed();
  const Stopwatch decode;
  while (static_cast<int64_t>(r.generated.size()) < o.tokens && !is_end(r.generated.back())) {
    r.generated.push_back(next(advance(r.generated.back(), true)));
    ++r.decode_steps;
  }
  r.decode = decode.elapsed();

  std::vector<uint32_t> all(prompt.begin(), prompt.end());
  all.insert(all.end(), r.generated.begin(), r.generated.end());
  r.text = tokenizer.decode(all);

  if (o.check) {
    // The fed tokens: the prompt and every generated token but the last.
    std::vector<int32_t> fed(all.begin(), all.end() - 1);
    PHA_REQUIRE(model.batch() == 1 && model.seq_len() >= static_cast<int64_t>(fed.size()),
                "the check needs a model of one sequence of at least {} tokens", fed.size());
    const int64_t S = static_cast<int64_t>(fed.size()), T = model.seq_len();
    fed.resize(static_cast<size_t>(T), 0);  // padding after the checked positions (causal)
    const Stopwatch forward;
    model.forward(fed.data());
    r.check_forward = forward.elapsed();
    std::vector<float> full = model.backend().to_host_f32(model.logits());
    full.resize(static_cast<size_t>(S * V));
    r.check_rel_error = worst_relative_error(kept, full, V);
  }
  return r;
}

}  // namespace pha::launch
