#include "io/synthetic_corpus.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "io/philox_draws.h"
#include "io/synthetic_language.h"

namespace pha::io {

using Lang = SyntheticLanguage;

SyntheticCorpus::SyntheticCorpus(uint64_t seed, const std::string& split, SyntheticOptions options)
    : seed_(seed),
      stream_base_(stream_of(("synthetic-corpus/" + split).c_str())),
      options_(options) {
  PHA_REQUIRE(options.mqar_fraction >= 0 && options.mqar_fraction <= 1,
              "synthetic corpus: the MQAR fraction {} is not in [0, 1]", options.mqar_fraction);
  PHA_REQUIRE(options.n_keys >= 1 && options.n_keys <= Lang::kKeys && options.n_values >= 1 &&
                  options.n_values <= Lang::kValues,
              "synthetic corpus: recall keys ({}) and values ({}) must be in [1, {}]",
              options.n_keys, options.n_values, Lang::kKeys);
  PHA_REQUIRE(options.min_pairs >= 1 && options.min_pairs <= options.max_pairs &&
                  options.max_pairs <= options.n_keys,
              "synthetic corpus: key-value pairs per document must satisfy 1 <= min ({}) <= max "
              "({}) <= {} keys",
              options.min_pairs, options.max_pairs, options.n_keys);
  PHA_REQUIRE(options.min_sentences >= 1 && options.min_sentences <= options.max_sentences,
              "synthetic corpus: sentences per document must satisfy 1 <= min ({}) <= max ({})",
              options.min_sentences, options.max_sentences);
}

uint32_t SyntheticCorpus::vocab_size() {
  return Lang::get().vocab_size();
}

std::vector<uint32_t> SyntheticCorpus::document(uint64_t index) const {
  PhiloxDraws d(seed_, stream_base_ + index);
  std::vector<uint32_t> doc;
  if (d.chance(options_.mqar_fraction)) {
    const uint32_t pairs = d.between(options_.min_pairs, options_.max_pairs);
    // Distinct keys: the first `pairs` of a shuffled key list (Fisher-Yates).
    std::vector<uint32_t> keys(options_.n_keys);
    std::iota(keys.begin(), keys.end(), Lang::kFirstKey);
    for (uint32_t i = 0; i < pairs; ++i) std::swap(keys[i], keys[i + d.below(options_.n_keys - i)]);
    keys.resize(pairs);
    std::vector<uint32_t> values(pairs);
    for (auto& v : values) v = Lang::kFirstValue + d.below(options_.n_values);
    doc.push_back(Lang::kKeyValueSection);
    for (uint32_t i = 0; i < pairs; ++i) doc.insert(doc.end(), {keys[i], values[i]});
    std::vector<uint32_t> order(pairs);
    std::iota(order.begin(), order.end(), 0u);
    for (uint32_t i = pairs; i > 1; --i) std::swap(order[i - 1], order[d.below(i)]);
    doc.push_back(Lang::kQuerySection);
    for (const uint32_t i : order) doc.insert(doc.end(), {keys[i], values[i]});
  } else {
    const uint32_t sentences = d.between(options_.min_sentences, options_.max_sentences);
    for (uint32_t s = 0; s < sentences; ++s) Lang::get().sentence(d, doc);
  }
  doc.push_back(Lang::kEndOfDocument);
  return doc;
}

std::vector<uint32_t> SyntheticCorpus::generate(uint64_t n_tokens) const {
  std::vector<uint32_t> tokens;
  tokens.reserve(n_tokens);
  for (uint64_t d = 0; tokens.size() < n_tokens; ++d) {
    const auto doc = document(d);
    tokens.insert(tokens.end(), doc.begin(),
                  doc.begin() + std::min<uint64_t>(doc.size(), n_tokens - tokens.size()));
  }
  return tokens;
}

std::vector<uint8_t> recall_answer_mask(std::span<const int32_t> tokens) {
  enum class Section { none, key_values, queries } section = Section::none;
  std::vector<uint8_t> mask(tokens.size(), 0);
  std::vector<bool> bound(Lang::kKeys, false);
  int64_t pending_key = -1;  // the key just read, awaiting its value
  for (size_t i = 0; i < tokens.size(); ++i) {
    const auto id = static_cast<uint32_t>(tokens[i]);
    if (id == Lang::kKeyValueSection) {
      section = Section::key_values;
      std::fill(bound.begin(), bound.end(), false);
      pending_key = -1;
    } else if (id == Lang::kQuerySection && section == Section::key_values) {
      section = Section::queries;
      pending_key = -1;
    } else if (section != Section::none && Lang::is_key(id)) {
      pending_key = id - Lang::kFirstKey;
    } else if (section != Section::none && Lang::is_value(id) && pending_key >= 0) {
      if (section == Section::key_values)
        bound[pending_key] = true;
      else if (bound[pending_key])
        mask[i] = 1;
      pending_key = -1;
    } else {
      section = Section::none;
    }
  }
  return mask;
}

void RecallScore::add(std::span<const int32_t> tokens, std::span<const int32_t> predicted) {
  PHA_REQUIRE(predicted.size() + 1 >= tokens.size(), "recall score: {} predictions for {} tokens",
              predicted.size(), tokens.size());
  const auto mask = recall_answer_mask(tokens);
  for (size_t t = 1; t < tokens.size(); ++t) {
    if (!mask[t]) continue;
    ++answers;
    correct += predicted[t - 1] == tokens[t];
  }
}

}  // namespace pha::io
