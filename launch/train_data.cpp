#include "launch/train_data.h"

#include <fmt/format.h>

#include "core/error.h"
#include "io/synthetic_corpus.h"

namespace pha::launch {

io::SyntheticOptions synthetic_options(const DataSettings& d) {
  io::SyntheticOptions o;
  o.mqar_fraction = d.mqar_fraction;
  o.max_pairs = static_cast<uint32_t>(d.mqar_max_pairs);
  o.n_keys = static_cast<uint32_t>(d.mqar_keys);
  o.n_values = static_cast<uint32_t>(d.mqar_values);
  o.min_pairs = std::min(o.min_pairs, o.max_pairs);
  return o;
}

TokenStream::TokenStream(const std::string& source, const std::string& split, uint64_t seed,
                         int64_t synthetic_tokens, int64_t model_vocab,
                         io::SyntheticOptions options) {
  if (source == "synthetic") {
    const uint32_t vocab = io::SyntheticCorpus::vocab_size();
    PHA_REQUIRE(vocab <= model_vocab,
                "the built-in corpus has {} tokens but model.vocab = {}: set model.vocab >= {}",
                vocab, model_vocab, vocab);
    // The validation part is a tenth of the training part, from an independent document stream.
    const int64_t n =
        split == "val" ? std::max<int64_t>(synthetic_tokens / 10, 4096) : synthetic_tokens;
    generated_ = io::SyntheticCorpus(seed, split, options).generate(static_cast<uint64_t>(n));
    vocab_ = vocab;
    description_ = fmt::format("built-in synthetic corpus ({} split, {} tokens)", split, n);
  } else {
    shard_.emplace(source, static_cast<uint32_t>(model_vocab));
    description_ = fmt::format("{} ({} tokens, tokenizer {})", source, shard_->size(),
                               shard_->tokenizer_identity());
  }
}

io::TokenView TokenStream::view() const {
  return shard_ ? shard_->tokens() : io::TokenView::of(generated_, vocab_);
}

}  // namespace pha::launch
