#include "io/bpe_trainer.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <queue>

#include "core/error.h"
#include "io/gpt2_byte_alphabet.h"
#include "io/gpt2_pretokenizer.h"
#include "io/json_reader.h"

namespace pha::io {
namespace {

uint64_t pair_key(uint32_t left, uint32_t right) {
  return (uint64_t{left} << 32) | right;
}
uint32_t left_of(uint64_t key) {
  return static_cast<uint32_t>(key >> 32);
}
uint32_t right_of(uint64_t key) {
  return static_cast<uint32_t>(key);
}

struct Word {
  std::vector<uint32_t> symbols;  // internal ids: bytes are 0..255, merge k is 256 + k
  int64_t count;
};

// A candidate merge in the priority queue; stale entries (count changed since) are skipped.
struct Candidate {
  int64_t count;
  uint64_t pair;
  bool operator<(const Candidate& o) const {  // max-heap: higher count, then smaller pair
    return count != o.count ? count < o.count : pair > o.pair;
  }
};

// The merge state: words as symbol strings, pair counts, and where each pair occurs.
class MergeState {
 public:
  explicit MergeState(std::vector<Word> words) : words_(std::move(words)) {
    for (uint32_t w = 0; w < words_.size(); ++w) {
      const auto& s = words_[w].symbols;
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        const uint64_t p = pair_key(s[i], s[i + 1]);
        pair_counts_[p] += words_[w].count;
        pair_words_[p].push_back(w);
      }
    }
    for (const auto& [pair, count] : pair_counts_) queue_.push({count, pair});
  }

  // The most frequent pair, if it occurs at least twice.
  std::optional<uint64_t> best_pair() {
    while (!queue_.empty()) {
      const Candidate top = queue_.top();
      const auto it = pair_counts_.find(top.pair);
      if (it == pair_counts_.end() || it->second != top.count) {
        queue_.pop();
        continue;
      }
      if (top.count < 2) return std::nullopt;
      return top.pair;
    }
    return std::nullopt;
  }

  // Replaces every occurrence of `pair` by `new_id`, updating the counts of the pairs around it.
  void merge(uint64_t pair, uint32_t new_id) {
    std::vector<uint32_t> where = std::move(pair_words_[pair]);
    pair_words_.erase(pair);
    std::sort(where.begin(), where.end());
    where.erase(std::unique(where.begin(), where.end()), where.end());
    std::unordered_map<uint64_t, int64_t> delta;
    std::vector<uint32_t> merged;
    for (const uint32_t w : where) {
      auto& [symbols, count] = words_[w];
      merged.clear();
      for (size_t i = 0; i < symbols.size();) {
        if (i + 1 < symbols.size() && pair_key(symbols[i], symbols[i + 1]) == pair) {
          merged.push_back(new_id), i += 2;
        } else {
          merged.push_back(symbols[i]), i += 1;
        }
      }
      if (merged.size() == symbols.size()) continue;  // a stale entry: the pair left this word
      for (size_t i = 0; i + 1 < symbols.size(); ++i)
        delta[pair_key(symbols[i], symbols[i + 1])] -= count;
      for (size_t i = 0; i + 1 < merged.size(); ++i) {
        const uint64_t p = pair_key(merged[i], merged[i + 1]);
        delta[p] += count;
        if (merged[i] == new_id || merged[i + 1] == new_id) pair_words_[p].push_back(w);
      }
      symbols.swap(merged);
    }
    for (const auto& [p, d] : delta) {
      if (d == 0) continue;
      const int64_t now = pair_counts_[p] += d;
      if (now > 0)
        queue_.push({now, p});
      else
        pair_counts_.erase(p);
    }
  }

 private:
  std::vector<Word> words_;
  std::unordered_map<uint64_t, int64_t> pair_counts_;
  std::unordered_map<uint64_t, std::vector<uint32_t>> pair_words_;
  std::priority_queue<Candidate> queue_;
};

}  // namespace

void BpeTrainer::add_text(std::string_view text) {
  gpt2_pretokenize(text, [&](std::string_view word) {
    ++word_counts_[std::string(word)];
    ++total_words_;
  });
}

BpeVocabulary BpeTrainer::train(uint32_t vocab_size) const {
  PHA_REQUIRE(vocab_size >= 257,
              "a byte-level BPE vocabulary of {} is too small: it holds the 256 "
              "bytes and <|endoftext|>, so give --vocab-size of at least 257",
              vocab_size);
  PHA_REQUIRE(!word_counts_.empty(), "no text to train the tokenizer on");
  // Sorted words make the ids independent of hash-table order.
  std::vector<std::pair<std::string_view, uint64_t>> sorted(word_counts_.begin(),
                                                            word_counts_.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<Word> words;
  words.reserve(sorted.size());
  for (const auto& [text, count] : sorted) {
    Word w{std::vector<uint32_t>(text.size()), static_cast<int64_t>(count)};
    for (size_t i = 0; i < text.size(); ++i) w.symbols[i] = static_cast<uint8_t>(text[i]);
    words.push_back(std::move(w));
  }

  std::vector<std::string> bytes_of(256);
  for (int b = 0; b < 256; ++b) bytes_of[b] = std::string(1, static_cast<char>(b));
  BpeVocabulary vocab;
  MergeState state(std::move(words));
  const size_t merges_wanted = vocab_size - 257;
  while (vocab.merges.size() < merges_wanted) {
    const auto pair = state.best_pair();
    if (!pair) break;
    const uint32_t new_id = static_cast<uint32_t>(bytes_of.size());
    vocab.merges.emplace_back(bytes_of[left_of(*pair)], bytes_of[right_of(*pair)]);
    bytes_of.push_back(bytes_of[left_of(*pair)] + bytes_of[right_of(*pair)]);
    state.merge(*pair, new_id);
  }
  for (int rank = 0; rank < 256; ++rank)
    vocab.token_bytes.emplace_back(1, static_cast<char>(gpt2_byte_of_rank(rank)));
  vocab.token_bytes.insert(vocab.token_bytes.end(), bytes_of.begin() + 256, bytes_of.end());
  vocab.token_bytes.emplace_back("<|endoftext|>");
  return vocab;
}

std::string bpe_vocab_json(const BpeVocabulary& vocab) {
  std::string out = "{";
  for (size_t id = 0; id < vocab.token_bytes.size(); ++id) {
    // <|endoftext|> is printable ASCII, which the alphabet spells as itself.
    out += fmt::format("{}\n  {}: {}", id ? "," : "",
                       json_quote(gpt2_spell_bytes(vocab.token_bytes[id])), id);
  }
  return out + "\n}\n";
}

std::string bpe_merges_txt(const BpeVocabulary& vocab) {
  std::string out = "#version: 0.2\n";
  for (const auto& [left, right] : vocab.merges)
    out += gpt2_spell_bytes(left) + " " + gpt2_spell_bytes(right) + "\n";
  return out;
}

void write_bpe_files(const BpeVocabulary& vocab, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  PHA_REQUIRE(!ec, "cannot create the tokenizer directory '{}': {}", dir, ec.message());
  for (const auto& [name, text] : {std::pair{std::string("vocab.json"), bpe_vocab_json(vocab)},
                                   std::pair{std::string("merges.txt"), bpe_merges_txt(vocab)}}) {
    const std::string path = dir + "/" + name;
    std::ofstream out(path, std::ios::binary);
    out << text;
    out.close();
    PHA_REQUIRE(out.good(), "cannot write '{}' (is the disk full or the directory read-only?)",
                path);
  }
}

}  // namespace pha::io
