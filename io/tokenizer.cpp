#include "io/tokenizer.h"

#include "core/error.h"
#include "io/bpe_tokenizer.h"
#include "io/synthetic_language.h"

namespace pha::io {

std::vector<uint32_t> ByteTokenizer::encode(std::string_view text) const {
  std::vector<uint32_t> ids(text.size());
  for (size_t i = 0; i < text.size(); ++i) ids[i] = static_cast<uint8_t>(text[i]);
  return ids;
}

std::string ByteTokenizer::decode(std::span<const uint32_t> ids) const {
  std::string text(ids.size(), '\0');
  for (size_t i = 0; i < ids.size(); ++i) {
    PHA_REQUIRE(ids[i] < 256, "byte tokenizer: id {} at position {} is not a byte (ids are 0..255)",
                ids[i], i);
    text[i] = static_cast<char>(ids[i]);
  }
  return text;
}

std::unique_ptr<Tokenizer> make_tokenizer(const std::string& spec) {
  if (spec == "byte") return std::make_unique<ByteTokenizer>();
  if (spec == "synthetic") return std::make_unique<SyntheticTokenizer>();
  for (const std::string_view kind : {"gpt2:", "bpe:"}) {
    if (!spec.starts_with(kind)) continue;
    const std::string dir = spec.substr(kind.size());
    PHA_REQUIRE(!dir.empty(),
                "tokenizer '{}': give the directory holding vocab.json and merges.txt, "
                "like {}path/to/dir",
                spec, kind);
    return BpeTokenizer::load(dir);
  }
  fail(
      "unknown tokenizer '{}': use byte, gpt2:DIR, bpe:DIR (DIR holding vocab.json and "
      "merges.txt) or synthetic",
      spec);
}

}  // namespace pha::io
