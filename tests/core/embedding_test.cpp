// Embedding lookup against a naive copy; its backward against finite differences, repeated
// tokens, and a sequential scatter-add.
#include "core/cpu/cpu_backend.h"
#include "tests/test_util.h"

namespace pha::test {
namespace {

// tokens [...] plus the width d.
Shape rows_of(const Shape& tokens, int64_t d) {
  Shape s = tokens;
  s.dims[static_cast<size_t>(s.rank++)] = d;
  return s;
}

// 1000 tokens x 33 columns take the threaded path.
TEST(Embedding, ForwardCopiesRows) {
  CpuBackend be;
  for (const Shape& ts : {Shape{1}, Shape{7}, Shape{3, 13}, Shape{2, 3, 5}, Shape{25, 40}})
    for (int64_t d : {1, 13, 33}) {
      const int32_t vocab = 11;
      const auto tokens = random_tokens(ts, vocab, 1);
      const auto table = random_tensor<float>({vocab, d}, 2);
      auto out = random_tensor<float>(rows_of(ts, d), 3);
      be.embedding_forward(tokens, table, out);
      for (size_t i = 0; i < tokens.size(); ++i)
        for (int64_t c = 0; c < d; ++c)
          ASSERT_EQ(out[i * static_cast<size_t>(d) + static_cast<size_t>(c)],
                    table.data[static_cast<size_t>(tokens.data[i] * d + c)])
              << "position " << i << " column " << c;
    }
}

// Few vocabulary rows for many tokens, so rows repeat and their gradients must add up.
TEST(Embedding, BackwardMatchesFiniteDifferences) {
  CpuBackend be;
  for (auto [vocab, n, d] : {std::array<int64_t, 3>{1, 1, 1}, {5, 33, 7}, {13, 3, 13}}) {
    const auto tokens = random_tokens({n}, static_cast<int32_t>(vocab), 4);
    auto table = random_tensor<double>({vocab, d}, 5);
    const auto probe = random_tensor<double>({n, d}, 6);
    Owned<double> out(Shape{n, d});
    const auto loss = [&] {
      be.embedding_forward(tokens, table, out);
      return probe_loss(out.data, probe.data);
    };
    auto dtable = random_tensor<double>(table.t.shape, 7);  // pre-filled: backward adds
    const auto before = dtable.data;
    be.embedding_backward(tokens, probe, dtable);
    std::vector<double> added(dtable.size());
    for (size_t i = 0; i < added.size(); ++i) added[i] = dtable[i] - before[i];
    // The loss is linear in the table, so a large step has no truncation error.
    check_gradient("embedding dtable", table.data, added, loss, 1e-9, 1e-3);
  }
}

// Column-parallel accumulation still adds each row's contributions in token order: the f32 result
// is bit for bit a sequential loop's. 1000 tokens x 37 columns takes the threaded path.
TEST(Embedding, BackwardEqualsSequentialScatter) {
  CpuBackend be;
  const int32_t vocab = 7;
  const int64_t d = 37;
  const auto tokens = random_tokens({25, 40}, vocab, 8);
  const auto dout = random_tensor<float>({25, 40, d}, 9);
  auto dtable = random_tensor<float>({vocab, d}, 10);
  auto expected = dtable;
  for (size_t i = 0; i < tokens.size(); ++i)
    for (int64_t c = 0; c < d; ++c)
      expected[static_cast<size_t>(tokens.data[i] * d + c)] +=
          dout.data[i * static_cast<size_t>(d) + static_cast<size_t>(c)];
  be.embedding_backward(tokens, dout, dtable);
  for (size_t i = 0; i < dtable.size(); ++i) ASSERT_EQ(dtable[i], expected[i]) << "element " << i;
}

// A vocabulary shard sees -1 for tokens it does not hold: a zero row, and no gradient.
TEST(Embedding, TokensOfOtherShardsGiveZeroRowsAndNoGradient) {
  CpuBackend be;
  auto tokens = random_tokens({7}, 9, 5);
  tokens[2] = -1;
  tokens[5] = -1;
  const auto table = random_tensor<double>({9, 4}, 6);
  auto out = random_tensor<double>({7, 4}, 7);
  be.embedding_forward(tokens, table, out);
  for (int64_t i = 0; i < 7; ++i)
    for (int64_t c = 0; c < 4; ++c) {
      const double expected = tokens[static_cast<size_t>(i)] < 0
                                  ? 0.0
                                  : table.data[static_cast<size_t>(tokens[i] * 4 + c)];
      EXPECT_EQ(out[static_cast<size_t>(i * 4 + c)], expected);
    }
  auto dtable = random_tensor<double>({9, 4}, 8);
  auto expected = dtable;
  for (size_t i = 0; i < 7; ++i)
    if (tokens[i] >= 0)
      for (size_t c = 0; c < 4; ++c)
        expected[static_cast<size_t>(tokens[i]) * 4 + c] += out[i * 4 + c];
  be.embedding_backward(tokens, out, dtable);
  for (size_t i = 0; i < dtable.size(); ++i) EXPECT_EQ(dtable[i], expected[i]) << i;
}

TEST(Embedding, RefusesBadInput) {
  CpuBackend be;
  auto tokens = random_tokens({2, 3}, 11, 1);
  const auto table = random_tensor<float>({11, 5}, 2);
  auto out = random_tensor<float>({2, 3, 5}, 3);
  tokens[4] = 11;
  expect_error([&] { be.embedding_forward(tokens, table, out); },
               "embedding_forward: token id 11 at position 4 is outside the vocabulary [0, 11)");
  expect_error([&] { be.embedding_backward(tokens, out, table); },
               "embedding_backward: token id 11 at position 4");
  tokens[4] = -2;
  expect_error([&] { be.embedding_forward(tokens, table, out); }, "token id -2 at position 4");
  tokens[4] = 0;
  expect_error(
      [&] {
        be.embedding_forward(tokens, table, random_tensor<float>({6, 5}, 4));
      },
      "embedding_forward: out has shape [6, 5], expected [2, 3, 5]");
  expect_error(
      [&] {
        be.embedding_backward(tokens, random_tensor<float>({2, 3, 4}, 4), table);
      },
      "dout has shape [2, 3, 4], expected [2, 3, 5]");
  expect_error([&] { be.embedding_forward(tokens, random_tensor<float>({55}, 4), out); },
               "table must have 2 dims");
  expect_error(
      [&] {
        be.embedding_forward(random_tensor<float>({2, 3}, 5), table, out);
      },
      "tokens must be i32");
  expect_error(
      [&] {
        be.embedding_forward(tokens, table, random_tensor<double>({2, 3, 5}, 6));
      },
      "mixed element types");
}

}  // namespace
}  // namespace pha::test
