// Token shards: round trips at both token widths, the documented header layout, and the refusal of
// every kind of bad file with a message naming it.
#include "io/token_shard.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

namespace pha::io {
namespace {

using test::expect_error;

std::vector<uint32_t> ramp(size_t n, uint32_t vocab) {
  std::vector<uint32_t> t(n);
  for (size_t i = 0; i < n; ++i) t[i] = static_cast<uint32_t>((i * 7919) % vocab);
  return t;
}

void write_shard(const std::string& path, const std::vector<uint32_t>& tokens, uint32_t vocab,
                 const std::string& identity = "byte") {
  TokenShardWriter w(path, vocab, identity);
  // Appended in uneven pieces: the writer streams.
  for (size_t at = 0; at < tokens.size(); at += 1000)
    w.append(std::span(tokens).subspan(at, std::min<size_t>(1000, tokens.size() - at)));
  w.close();
}

// The checksum as docs/data.md states it, written again here: FNV-1a 64 over the header bytes
// before the data, skipping the 8 checksum bytes at offset 32.
uint64_t documented_checksum(const std::string& file, size_t data_offset) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < data_offset; ++i)
    if (i < 32 || i >= 40) h = (h ^ static_cast<uint8_t>(file[i])) * 0x100000001b3ull;
  return h;
}

TEST(TokenShard, RoundTripsTwoByteTokens) {
  test::TempDir dir;
  const auto tokens = ramp(5000, 50257);
  write_shard(dir / "a.bin", tokens, 50257, "gpt2-bpe:0123456789abcdef");
  const TokenShard shard(dir / "a.bin", 50304);
  EXPECT_EQ(shard.header().token_bytes, 2u);
  EXPECT_EQ(shard.vocab_size(), 50257u);
  EXPECT_EQ(shard.size(), 5000u);
  EXPECT_EQ(shard.tokenizer_identity(), "gpt2-bpe:0123456789abcdef");
  const TokenView view = shard.tokens();
  for (size_t i = 0; i < tokens.size(); ++i) ASSERT_EQ(view[i], tokens[i]) << i;
  std::vector<int32_t> copied(10);
  view.copy_to(4990, 10, copied.data());
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(copied[i], static_cast<int32_t>(tokens[4990 + i]));
}

TEST(TokenShard, RoundTripsFourByteTokensAboveSixtyFiveThousandIds) {
  test::TempDir dir;
  const auto tokens = ramp(3000, 100000);
  write_shard(dir / "a.bin", tokens, 100000);
  const TokenShard shard(dir / "a.bin", TokenShard::kAnyVocab);
  EXPECT_EQ(shard.header().token_bytes, 4u);
  for (size_t i = 0; i < tokens.size(); ++i) ASSERT_EQ(shard.tokens()[i], tokens[i]);
  EXPECT_EQ(std::filesystem::file_size(dir / "a.bin"), 64u + 4u * 3000u);
}

TEST(TokenShard, HeaderLayoutIsTheDocumentedOne) {
  test::TempDir dir;
  const std::string identity(30, 'x');  // 40 + 30 bytes of header round up to 128
  write_shard(dir / "a.bin", {1, 2, 3}, 256, identity);
  const std::string file = test::read_file(dir / "a.bin");
  ASSERT_EQ(file.size(), 128u + 2 * 3);
  EXPECT_EQ(file.substr(0, 8), "PHASHARD");
  uint32_t u32[4];
  uint64_t count, checksum;
  std::memcpy(u32, &file[8], 16);
  std::memcpy(&count, &file[24], 8);
  std::memcpy(&checksum, &file[32], 8);
  EXPECT_EQ(u32[0], 1u);    // version
  EXPECT_EQ(u32[1], 2u);    // token bytes
  EXPECT_EQ(u32[2], 256u);  // vocabulary
  EXPECT_EQ(u32[3], 30u);   // identity bytes
  EXPECT_EQ(count, 3u);
  EXPECT_EQ(file.substr(40, 30), identity);
  EXPECT_EQ(checksum, documented_checksum(file, 128));
  EXPECT_EQ(file[128], 1);
  EXPECT_EQ(file[130], 2);
}

class BadShard : public ::testing::Test {
 protected:
  void SetUp() override { write_shard(path_, ramp(100, 256), 256); }
  std::string bytes() const { return test::read_file(path_); }
  void rewrite(const std::string& b) const { test::write_file(path_, b); }
  void expect_refused(const std::string& fragment, uint32_t vocab = 256) const {
    expect_error([&] { TokenShard shard(path_, vocab); }, fragment);
    expect_error([&] { TokenShard shard(path_, vocab); }, path_);
  }
  test::TempDir dir_;
  std::string path_ = dir_ / "shard.bin";
};

TEST_F(BadShard, RefusesATruncatedFile) {
  std::string b = bytes();
  b.resize(b.size() - 3);
  rewrite(b);
  expect_refused("truncated: it holds 98 of the 100 tokens");
}

TEST_F(BadShard, RefusesAFileCutInsideItsHeader) {
  rewrite(bytes().substr(0, 50));
  expect_refused("truncated inside its header");
}

TEST_F(BadShard, RefusesBytesAfterTheLastToken) {
  rewrite(bytes() + "xy");
  expect_refused("bytes after its last token");
}

TEST_F(BadShard, RefusesAFlippedHeaderByte) {
  for (const size_t at : {16, 24, 41}) {  // vocabulary, count, identity
    std::string b = bytes();
    b[at] ^= 0x04;
    rewrite(b);
    expect_refused("checksum mismatch");
    b[at] ^= 0x04;
    rewrite(b);
  }
}

TEST_F(BadShard, RefusesAWrongMagic) {
  std::string b = bytes();
  b[3] = 'X';
  rewrite(b);
  expect_refused("is not a token shard");
}

TEST_F(BadShard, RefusesAnotherFormatVersion) {
  std::string b = bytes();
  b[8] = 2;
  rewrite(b);
  expect_refused("format version 2");
}

TEST_F(BadShard, RefusesAVocabularyLargerThanTheModels) {
  expect_refused("vocabulary of 256 tokens, larger than the model's 200", 200);
}

TEST_F(BadShard, RefusesAnEmptyFile) {
  rewrite("");
  expect_refused("is an empty file");
}

TEST_F(BadShard, RefusesAHeaderAnnouncingNoTokens) {
  std::string b = bytes().substr(0, 64);
  std::memset(&b[24], 0, 8);
  const uint64_t checksum = documented_checksum(b, 64);
  std::memcpy(&b[32], &checksum, 8);
  rewrite(b);
  expect_refused("holds no tokens");
}

TEST(TokenShard, RefusesAMissingFile) {
  test::TempDir dir;
  expect_error([&] { TokenShard shard(dir / "nope.bin", 256); }, "cannot open token shard");
}

TEST(TokenShardWriter, RefusesAnEmptyShardAndLeavesNoFile) {
  test::TempDir dir;
  {
    TokenShardWriter w(dir / "a.bin", 256, "byte");
    expect_error([&] { w.close(); }, "would be empty");
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "a.bin"));
  EXPECT_FALSE(std::filesystem::exists(dir / "a.bin.partial"));
}

TEST(TokenShardWriter, RefusesAnIdOutsideTheVocabulary) {
  test::TempDir dir;
  TokenShardWriter w(dir / "a.bin", 256, "byte");
  const std::vector<uint32_t> bad = {1, 256};
  expect_error([&] { w.append(bad); }, "token id 256 is outside the vocabulary of 256");
}

TEST(TokenShardWriter, AnUnclosedWriterLeavesNoShard) {
  test::TempDir dir;
  {
    TokenShardWriter w(dir / "a.bin", 256, "byte");
    const std::vector<uint32_t> some = {1, 2, 3};
    w.append(some);
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.str()));
}

TEST(TokenView, CopyRefusesIdsOutsideTheVocabulary) {
  const std::vector<uint32_t> tokens = {1, 2, 300};
  std::vector<int32_t> out(3);
  expect_error([&] { TokenView::of(tokens, 256).copy_to(0, 3, out.data()); },
               "token id 300 at position 2 is outside the vocabulary of 256");
}

}  // namespace
}  // namespace pha::io
