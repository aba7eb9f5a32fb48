#pragma once
// A tokenizer turns text into token ids and back. Three kinds, named by a spec string:
//   "byte"        the 256 byte values (built in)
//   "gpt2:DIR"    GPT-2 byte-level BPE from DIR/vocab.json and DIR/merges.txt
//   "bpe:DIR"     the same format, as written by `pha data train-tokenizer --out DIR`
//   "synthetic"   the word-level vocabulary of the built-in synthetic corpus
// identity() is written into every shard so that a shard is never read with another vocabulary.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pha::io {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Plain text in, ids out; special tokens such as <|endoftext|> are never produced by encode.
  virtual std::vector<uint32_t> encode(std::string_view text) const = 0;
  // Ids out of range are refused. Byte-level tokenizers return the exact bytes (decode(encode(s))
  // == s for every byte string s), which need not be valid UTF-8 for an arbitrary id sequence.
  virtual std::string decode(std::span<const uint32_t> ids) const = 0;
  virtual uint32_t vocab_size() const = 0;
  virtual std::string identity() const = 0;
  // The id that separates documents, when the vocabulary has one.
  virtual std::optional<uint32_t> end_of_text() const = 0;
};

// The 256 byte values: id = byte. identity "byte".
class ByteTokenizer final : public Tokenizer {
 public:
  std::vector<uint32_t> encode(std::string_view text) const override;
  std::string decode(std::span<const uint32_t> ids) const override;
  uint32_t vocab_size() const override { return 256; }
  std::string identity() const override { return "byte"; }
  std::optional<uint32_t> end_of_text() const override { return std::nullopt; }
};

// The tokenizer named by `spec` (see above); an unknown spec is refused with the list of kinds.
std::unique_ptr<Tokenizer> make_tokenizer(const std::string& spec);

}  // namespace pha::io
