#include "io/bpe_tokenizer.h"

#include <fmt/format.h>

#include <limits>

#include "core/error.h"
#include "io/gpt2_byte_alphabet.h"
#include "io/gpt2_pretokenizer.h"
#include "io/json_reader.h"
#include "io/text_reader.h"

namespace pha::io {
namespace {

constexpr size_t kWordCacheLimit = size_t{1} << 20;

uint64_t pair_key(uint32_t left, uint32_t right) {
  return (uint64_t{left} << 32) | right;
}

struct Fnv1a {
  uint64_t h = 0xcbf29ce484222325ull;
  void add(std::string_view bytes) {
    for (const char c : bytes) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  }
  void add_u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) h = (h ^ ((v >> (8 * i)) & 0xFF)) * 0x100000001b3ull;
  }
};

}  // namespace

std::unique_ptr<BpeTokenizer> BpeTokenizer::load(const std::string& dir) {
  const std::string vocab_path = dir + "/vocab.json", merges_path = dir + "/merges.txt";
  const std::string vocab = read_whole_file(vocab_path, "tokenizer vocabulary");
  const std::string merges = read_whole_file(merges_path, "tokenizer merges");
  return from_text(vocab, merges, dir);
}

std::unique_ptr<BpeTokenizer> BpeTokenizer::from_text(std::string_view vocab_json,
                                                      std::string_view merges_txt,
                                                      const std::string& source) {
  std::unique_ptr<BpeTokenizer> t(new BpeTokenizer());
  t->source_ = source;
  const std::string vocab_name = source + "/vocab.json", merges_name = source + "/merges.txt";
  const auto members = parse_json_int_object(vocab_json, vocab_name);
  PHA_REQUIRE(!members.empty(), "{}: the vocabulary is empty", vocab_name);
  PHA_REQUIRE(members.size() < std::numeric_limits<int32_t>::max(), "{}: too many tokens",
              vocab_name);
  // Ids must be exactly 0..n-1, each once, so that an id indexes the table directly.
  t->token_bytes_.assign(members.size(), {});
  std::vector<bool> seen(members.size(), false);
  std::unordered_map<std::string, uint32_t> id_of_spelling;
  for (const auto& [spelling, id] : members) {
    PHA_REQUIRE(id >= 0 && static_cast<size_t>(id) < members.size() && !seen[id],
                "{}: token {} has id {}; ids must be 0..{} with each used once", vocab_name,
                json_quote(spelling), id, members.size() - 1);
    seen[id] = true;
    // A spelling outside the byte alphabet (an added special token) stands for its own UTF-8.
    t->token_bytes_[id] = gpt2_unspell(spelling).value_or(spelling);
    id_of_spelling.emplace(spelling, static_cast<uint32_t>(id));
    if (spelling == "<|endoftext|>") t->end_of_text_ = static_cast<uint32_t>(id);
  }
  t->byte_token_.fill(-1);
  for (int b = 0; b < 256; ++b) {
    const auto it = id_of_spelling.find(gpt2_spell_bytes(std::string(1, static_cast<char>(b))));
    if (it != id_of_spelling.end()) t->byte_token_[b] = it->second;
  }

  Fnv1a hash;
  for (const std::string& bytes : t->token_bytes_) hash.add_u32(bytes.size()), hash.add(bytes);
  size_t line_no = 0, begin = 0;
  while (begin < merges_txt.size()) {
    size_t end = merges_txt.find('\n', begin);
    if (end == std::string_view::npos) end = merges_txt.size();
    std::string_view line = merges_txt.substr(begin, end - begin);
    begin = end + 1;
    ++line_no;
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty() || (line_no == 1 && line.starts_with("#version"))) continue;
    const size_t space = line.find(' ');
    PHA_REQUIRE(space != std::string_view::npos && space > 0 && space + 1 < line.size() &&
                    line.find(' ', space + 1) == std::string_view::npos,
                "{} line {}: expected two tokens separated by one space, found '{}'", merges_name,
                line_no, line);
    const std::string left(line.substr(0, space)), right(line.substr(space + 1));
    const auto l = id_of_spelling.find(left), r = id_of_spelling.find(right),
               merged = id_of_spelling.find(left + right);
    PHA_REQUIRE(
        l != id_of_spelling.end() && r != id_of_spelling.end() && merged != id_of_spelling.end(),
        "{} line {}: the merge '{}' uses or makes a token missing from vocab.json (are the "
        "two files from the same tokenizer?)",
        merges_name, line_no, line);
    const Merge m{static_cast<uint32_t>(t->merges_.size()), merged->second};
    if (t->merges_.emplace(pair_key(l->second, r->second), m).second)
      hash.add_u32(l->second), hash.add_u32(r->second);
  }
  t->identity_ = fmt::format("gpt2-bpe:{:016x}", hash.h);
  return t;
}

void BpeTokenizer::encode_word(std::string_view word, std::vector<uint32_t>& out) const {
  std::vector<uint32_t> ids(word.size());
  for (size_t i = 0; i < word.size(); ++i) {
    const int64_t id = byte_token_[static_cast<uint8_t>(word[i])];
    PHA_REQUIRE(id >= 0,
                "tokenizer {}: byte 0x{:02x} has no token in vocab.json, so text holding it "
                "cannot be encoded (a byte-level vocabulary has all 256)",
                source_, static_cast<uint8_t>(word[i]));
    ids[i] = static_cast<uint32_t>(id);
  }
  while (ids.size() > 1) {
    const Merge* best = nullptr;
    uint64_t best_key = 0;
    for (size_t i = 0; i + 1 < ids.size(); ++i) {
      const auto it = merges_.find(pair_key(ids[i], ids[i + 1]));
      if (it != merges_.end() && (!best || it->second.rank < best->rank))
        best = &it->second, best_key = it->first;
    }
    if (!best) break;
    // Merge every occurrence of the best pair, left to right.
    size_t w = 0;
    for (size_t i = 0; i < ids.size(); ++w) {
      if (i + 1 < ids.size() && pair_key(ids[i], ids[i + 1]) == best_key) {
        ids[w] = best->result, i += 2;
      } else {
        ids[w] = ids[i], i += 1;
      }
    }
    ids.resize(w);
  }
  out.insert(out.end(), ids.begin(), ids.end());
}

std::vector<uint32_t> BpeTokenizer::encode(std::string_view text) const {
  std::vector<uint32_t> out;
  out.reserve(text.size() / 3);
  std::vector<uint32_t> word_ids;
  gpt2_pretokenize(text, [&](std::string_view word) {
    {
      std::lock_guard lock(cache_mutex_);
      const auto it = word_cache_.find(std::string(word));
      if (it != word_cache_.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    word_ids.clear();
    encode_word(word, word_ids);
    out.insert(out.end(), word_ids.begin(), word_ids.end());
    std::lock_guard lock(cache_mutex_);
    if (word_cache_.size() < kWordCacheLimit) word_cache_.emplace(word, word_ids);
  });
  return out;
}

std::string BpeTokenizer::decode(std::span<const uint32_t> ids) const {
  std::string text;
  for (size_t i = 0; i < ids.size(); ++i) {
    PHA_REQUIRE(ids[i] < token_bytes_.size(),
                "tokenizer {}: id {} at position {} is not in the "
                "vocabulary of {} tokens",
                source_, ids[i], i, token_bytes_.size());
    text += token_bytes_[ids[i]];
  }
  return text;
}

}  // namespace pha::io
