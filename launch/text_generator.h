#pragma once
// Text generation with the incremental decoder (layers/decoder.h): encode the prompt, prefill it
// token by token, then sample one token per step. Optionally checks every position's logits
// against one full forward of the model over the same tokens.
#include <cstdint>
#include <string>
#include <vector>

#include "io/tokenizer.h"
#include "layers/decoder.h"
#include "layers/token_sampler.h"

namespace pha::launch {

struct GenerateOptions {
  std::string prompt;
  int64_t tokens = 64;  // tokens to generate (fewer when the end-of-text token comes first)
  SamplerOptions sampler;
  bool check = false;  // compare with the full forward (keeps every position's logits)
};

struct Timing {
  double wall_seconds = 0, cpu_seconds = 0;  // cpu: the process's, all threads
};

struct GenerateResult {
  std::vector<int32_t> prompt_tokens, generated;
  std::string text;  // the decoded prompt and continuation
  Timing prefill, decode;
  int64_t decode_steps = 0;  // steps after the prefill (one per generated token but the first)
  // With check: max over positions of max|decoder - forward| / max|forward| (else -1).
  double check_rel_error = -1;
  Timing check_forward;  // the reference forward over every position
};

// Positions a generation of `tokens` after `prompt_tokens` needs: the last generated token is
// never fed back.
int64_t positions_needed(int64_t prompt_tokens, int64_t tokens);

// Refuses an empty prompt or more positions than the model's max_seq_len (naming both numbers).
std::vector<int32_t> encode_prompt(const io::Tokenizer& tokenizer, const ModelConfig& cfg,
                                   const GenerateOptions& options);

// Generates with `decoder` (reset first), which reads the weights of `model`; draws only ids that
// both the model and the tokenizer have. With options.check, `model` must hold one sequence of at
// least positions_needed(...) tokens: its forward gives the reference logits.
GenerateResult generate(Decoder& decoder, Model& model, const io::Tokenizer& tokenizer,
                        const std::vector<int32_t>& prompt, const GenerateOptions& options);

}  // namespace pha::launch
