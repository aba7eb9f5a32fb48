// The BPE trainer: a worked example, and a tokenizer trained on generated text that loads through
// the GPT-2 reader, round-trips text and compresses it.
#include "io/bpe_trainer.h"

#include <gtest/gtest.h>

#include <chrono>

#include "io/bpe_tokenizer.h"
#include "io/synthetic_corpus.h"
#include "io/synthetic_language.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

namespace pha::io {
namespace {

using Merges = std::vector<std::pair<std::string, std::string>>;

TEST(BpeTrainer, WorkedExample) {
  // Words: "ab" once, " ab" twice, " cd" once. Pair counts: (a,b) 3, (Ġ,a) 2, (Ġ,c) 1, (c,d) 1,
  // so "a b" merges first; then (Ġ,ab) occurs twice and merges; every other pair occurs once.
  BpeTrainer trainer;
  trainer.add_text("ab ab ab cd");
  EXPECT_EQ(trainer.word_count(), 4u);
  EXPECT_EQ(trainer.distinct_words(), 3u);
  const BpeVocabulary v = trainer.train(1000);
  EXPECT_EQ(v.merges, (Merges{{"a", "b"}, {" ", "ab"}}));
  ASSERT_EQ(v.token_bytes.size(), 256u + 2u + 1u);
  EXPECT_EQ(v.token_bytes[0], "!");  // GPT-2's byte order
  EXPECT_EQ(v.token_bytes[256], "ab");
  EXPECT_EQ(v.token_bytes[257], " ab");
  EXPECT_EQ(v.token_bytes[258], "<|endoftext|>");
  EXPECT_EQ(bpe_merges_txt(v), "#version: 0.2\na b\nĠ ab\n");
  const auto t = BpeTokenizer::from_text(bpe_vocab_json(v), bpe_merges_txt(v), "trained");
  EXPECT_EQ(t->encode("ab ab cd"), (std::vector<uint32_t>{256, 257, 220, 'c' - '!', 'd' - '!'}));
  EXPECT_EQ(t->end_of_text(), 258u);
}

TEST(BpeTrainer, StopsAtTheAskedSize) {
  BpeTrainer trainer;
  trainer.add_text("aaaa bbbb aaaa bbbb cccc cccc");
  EXPECT_EQ(trainer.train(258).merges.size(), 1u);
  test::expect_error([&] { trainer.train(256); }, "give --vocab-size of at least 257");
}

// Generated text: the synthetic language as words, with some accented and emoji words mixed in.
std::string generated_text(uint64_t seed, size_t bytes) {
  const SyntheticCorpus corpus(seed, "train", {.mqar_fraction = 0});
  const SyntheticTokenizer words;
  std::string text;
  for (uint64_t d = 0; text.size() < bytes; ++d) {
    text += words.decode(corpus.document(d)) + "\n";
    if (d % 7 == 0) text += "Ça coûte 3€ — naïve café 😀!\n";
  }
  return text;
}

TEST(BpeTrainer, TrainedTokenizerRoundTripsAndCompresses) {
  const std::string train_text = generated_text(1, 400000);
  BpeTrainer trainer;
  const auto start = std::chrono::steady_clock::now();
  for (size_t at = 0; at < train_text.size(); at += 65536)
    trainer.add_text(train_text.substr(at, 65536));
  const BpeVocabulary v = trainer.train(800);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(v.token_bytes.size(), 800u);
  test::TempDir dir;
  write_bpe_files(v, dir.str());
  const auto t = BpeTokenizer::load(dir.str());
  EXPECT_EQ(t->vocab_size(), 800u);

  const std::string held_out = generated_text(2, 100000);
  const auto ids = t->encode(held_out);
  EXPECT_EQ(t->decode(ids), held_out);
  const double bytes_per_token = static_cast<double>(held_out.size()) / ids.size();
  std::printf("  trained 800 tokens on %zu bytes in %.2f s; held-out text: %.2f bytes/token\n",
              train_text.size(), seconds, bytes_per_token);
  EXPECT_GT(bytes_per_token, 3.0);
  const std::string unseen = "Zebras jump over 42 lazy dogs — ñandú, 東京, 🎉\t\n";
  EXPECT_EQ(t->decode(t->encode(unseen)), unseen);
}

}  // namespace
}  // namespace pha::io
