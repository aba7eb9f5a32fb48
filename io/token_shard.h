#pragma once
// Token shards: a binary file of tokens behind a small self-checking header (docs/data.md):
//   "PHASHARD", format version, token width (2 or 4 bytes), vocabulary size, token count,
//   tokenizer identity, header checksum, then the tokens (little-endian uint16 or uint32).
// The writer streams tokens to a temporary file and renames it into place at close, so a shard
// that exists is complete. The reader memory-maps the file and validates it before any use.
#include <cstdint>
#include <cstdio>
#include <limits>
#include <span>
#include <string>
#include <vector>

namespace pha::io {

// A read-only view of tokens of width 2 or 4 bytes: a mapped shard or a vector in memory. Every id
// is below vocab_size; copy_to checks it, so a corrupt file never reaches the embedding lookup.
struct TokenView {
  const void* data = nullptr;
  uint32_t token_bytes = 4;
  uint64_t size = 0;
  uint32_t vocab_size = 0;

  static TokenView of(std::span<const uint32_t> tokens, uint32_t vocab_size) {
    return {tokens.data(), 4, tokens.size(), vocab_size};
  }
  uint32_t operator[](uint64_t i) const {
    return token_bytes == 2 ? static_cast<const uint16_t*>(data)[i]
                            : static_cast<const uint32_t*>(data)[i];
  }
  // Tokens [begin, begin + count) into `out` as the int32 ids the model takes.
  void copy_to(uint64_t begin, uint64_t count, int32_t* out) const;
};

struct ShardHeader {
  static constexpr char kMagic[8] = {'P', 'H', 'A', 'S', 'H', 'A', 'R', 'D'};
  static constexpr uint32_t kVersion = 1;
  static constexpr uint32_t kMaxIdentityBytes = 4096;
  uint32_t token_bytes = 0;
  uint32_t vocab_size = 0;
  uint64_t token_count = 0;
  std::string tokenizer_identity;
  // Where the tokens start: the fixed fields and the identity, rounded up to 64 bytes.
  uint64_t data_offset() const;
};

// Streams tokens into a new shard at `path`. The token width is 2 bytes when every id fits
// (vocab_size <= 65536), else 4. close() writes the count and checksum and renames the file into
// place; a writer destroyed without close() removes its temporary file and leaves no shard.
class TokenShardWriter {
 public:
  TokenShardWriter(const std::string& path, uint32_t vocab_size, const std::string& identity);
  ~TokenShardWriter();
  TokenShardWriter(const TokenShardWriter&) = delete;
  TokenShardWriter& operator=(const TokenShardWriter&) = delete;

  // Refuses ids >= vocab_size, naming the id.
  void append(std::span<const uint32_t> tokens);
  // Refuses an empty shard (no token was appended).
  void close();
  uint64_t token_count() const { return header_.token_count; }
  const std::string& path() const { return path_; }

 private:
  void flush_buffer();
  std::string path_, temp_path_;
  ShardHeader header_;
  std::FILE* file_ = nullptr;
  std::vector<unsigned char> buffer_;
};

// A validated, memory-mapped shard. Refuses (naming the file): a missing or short file, a wrong
// magic or unknown version, a header whose checksum does not match, a size that disagrees with the
// token count (truncated or padded), an empty shard, and a vocabulary larger than the model's.
class TokenShard {
 public:
  static constexpr uint32_t kAnyVocab = std::numeric_limits<uint32_t>::max();
  // `model_vocab`: the model's vocabulary size; the shard's must not be larger (kAnyVocab: no
  // check).
  TokenShard(const std::string& path, uint32_t model_vocab);
  ~TokenShard();
  TokenShard(TokenShard&& other) noexcept;
  TokenShard& operator=(TokenShard&& other) noexcept;
  TokenShard(const TokenShard&) = delete;
  TokenShard& operator=(const TokenShard&) = delete;

  const ShardHeader& header() const { return header_; }
  const std::string& path() const { return path_; }
  uint64_t size() const { return header_.token_count; }
  uint32_t vocab_size() const { return header_.vocab_size; }
  const std::string& tokenizer_identity() const { return header_.tokenizer_identity; }
  TokenView tokens() const;

 private:
  void read_header(uint32_t model_vocab);
  std::string path_;
  ShardHeader header_;
  void* map_ = nullptr;
  size_t map_bytes_ = 0;
};

}  // namespace pha::io
