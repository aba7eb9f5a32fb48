// `pha eval --task`'s scorer against a direct computation with Model::forward on random models:
// the mean loss of a forward over context+choice, minus that over the context alone (causality:
// the context's positions are the same in both), is the choice's negative log-likelihood. Also
// the task file's and the tokenization's refusals.
#include "launch/task_scorer.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/cpu/cpu_backend.h"
#include "core/error.h"
#include "tests/io/io_test_util.h"
#include "tests/model_test_util.h"

namespace pha::launch {
namespace {

ModelConfig scorer_model(int64_t max_seq_len) {
  ModelConfig c = test::sized_model({24, 4, 2, 40, 36, 6, 5, 2, 300});  // V_pad 320
  c.max_seq_len = max_seq_len;
  c.conv_algo = ConvAlgo::direct;  // bit-exact causality between the two forwards
  c.mixer = MixerKind::channel;
  return c;
}

// -log p(tokens[first..] | tokens[..first]) from two whole-model forwards' mean losses.
double direct_logprob(const ModelConfig& cfg, DType real, const ScoredSequence& s) {
  CpuBackend backend;
  const int64_t n = static_cast<int64_t>(s.tokens.size()), first = static_cast<int64_t>(s.first);
  Model full(backend, cfg, 1, n, real);
  full.init_parameters(77);
  double nll = full.forward(s.tokens.data()) * static_cast<double>(n - 1);
  if (first >= 2) {
    Model prefix(backend, cfg, 1, first, real);
    prefix.init_parameters(77);
    nll -= prefix.forward(s.tokens.data()) * static_cast<double>(first - 1);
  }
  return -nll;
}

std::vector<io::TaskItem> items() {
  std::vector<io::TaskItem> out(4);
  out[0] = {"The cat", {" sat on the mat.", " ran", " is blue, indeed"}, 0, 1};
  out[1] = {"x", {"y", "zz"}, 1, 2};  // a one-token context: only the full forward counts
  out[2] = {"A much longer context that will not fit into the window of twenty-four tokens:",
            {" yes", " no", " maybe", " perhaps!"},
            3,
            3};
  out[3] = {"\xC3\xA9t\xC3\xA9 ", {"chaud", "froid"}, 0, 4};
  return out;
}

void check_against_forward(DType real, double tolerance) {
  const ModelConfig cfg = scorer_model(24);
  io::ByteTokenizer bytes;
  const auto task = items();
  std::vector<std::vector<ScoredSequence>> sequences;
  for (const auto& item : task)
    sequences.push_back(tokenize_item(item, bytes, cfg.max_seq_len, cfg.vocab, "test"));
  const auto [batch, seq_len] = task_shape(sequences);
  EXPECT_EQ(batch, 4);
  EXPECT_EQ(seq_len, 24);
  CpuBackend backend;
  Model model(backend, cfg, batch, seq_len, real);
  model.init_parameters(77);
  const TaskResult r = score_task(model, task, sequences);
  ASSERT_EQ(r.items.size(), task.size());
  int64_t correct_sum = 0, correct_per_token = 0;
  double worst = 0;
  for (size_t i = 0; i < task.size(); ++i) {
    std::vector<double> direct, per_token;
    for (size_t c = 0; c < sequences[i].size(); ++c) {
      const ScoredSequence& s = sequences[i][c];
      direct.push_back(direct_logprob(cfg, real, s));
      per_token.push_back(direct.back() / static_cast<double>(s.tokens.size() - s.first));
      EXPECT_EQ(r.items[i].tokens[c], static_cast<int64_t>(s.tokens.size() - s.first));
      const double err = std::fabs(r.items[i].logprob[c] - direct.back());
      worst = std::max(worst, err / std::max(1.0, std::fabs(direct.back())));
      EXPECT_LE(err, tolerance * std::max(1.0, std::fabs(direct.back())))
          << "item " << i << " choice " << c << ": scorer " << r.items[i].logprob[c] << " direct "
          << direct.back();
      EXPECT_LT(direct.back(), 0.0);
    }
    const auto pick = [](const std::vector<double>& v) {
      return static_cast<int64_t>(std::max_element(v.begin(), v.end()) - v.begin());
    };
    EXPECT_EQ(r.items[i].pick_sum, pick(direct)) << i;
    EXPECT_EQ(r.items[i].pick_per_token, pick(per_token)) << i;
    correct_sum += pick(direct) == task[i].answer;
    correct_per_token += pick(per_token) == task[i].answer;
  }
  EXPECT_EQ(r.correct_sum, correct_sum);
  EXPECT_EQ(r.correct_per_token, correct_per_token);
  EXPECT_EQ(r.truncated, 1);  // item 2 only
  std::printf("%s: scorer vs two forwards, worst relative error %.3g (tolerance %.0e)\n",
              real == DType::f64 ? "f64" : "f32", worst, tolerance);
}

TEST(TaskScorer, MatchesTheLossOfModelForwardInDouble) {
  check_against_forward(DType::f64, 1e-9);
}

TEST(TaskScorer, MatchesTheLossOfModelForwardInFloat) {
  check_against_forward(DType::f32, 1e-6);
}

TEST(TaskScorer, TruncatesContextsFromTheLeft) {
  io::ByteTokenizer bytes;
  const io::TaskItem item{"0123456789abcdef", {"XY", "Z"}, 0, 9};
  const auto seqs = tokenize_item(item, bytes, 8, 300, "t");
  ASSERT_EQ(seqs.size(), 2u);
  EXPECT_EQ(std::string(seqs[0].tokens.begin(), seqs[0].tokens.end()), "abcdefXY");
  EXPECT_EQ(seqs[0].first, 6u);
  EXPECT_TRUE(seqs[0].truncated);
  EXPECT_EQ(std::string(seqs[1].tokens.begin(), seqs[1].tokens.end()), "9abcdefZ");
  EXPECT_EQ(seqs[1].first, 7u);
  const auto fits = tokenize_item({"ab", {"c"}, 0, 1}, bytes, 8, 300, "t");
  EXPECT_FALSE(fits[0].truncated);
  EXPECT_EQ(fits[0].first, 2u);
}

void expect_error(const std::function<void()>& f, const std::string& fragment) {
  try {
    f();
    ADD_FAILURE() << "no error; expected: " << fragment;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(TaskScorer, RefusesBadItems) {
  io::ByteTokenizer bytes;
  expect_error(
      [&] {
        tokenize_item({"", {"a", "b"}, 0, 3}, bytes, 16, 300, "f");
      },
      "f line 3: the context is empty");
  expect_error(
      [&] {
        tokenize_item({"a", {"b", ""}, 0, 4}, bytes, 16, 300, "f");
      },
      "choice 1 is empty");
  expect_error(
      [&] {
        tokenize_item({"a", {"b", "0123456789"}, 0, 5}, bytes, 10, 300, "f");
      },
      "choice 1 has 10 tokens");
  expect_error(
      [&] {
        tokenize_item({"a\xFF", {"b", "c"}, 0, 6}, bytes, 16, 200, "f");
      },
      "token id 255, beyond the model's vocabulary of 200");
}

TEST(TaskFile, ReadsItemsAndRefusesBadLines) {
  test::TempDir dir;
  test::write_file(dir / "ok.jsonl",
                   "{\"context\": \"a\", \"choices\": [\"b\", \"c\"], \"answer\": 1, \"id\": 5}\n"
                   "\n"
                   "{\"answer\": 0, \"choices\": [\"x\", \"y\", \"z\\n\"], \"context\": \"q\"}\n");
  const auto ok = io::read_task_file(dir / "ok.jsonl");
  ASSERT_EQ(ok.size(), 2u);
  EXPECT_EQ(ok[0].answer, 1);
  EXPECT_EQ(ok[1].line, 3);
  EXPECT_EQ(ok[1].choices[2], "z\n");
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"{\"context\": \"a\", \"choices\": [\"b\", \"c\"], \"answer\": 1\n",
       "line 1: invalid JSON at column"},
      {"{\"context\": \"a\", \"choices\": [\"b\", \"c\"], \"answer\": 2}\n",
       "answer 2 is out of range"},
      {"{\"context\": \"a\", \"choices\": [\"b\", \"c\"], \"answer\": -1}\n",
       "answer -1 is out of range"},
      {"{\"context\": \"a\", \"choices\": [], \"answer\": 0}\n", "0 choice(s)"},
      {"{\"context\": \"a\", \"choices\": [\"b\"], \"answer\": 0}\n", "1 choice(s)"},
      {"{\"context\": \"a\", \"choices\": \"b\", \"answer\": 0}\n", "choices is a string"},
      {"{\"choices\": [\"b\", \"c\"], \"answer\": 0}\n", "has no \"context\""},
      {"{\"context\": \"a\", \"choices\": [\"b\", 3], \"answer\": 0}\n", "a choice is a number"},
      {"{\"context\": \"a\", \"choices\": [\"b\", \"c\"], \"answer\": 0.5}\n", "not an integer"},
      {"[1, 2]\n", "expected an object"},
      {"\n\n", "holds no items"},
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    const std::string path = dir / ("bad" + std::to_string(i) + ".jsonl");
    test::write_file(path, bad[i].first);
    expect_error([&] { io::read_task_file(path); }, bad[i].second);
  }
  expect_error([&] { io::read_task_file(dir / "missing.jsonl"); }, "does not exist");
}

}  // namespace
}  // namespace pha::launch
