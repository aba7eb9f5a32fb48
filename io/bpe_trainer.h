#pragma once
// Trains a byte-level BPE on the user's corpus, GPT-2 style: text is cut into words by the GPT-2
// pre-tokeniser and counted; starting from the 256 bytes, the most frequent adjacent pair (ties:
// the smaller pair of ids) is merged into a new token, until the vocabulary has the asked size or
// no pair occurs twice. The result is written as vocab.json + merges.txt, loadable by BpeTokenizer.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace pha::io {

// A trained vocabulary, tokens as raw bytes. Ids: the 256 bytes in GPT-2's order, then one token
// per merge in merge order, then <|endoftext|>.
struct BpeVocabulary {
  std::vector<std::string> token_bytes;
  std::vector<std::pair<std::string, std::string>> merges;
};

class BpeTrainer {
 public:
  // Pre-tokenises `text` and adds its words to the counts (call once per chunk of the corpus).
  void add_text(std::string_view text);
  // `vocab_size` counts the 256 bytes, the merges and <|endoftext|>, so it must be at least 257.
  BpeVocabulary train(uint32_t vocab_size) const;
  uint64_t word_count() const { return total_words_; }
  size_t distinct_words() const { return word_counts_.size(); }

 private:
  std::unordered_map<std::string, uint64_t> word_counts_;
  uint64_t total_words_ = 0;
};

// The GPT-2 formats: vocab.json (spelling -> id) and merges.txt ("#version: 0.2", then one merge
// per line).
std::string bpe_vocab_json(const BpeVocabulary& vocab);
std::string bpe_merges_txt(const BpeVocabulary& vocab);
// Writes DIR/vocab.json and DIR/merges.txt, creating DIR if needed.
void write_bpe_files(const BpeVocabulary& vocab, const std::string& dir);

}  // namespace pha::io
