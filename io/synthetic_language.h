#pragma once
// The vocabulary and grammar of the built-in synthetic corpus (docs/data.md). Word-level: every
// word is one token, so a small model can learn the language. The vocabulary (version 1, fixed):
//   <eos> <kv> <q> . ,            document end, MQAR section markers, punctuation
//   k00..k63 v00..v63             MQAR keys and values
//   English function words        determiners (agreeing in number), prepositions, conjunctions,
//   that generated content words       4 noun classes x 20 nouns (singular and plural "-s" forms),
//                                 60 verbs (singular "-s" and plural forms; intransitive, or
//                                 transitive with an object class), 40 adjectives, 16 adverbs
// Sentences agree: determiners with their noun, every verb with its subject (also across a
// relative clause), verbs select the class of their subject and object, adjectives their noun's.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "io/philox_draws.h"
#include "io/tokenizer.h"

namespace pha::io {

class SyntheticLanguage {
 public:
  static constexpr uint32_t kEndOfDocument = 0, kKeyValueSection = 1, kQuerySection = 2,
                            kPeriod = 3, kComma = 4;
  static constexpr uint32_t kKeys = 64, kValues = 64, kFirstKey = 5,
                            kFirstValue = kFirstKey + kKeys;

  static const SyntheticLanguage& get();

  uint32_t vocab_size() const { return static_cast<uint32_t>(words_.size()); }
  const std::string& word(uint32_t id) const { return words_.at(id); }
  // The id of a spelled word, or -1.
  int64_t id_of(const std::string& word) const;
  static bool is_key(uint32_t id) { return id >= kFirstKey && id < kFirstKey + kKeys; }
  static bool is_value(uint32_t id) { return id >= kFirstValue && id < kFirstValue + kValues; }

  // Appends one sentence (ending with ".") drawn from the grammar.
  void sentence(PhiloxDraws& draws, std::vector<uint32_t>& out) const;

 private:
  SyntheticLanguage();
  struct Verb {
    uint32_t singular, plural;
    int object_class;  // -1: intransitive
  };
  enum Number { singular = 0, plural = 1 };
  void clause(PhiloxDraws& d, std::vector<uint32_t>& out) const;
  void noun_phrase(PhiloxDraws& d, Number n, int cls, int depth, std::vector<uint32_t>& out) const;
  void verb_phrase(PhiloxDraws& d, Number n, int subject_class, int depth,
                   std::vector<uint32_t>& out) const;
  uint32_t add(const std::string& word);

  std::vector<std::string> words_;
  std::unordered_map<std::string, uint32_t> ids_;
  std::vector<uint32_t> determiners_[2];  // by number; "the" and "my" in both
  std::vector<uint32_t> nouns_[4][2];     // [class][number]
  std::vector<uint32_t> class_adjectives_[4], general_adjectives_;
  std::vector<Verb> verbs_[4];  // by subject class
  std::vector<uint32_t> adverbs_, prepositions_, conjunctions_;
  uint32_t that_ = 0;
};

// The synthetic vocabulary as a tokenizer: words separated by whitespace; an unknown word is
// refused. identity "synthetic-v1".
class SyntheticTokenizer final : public Tokenizer {
 public:
  std::vector<uint32_t> encode(std::string_view text) const override;
  std::string decode(std::span<const uint32_t> ids) const override;
  uint32_t vocab_size() const override { return SyntheticLanguage::get().vocab_size(); }
  std::string identity() const override { return "synthetic-v1"; }
  std::optional<uint32_t> end_of_text() const override { return SyntheticLanguage::kEndOfDocument; }
};

}  // namespace pha::io
