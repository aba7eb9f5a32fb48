#pragma once
// GPT-2 byte-level BPE: text is cut into words by the GPT-2 pre-tokeniser, each word's bytes start
// as one token each, and the merges of merges.txt are applied by rank (lowest first) until none
// applies. Reads the standard vocab.json + merges.txt, GPT-2's own or those written by
// `pha data train-tokenizer`.
#include <array>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "io/tokenizer.h"

namespace pha::io {

class BpeTokenizer final : public Tokenizer {
 public:
  // Reads DIR/vocab.json and DIR/merges.txt.
  static std::unique_ptr<BpeTokenizer> load(const std::string& dir);
  // From the two files' contents; `source` names where they came from in error messages.
  static std::unique_ptr<BpeTokenizer> from_text(std::string_view vocab_json,
                                                 std::string_view merges_txt,
                                                 const std::string& source);

  std::vector<uint32_t> encode(std::string_view text) const override;
  std::string decode(std::span<const uint32_t> ids) const override;
  uint32_t vocab_size() const override { return static_cast<uint32_t>(token_bytes_.size()); }
  // "gpt2-bpe:" + 16 hex digits hashing the ids' bytes and the merges, so the same vocabulary
  // gives the same identity whatever the JSON formatting or the directory.
  std::string identity() const override { return identity_; }
  std::optional<uint32_t> end_of_text() const override { return end_of_text_; }
  size_t merge_count() const { return merges_.size(); }

 private:
  struct Merge {
    uint32_t rank, result;
  };
  BpeTokenizer() = default;
  void encode_word(std::string_view word, std::vector<uint32_t>& out) const;

  std::string source_;
  std::vector<std::string> token_bytes_;        // id -> raw bytes
  std::array<int64_t, 256> byte_token_{};       // byte -> id of its one-byte token, or -1
  std::unordered_map<uint64_t, Merge> merges_;  // (left << 32 | right) -> rank and result
  std::optional<uint32_t> end_of_text_;
  std::string identity_;
  // Words repeat: their encodings are kept (bounded) so that large corpora encode quickly.
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<uint32_t>> word_cache_;
};

}  // namespace pha::io
