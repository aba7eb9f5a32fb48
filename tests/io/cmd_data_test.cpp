// `pha data`: end-to-end runs of each subcommand into a scratch directory, and the refusal of bad
// input with a message naming the file or option.
#include "launch/cmd_data.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "io/bpe_tokenizer.h"
#include "io/synthetic_corpus.h"
#include "io/token_shard.h"
#include "io/tokenizer.h"
#include "io/train_val_split.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

namespace pha::launch {
namespace {

using test::expect_error;
using Args = std::vector<std::string>;

std::vector<uint32_t> all_tokens(const std::string& path) {
  const io::TokenShard shard(path, io::TokenShard::kAnyVocab);
  std::vector<uint32_t> out(shard.size());
  for (uint64_t i = 0; i < out.size(); ++i) out[i] = shard.tokens()[i];
  return out;
}

// Expects `fn` to throw any exception whose message contains `fragment` (option parsing errors
// come from Boost.Program_options).
template <typename Fn>
void expect_any_error(Fn&& fn, const std::string& fragment) {
  try {
    fn();
    ADD_FAILURE() << "expected an error containing '" << fragment << "'";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

std::string sample_text() {
  std::string text;
  for (int i = 0; i < 400; ++i)
    text += "Line " + std::to_string(i) + ": the quick brown fox — café 😀 jumps.\n";
  return text;
}

TEST(DataSynthetic, WritesDeterministicTrainAndValShards) {
  test::TempDir dir;
  ASSERT_EQ(run_data({"synthetic", "--out", dir / "a", "--tokens", "20000", "--seed", "3"}), 0);
  ASSERT_EQ(run_data({"synthetic", "--out", dir / "b", "--tokens", "20000", "--seed", "3"}), 0);
  const io::TokenShard train(dir / "a/train.bin", 1024), val(dir / "a/val.bin", 1024);
  EXPECT_EQ(train.size(), 19800u);
  EXPECT_EQ(val.size(), 200u);
  EXPECT_EQ(train.tokenizer_identity(), "synthetic-v1");
  EXPECT_EQ(train.vocab_size(), io::SyntheticCorpus::vocab_size());
  EXPECT_EQ(all_tokens(dir / "a/train.bin"), io::SyntheticCorpus(3, "train").generate(19800));
  EXPECT_EQ(test::read_file(dir / "a/train.bin"), test::read_file(dir / "b/train.bin"));
  EXPECT_EQ(test::read_file(dir / "a/val.bin"), test::read_file(dir / "b/val.bin"));
}

TEST(DataPrepare, ByteShardsHoldTheTextSplitIntoTrainThenVal) {
  test::TempDir dir;
  const std::string text = sample_text();
  test::write_file(dir / "in.txt", text);
  ASSERT_EQ(run_data({"prepare", "--input", dir / "in.txt", "--out", dir / "out", "--tokenizer",
                      "byte", "--val-fraction", "0.1"}),
            0);
  auto tokens = all_tokens(dir / "out/train.bin");
  const auto val = all_tokens(dir / "out/val.bin");
  EXPECT_EQ(val.size(), static_cast<size_t>(std::llround(0.1 * text.size())));
  tokens.insert(tokens.end(), val.begin(), val.end());
  EXPECT_EQ(io::ByteTokenizer().decode(tokens), text);
}

TEST(DataPrepare, FileOutputAndNoValidation) {
  test::TempDir dir;
  test::write_file(dir / "in.txt", "abc");
  ASSERT_EQ(run_data({"prepare", "--input", dir / "in.txt", "--out", dir / "sub/x.bin",
                      "--tokenizer", "byte", "--val-fraction", "0"}),
            0);
  EXPECT_EQ(all_tokens(dir / "sub/x.bin"), (std::vector<uint32_t>{'a', 'b', 'c'}));
  EXPECT_FALSE(std::filesystem::exists(dir / "sub/x.val.bin"));
}

TEST(DataTrainTokenizer, TrainedTokenizerPreparesShardsThatDecodeToTheInput) {
  test::TempDir dir;
  const std::string a = sample_text(), b = "Second document, ñandú.\n";
  test::write_file(dir / "a.txt", a);
  test::write_file(dir / "b.txt", b);
  ASSERT_EQ(run_data({"train-tokenizer", "--input", dir / "a.txt", dir / "b.txt", "--vocab-size",
                      "300", "--out", dir / "tok"}),
            0);
  const auto tokenizer = io::BpeTokenizer::load(dir / "tok");
  EXPECT_EQ(tokenizer->vocab_size(), 300u);
  ASSERT_EQ(run_data({"prepare", "--input", dir / "a.txt", dir / "b.txt", "--out", dir / "out",
                      "--tokenizer", "bpe:" + (dir / "tok"), "--val-fraction", "0.05"}),
            0);
  auto tokens = all_tokens(dir / "out/train.bin");
  const auto val = all_tokens(dir / "out/val.bin");
  tokens.insert(tokens.end(), val.begin(), val.end());
  EXPECT_LT(tokens.size(), (a.size() + b.size()) / 2);  // it compresses
  // Each document ends with <|endoftext|>.
  const uint32_t eot = *tokenizer->end_of_text();
  EXPECT_EQ(tokens.back(), eot);
  EXPECT_EQ(std::count(tokens.begin(), tokens.end(), eot), 2);
  const auto first_end = std::find(tokens.begin(), tokens.end(), eot);
  EXPECT_EQ(tokenizer->decode(std::vector<uint32_t>(tokens.begin(), first_end)), a);
  EXPECT_EQ(io::TokenShard(dir / "out/train.bin", 300).tokenizer_identity(), tokenizer->identity());
}

TEST(DataCommand, RefusesBadInputNamingTheFileOrOption) {
  test::TempDir dir;
  test::write_file(dir / "empty.txt", "");
  test::write_file(dir / "ok.txt", "some text");
  const Args prepare = {"prepare", "--out", dir / "out", "--tokenizer", "byte", "--input"};
  const auto with = [](Args args, const std::string& more) {
    args.push_back(more);
    return args;
  };
  expect_error([&] { run_data(with(prepare, dir / "missing.txt")); },
               "input file '" + (dir / "missing.txt") + "' does not exist");
  expect_error([&] { run_data(with(prepare, dir / "empty.txt")); },
               "input file '" + (dir / "empty.txt") + "' is empty");
  expect_error([&] { run_data(with(prepare, dir.str())); }, "is a directory");
  expect_error(
      [&] {
        run_data(
            {"prepare", "--input", dir / "ok.txt", "--out", dir / "o", "--tokenizer", "wordpiece"});
      },
      "unknown tokenizer 'wordpiece'");
  expect_error(
      [&] {
        run_data({"prepare", "--input", dir / "ok.txt", "--out", dir / "o", "--tokenizer", "byte",
                  "--val-fraction", "0.9"});
      },
      "--val-fraction 0.9 is not in [0, 0.5]");
  test::write_file(dir / "text.bin", "text in a file named .bin");
  expect_error(
      [&] {
        run_data({"prepare", "--input", dir / "text.bin", "--out", dir / "text.bin", "--tokenizer",
                  "byte"});
      },
      "--out would overwrite the input file '" + (dir / "text.bin") + "'");
  expect_any_error(
      [&] {
        run_data({"prepare", "--input", dir / "ok.txt", "--tokenizer", "byte"});
      },
      "--out");
  expect_any_error(
      [&] {
        run_data({"synthetic", "--out", dir / "s", "--tokens", "many", "--seed", "1"});
      },
      "--tokens");
  expect_error(
      [&] {
        run_data({"synthetic", "--out", dir / "s", "--tokens", "-5", "--seed", "1"});
      },
      "--tokens must be positive, not -5");
  expect_error(
      [&] {
        run_data({"train-tokenizer", "--input", dir / "ok.txt", "--vocab-size", "100", "--out",
                  dir / "t"});
      },
      "--vocab-size 100 is out of range");
  expect_error([&] { run_data({"shuffle"}); }, "unknown data subcommand 'shuffle'");
}

TEST(DataCommand, TooLittleTextForValidationIsRefused) {
  test::TempDir dir;
  test::write_file(dir / "one.txt", "x");
  expect_error(
      [&] {
        run_data(
            {"prepare", "--input", dir / "one.txt", "--out", dir / "o", "--tokenizer", "byte"});
      },
      "the input gives only 1 tokens, too few to set 0.01 aside");
}

TEST(DataCommand, HelpPrintsEachSubcommandsOptions) {
  testing::internal::CaptureStdout();
  EXPECT_EQ(run_data({"prepare", "--help"}), 0);
  EXPECT_NE(testing::internal::GetCapturedStdout().find("--val-fraction"), std::string::npos);
  testing::internal::CaptureStdout();
  EXPECT_EQ(run_data({"--help"}), 0);
  EXPECT_NE(testing::internal::GetCapturedStdout().find("train-tokenizer"), std::string::npos);
}

TEST(TrainValSplitter, SplitsEachPeriodAndTheTail) {
  test::TempDir dir;
  const uint64_t period = io::TrainValSplitter::kPeriod, n = 2 * period + period / 2;
  {
    io::TokenShardWriter train(dir / "t.bin", 1 << 20, "test"), val(dir / "v.bin", 1 << 20, "test");
    io::TrainValSplitter splitter(train, &val, 0.1);
    std::vector<uint32_t> chunk(1000);
    for (uint64_t at = 0; at < n; at += chunk.size()) {
      const uint64_t take = std::min<uint64_t>(chunk.size(), n - at);
      for (uint64_t i = 0; i < take; ++i) chunk[i] = static_cast<uint32_t>((at + i) % (1 << 20));
      splitter.add(std::span(chunk).first(take));
    }
    splitter.finish();
    train.close();
    val.close();
  }
  const uint64_t per_period = std::llround(0.1 * period), tail = std::llround(0.1 * (period / 2));
  const auto val = all_tokens(dir / "v.bin");
  ASSERT_EQ(val.size(), 2 * per_period + tail);
  EXPECT_EQ(val[0], (period - per_period) % (1 << 20));  // the end of the first period
  EXPECT_EQ(all_tokens(dir / "t.bin").size(), n - val.size());
}

}  // namespace
}  // namespace pha::launch
