#include "io/token_shard.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "core/error.h"

namespace pha::io {

static_assert(std::endian::native == std::endian::little, "shards are little-endian on disk");

namespace {

// Byte offsets of the fixed header fields.
constexpr size_t kVersionAt = 8, kTokenBytesAt = 12, kVocabAt = 16, kIdentityBytesAt = 20,
                 kCountAt = 24, kChecksumAt = 32, kIdentityAt = 40;
constexpr size_t kWriteBufferBytes = size_t{1} << 20;

template <typename T>
void put(unsigned char* at, T value) {
  std::memcpy(at, &value, sizeof(T));
}
template <typename T>
T get(const unsigned char* at) {
  T value;
  std::memcpy(&value, at, sizeof(T));
  return value;
}

// FNV-1a over the header, except the checksum field itself: fixed fields, identity and padding.
uint64_t header_checksum(const unsigned char* header, uint64_t data_offset) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint64_t i = 0; i < data_offset; ++i) {
    if (i == kChecksumAt) i += sizeof(uint64_t);
    h = (h ^ header[i]) * 0x100000001b3ull;
  }
  return h;
}

std::vector<unsigned char> encode_header(const ShardHeader& h) {
  std::vector<unsigned char> bytes(h.data_offset(), 0);
  std::memcpy(bytes.data(), ShardHeader::kMagic, sizeof(ShardHeader::kMagic));
  put<uint32_t>(&bytes[kVersionAt], ShardHeader::kVersion);
  put<uint32_t>(&bytes[kTokenBytesAt], h.token_bytes);
  put<uint32_t>(&bytes[kVocabAt], h.vocab_size);
  put<uint32_t>(&bytes[kIdentityBytesAt], static_cast<uint32_t>(h.tokenizer_identity.size()));
  put<uint64_t>(&bytes[kCountAt], h.token_count);
  std::memcpy(&bytes[kIdentityAt], h.tokenizer_identity.data(), h.tokenizer_identity.size());
  put<uint64_t>(&bytes[kChecksumAt], header_checksum(bytes.data(), bytes.size()));
  return bytes;
}

}  // namespace

uint64_t ShardHeader::data_offset() const {
  return (kIdentityAt + tokenizer_identity.size() + 63) / 64 * 64;
}

void TokenView::copy_to(uint64_t begin, uint64_t count, int32_t* out) const {
  PHA_REQUIRE(begin + count <= size, "tokens [{}, {}) requested from a view of {} tokens", begin,
              begin + count, size);
  for (uint64_t i = 0; i < count; ++i) {
    const uint32_t id = (*this)[begin + i];
    PHA_REQUIRE(id < vocab_size,
                "token id {} at position {} is outside the vocabulary of {} (the "
                "shard is corrupt: re-create it with pha data prepare)",
                id, begin + i, vocab_size);
    out[i] = static_cast<int32_t>(id);
  }
}

// ---- writer ----

TokenShardWriter::TokenShardWriter(const std::string& path, uint32_t vocab_size,
                                   const std::string& identity)
    : path_(path), temp_path_(path + ".partial") {
  PHA_REQUIRE(vocab_size > 0, "shard '{}': the vocabulary size must be positive", path);
  PHA_REQUIRE(vocab_size <= uint32_t{1} << 31,
              "shard '{}': a vocabulary of {} ids does not fit "
              "the model's int32 token ids",
              path, vocab_size);
  PHA_REQUIRE(identity.size() <= ShardHeader::kMaxIdentityBytes,
              "shard '{}': the tokenizer identity is {} bytes, more than the {} a header holds",
              path, identity.size(), ShardHeader::kMaxIdentityBytes);
  header_.token_bytes = vocab_size <= 65536 ? 2 : 4;
  header_.vocab_size = vocab_size;
  header_.tokenizer_identity = identity;
  file_ = std::fopen(temp_path_.c_str(), "wb");
  PHA_REQUIRE(file_, "cannot create shard '{}': {}", temp_path_, std::strerror(errno));
  const auto header = encode_header(header_);  // count and checksum are fixed up at close()
  PHA_REQUIRE(std::fwrite(header.data(), 1, header.size(), file_) == header.size(),
              "cannot write shard '{}': {}", temp_path_, std::strerror(errno));
  buffer_.reserve(kWriteBufferBytes);
}

TokenShardWriter::~TokenShardWriter() {
  if (!file_) return;
  std::fclose(file_);
  std::remove(temp_path_.c_str());
}

void TokenShardWriter::append(std::span<const uint32_t> tokens) {
  PHA_REQUIRE(file_, "shard '{}' is already closed", path_);
  for (const uint32_t id : tokens) {
    PHA_REQUIRE(id < header_.vocab_size, "shard '{}': token id {} is outside the vocabulary of {}",
                path_, id, header_.vocab_size);
    if (buffer_.size() + 4 > kWriteBufferBytes) flush_buffer();
    const size_t at = buffer_.size();
    buffer_.resize(at + header_.token_bytes);
    if (header_.token_bytes == 2)
      put<uint16_t>(&buffer_[at], static_cast<uint16_t>(id));
    else
      put<uint32_t>(&buffer_[at], id);
  }
  header_.token_count += tokens.size();
}

void TokenShardWriter::flush_buffer() {
  PHA_REQUIRE(std::fwrite(buffer_.data(), 1, buffer_.size(), file_) == buffer_.size(),
              "cannot write shard '{}': {} (is the disk full?)", temp_path_, std::strerror(errno));
  buffer_.clear();
}

void TokenShardWriter::close() {
  PHA_REQUIRE(file_, "shard '{}' is already closed", path_);
  PHA_REQUIRE(header_.token_count > 0, "shard '{}' would be empty: no tokens were written", path_);
  flush_buffer();
  const auto header = encode_header(header_);
  const bool ok = std::fseek(file_, 0, SEEK_SET) == 0 &&
                  std::fwrite(header.data(), 1, header.size(), file_) == header.size() &&
                  std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
  const int saved_errno = errno;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!ok || !closed) std::remove(temp_path_.c_str());
  PHA_REQUIRE(ok && closed, "cannot finish shard '{}': {} (is the disk full?)", temp_path_,
              std::strerror(saved_errno));
  std::error_code ec;
  std::filesystem::rename(temp_path_, path_, ec);
  PHA_REQUIRE(!ec, "cannot rename '{}' to '{}': {}", temp_path_, path_, ec.message());
}

// ---- reader ----

TokenShard::TokenShard(const std::string& path, uint32_t model_vocab) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  PHA_REQUIRE(fd >= 0, "cannot open token shard '{}': {}", path, std::strerror(errno));
  struct stat st {};
  const bool stat_ok = ::fstat(fd, &st) == 0;
  const int stat_errno = errno;
  map_bytes_ = stat_ok ? static_cast<size_t>(st.st_size) : 0;
  if (stat_ok && map_bytes_ > 0) map_ = ::mmap(nullptr, map_bytes_, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  if (map_ == MAP_FAILED) map_ = nullptr;
  PHA_REQUIRE(stat_ok, "cannot read token shard '{}': {}", path, std::strerror(stat_errno));
  PHA_REQUIRE(S_ISREG(st.st_mode), "token shard '{}' is not a regular file", path);
  PHA_REQUIRE(map_bytes_ > 0, "token shard '{}' is an empty file", path);
  PHA_REQUIRE(map_, "cannot map token shard '{}': {}", path, std::strerror(map_errno));
  try {
    read_header(model_vocab);
  } catch (...) {
    ::munmap(map_, map_bytes_);
    throw;
  }
}

void TokenShard::read_header(uint32_t model_vocab) {
  const std::string& path = path_;
  const auto* bytes = static_cast<const unsigned char*>(map_);
  PHA_REQUIRE(map_bytes_ >= kIdentityAt && std::memcmp(bytes, ShardHeader::kMagic, 8) == 0,
              "'{}' is not a token shard (no PHASHARD header); make one with pha data prepare",
              path);
  const uint32_t version = get<uint32_t>(bytes + kVersionAt);
  PHA_REQUIRE(version == ShardHeader::kVersion,
              "token shard '{}' has format version {}; this "
              "program reads version {}",
              path, version, ShardHeader::kVersion);
  header_.token_bytes = get<uint32_t>(bytes + kTokenBytesAt);
  header_.vocab_size = get<uint32_t>(bytes + kVocabAt);
  header_.token_count = get<uint64_t>(bytes + kCountAt);
  const uint32_t identity_bytes = get<uint32_t>(bytes + kIdentityBytesAt);
  PHA_REQUIRE(identity_bytes <= ShardHeader::kMaxIdentityBytes &&
                  kIdentityAt + identity_bytes <= map_bytes_,
              "token shard '{}' has a corrupt header (tokenizer identity of {} bytes)", path,
              identity_bytes);
  header_.tokenizer_identity.assign(reinterpret_cast<const char*>(bytes + kIdentityAt),
                                    identity_bytes);
  const uint64_t data_offset = header_.data_offset();
  PHA_REQUIRE(data_offset <= map_bytes_, "token shard '{}' is truncated inside its header", path);
  PHA_REQUIRE(header_checksum(bytes, data_offset) == get<uint64_t>(bytes + kChecksumAt),
              "token shard '{}' has a corrupt header (checksum mismatch); re-create it with pha "
              "data prepare",
              path);
  PHA_REQUIRE(header_.token_bytes == 2 || header_.token_bytes == 4,
              "token shard '{}' has tokens of {} bytes; only 2 and 4 exist", path,
              header_.token_bytes);
  PHA_REQUIRE(header_.token_count > 0, "token shard '{}' holds no tokens", path);
  const uint64_t tokens_present = (map_bytes_ - data_offset) / header_.token_bytes;
  PHA_REQUIRE(tokens_present >= header_.token_count,
              "token shard '{}' is truncated: it holds {} of "
              "the {} tokens its header announces; re-create it with pha data prepare",
              path, tokens_present, header_.token_count);
  PHA_REQUIRE(map_bytes_ == data_offset + header_.token_count * header_.token_bytes,
              "token shard '{}' has bytes after its last token; it is not a file pha wrote", path);
  PHA_REQUIRE(header_.vocab_size <= model_vocab,
              "token shard '{}' was made with a vocabulary of {} "
              "tokens, larger than the model's {}: use a model with vocab >= {} or re-tokenize the "
              "data",
              path, header_.vocab_size, model_vocab, header_.vocab_size);
}

TokenShard::~TokenShard() {
  if (map_) ::munmap(map_, map_bytes_);
}

TokenShard::TokenShard(TokenShard&& other) noexcept
    : path_(std::move(other.path_)),
      header_(std::move(other.header_)),
      map_(std::exchange(other.map_, nullptr)),
      map_bytes_(std::exchange(other.map_bytes_, 0)) {}

TokenShard& TokenShard::operator=(TokenShard&& other) noexcept {
  if (this != &other) {
    if (map_) ::munmap(map_, map_bytes_);
    path_ = std::move(other.path_);
    header_ = std::move(other.header_);
    map_ = std::exchange(other.map_, nullptr);
    map_bytes_ = std::exchange(other.map_bytes_, 0);
  }
  return *this;
}

TokenView TokenShard::tokens() const {
  return {static_cast<const unsigned char*>(map_) + header_.data_offset(), header_.token_bytes,
          header_.token_count, header_.vocab_size};
}

}  // namespace pha::io
