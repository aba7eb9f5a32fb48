#include "io/synthetic_language.h"

#include <fmt/format.h>

#include <array>

#include "core/error.h"

namespace pha::io {
namespace {

constexpr int kClasses = 4;
constexpr int kNounsPerClass = 20, kIntransitivePerClass = 6, kTransitivePerClass = 9;
constexpr int kAdjectivesPerClass = 8, kGeneralAdjectives = 8, kAdverbs = 16;
// The content words are drawn once from this fixed seed: they are part of the language's version.
constexpr uint64_t kLanguageSeed = 0x5EED1A46;

// A pronounceable stem: one or two consonant-vowel syllables and an optional final consonant.
std::string make_stem(PhiloxDraws& d) {
  static constexpr std::array<const char*, 26> onsets = {
      "b", "bl", "br", "d", "dr", "f",  "fl", "g",  "gl", "gr", "k",  "kl", "m",
      "n", "p",  "pl", "r", "s",  "sk", "sl", "sn", "st", "t",  "tr", "v",  "z"};
  static constexpr std::array<const char*, 8> vowels = {"a", "e", "i", "o", "u", "oo", "ee", "ai"};
  static constexpr std::array<const char*, 13> codas = {"",  "b", "d",  "g",  "k",  "m", "n",
                                                        "p", "t", "sh", "nk", "mp", "ft"};
  std::string stem;
  const int syllables = d.chance(0.6) ? 1 : 2;
  for (int s = 0; s < syllables; ++s)
    stem += std::string(onsets[d.below(onsets.size())]) + vowels[d.below(vowels.size())];
  return stem + codas[d.below(codas.size())];
}

}  // namespace

const SyntheticLanguage& SyntheticLanguage::get() {
  static const SyntheticLanguage language;
  return language;
}

uint32_t SyntheticLanguage::add(const std::string& word) {
  const auto id = static_cast<uint32_t>(words_.size());
  const bool inserted = ids_.emplace(word, id).second;
  PHA_REQUIRE(inserted, "synthetic language: the word '{}' is defined twice", word);
  words_.push_back(word);
  return id;
}

int64_t SyntheticLanguage::id_of(const std::string& word) const {
  const auto it = ids_.find(word);
  return it == ids_.end() ? int64_t{-1} : int64_t{it->second};
}

SyntheticLanguage::SyntheticLanguage() {
  for (const char* w : {"<eos>", "<kv>", "<q>", ".", ","}) add(w);
  for (uint32_t k = 0; k < kKeys; ++k) add(fmt::format("k{:02d}", k));
  for (uint32_t v = 0; v < kValues; ++v) add(fmt::format("v{:02d}", v));
  for (const char* w : {"a", "every", "one", "this"}) determiners_[singular].push_back(add(w));
  for (const char* w : {"some", "these", "many", "two", "few"})
    determiners_[plural].push_back(add(w));
  for (const char* w : {"the", "my"}) {
    const uint32_t id = add(w);
    determiners_[singular].push_back(id);
    determiners_[plural].push_back(id);
  }
  for (const char* w : {"in", "on", "near", "under", "with", "behind", "above", "beside"})
    prepositions_.push_back(add(w));
  for (const char* w : {"and", "but", "because", "while"}) conjunctions_.push_back(add(w));
  that_ = add("that");

  PhiloxDraws d(kLanguageSeed, stream_of("synthetic-language-v1"));
  // A new stem whose bare and "-s" forms are both unused.
  const auto fresh_stem = [&] {
    while (true) {
      std::string stem = make_stem(d);
      if (stem.size() >= 3 && id_of(stem) < 0 && id_of(stem + "s") < 0 &&
          !(stem.ends_with('s') && id_of(stem.substr(0, stem.size() - 1)) >= 0))
        return stem;
    }
  };
  for (int c = 0; c < kClasses; ++c) {
    for (int i = 0; i < kNounsPerClass; ++i) {
      const std::string stem = fresh_stem();
      nouns_[c][singular].push_back(add(stem));
      nouns_[c][plural].push_back(add(stem + "s"));
    }
    for (int i = 0; i < kIntransitivePerClass + kTransitivePerClass; ++i) {
      const std::string stem = fresh_stem();
      const uint32_t sg = add(stem + "s"), pl = add(stem);
      const int object = i < kIntransitivePerClass ? -1 : static_cast<int>(d.below(kClasses));
      verbs_[c].push_back({sg, pl, object});
    }
    for (int i = 0; i < kAdjectivesPerClass; ++i) class_adjectives_[c].push_back(add(fresh_stem()));
  }
  for (int i = 0; i < kGeneralAdjectives; ++i) general_adjectives_.push_back(add(fresh_stem()));
  for (int i = 0; i < kAdverbs; ++i) adverbs_.push_back(add(fresh_stem() + "ly"));
}

void SyntheticLanguage::noun_phrase(PhiloxDraws& d, Number n, int cls, int depth,
                                    std::vector<uint32_t>& out) const {
  const auto pick = [&](const std::vector<uint32_t>& from) { return from[d.below(from.size())]; };
  out.push_back(pick(determiners_[n]));
  if (d.chance(0.3))
    out.push_back(d.chance(0.75) ? pick(class_adjectives_[cls]) : pick(general_adjectives_));
  out.push_back(pick(nouns_[cls][n]));
  if (depth > 0) return;
  if (d.chance(0.15)) {  // relative clause: its verb agrees with this noun
    out.push_back(that_);
    verb_phrase(d, n, cls, depth + 1, out);
  } else if (d.chance(0.15)) {
    out.push_back(pick(prepositions_));
    noun_phrase(d, static_cast<Number>(d.below(2)), static_cast<int>(d.below(kClasses)), depth + 1,
                out);
  }
}

void SyntheticLanguage::verb_phrase(PhiloxDraws& d, Number n, int subject_class, int depth,
                                    std::vector<uint32_t>& out) const {
  const Verb& verb = verbs_[subject_class][d.below(verbs_[subject_class].size())];
  out.push_back(n == singular ? verb.singular : verb.plural);
  if (verb.object_class >= 0)
    noun_phrase(d, static_cast<Number>(d.below(2)), verb.object_class, depth + 1, out);
  if (depth == 0 && d.chance(0.2)) out.push_back(adverbs_[d.below(adverbs_.size())]);
}

void SyntheticLanguage::clause(PhiloxDraws& d, std::vector<uint32_t>& out) const {
  const auto n = static_cast<Number>(d.below(2));
  const int cls = static_cast<int>(d.below(kClasses));
  noun_phrase(d, n, cls, 0, out);
  verb_phrase(d, n, cls, 0, out);
}

void SyntheticLanguage::sentence(PhiloxDraws& d, std::vector<uint32_t>& out) const {
  clause(d, out);
  if (d.chance(0.25)) {
    out.push_back(kComma);
    out.push_back(conjunctions_[d.below(conjunctions_.size())]);
    clause(d, out);
  }
  out.push_back(kPeriod);
}

std::vector<uint32_t> SyntheticTokenizer::encode(std::string_view text) const {
  const SyntheticLanguage& language = SyntheticLanguage::get();
  std::vector<uint32_t> ids;
  size_t pos = 0;
  while (true) {
    pos = text.find_first_not_of(" \t\r\n", pos);
    if (pos == std::string_view::npos) break;
    const size_t end = std::min(text.find_first_of(" \t\r\n", pos), text.size());
    const std::string word(text.substr(pos, end - pos));
    const int64_t id = language.id_of(word);
    PHA_REQUIRE(id >= 0, "synthetic tokenizer: '{}' is not a word of the synthetic language", word);
    ids.push_back(static_cast<uint32_t>(id));
    pos = end;
  }
  return ids;
}

std::string SyntheticTokenizer::decode(std::span<const uint32_t> ids) const {
  const SyntheticLanguage& language = SyntheticLanguage::get();
  std::string text;
  for (size_t i = 0; i < ids.size(); ++i) {
    PHA_REQUIRE(ids[i] < language.vocab_size(),
                "synthetic tokenizer: id {} at position {} is not "
                "in the vocabulary of {} words",
                ids[i], i, language.vocab_size());
    if (i) text += ids[i - 1] == SyntheticLanguage::kEndOfDocument ? '\n' : ' ';
    text += language.word(ids[i]);
  }
  return text;
}

}  // namespace pha::io
