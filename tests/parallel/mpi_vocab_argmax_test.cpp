// The vocabulary-parallel argmax (recall scoring under tp) on 2 ranks: each holds half the
// columns of the same random logits [rows, 2 V] (odd V), and every rank must get the column of
// each whole row's first maximum, as std::max_element finds it: maxima in either half, ties
// within one rank's half and across the two halves (the lower column wins), a row whose maximum
// is in the second half only, and rows of NaNs (-1, no maximum).
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/cpu/cpu_backend.h"
#include "layers/vocab_argmax.h"
#include "parallel/rank_grid.h"
#include "tests/test_util.h"

namespace pha::launch {
namespace {

TEST(VocabParallelArgmax, FirstMaximumOfTheWholeRowOnEveryRank) {
  parallel::RankGrid grid(MPI_COMM_WORLD, parallel::Layout{1, 2, 1});
  parallel::MpiCommunicator tp = grid.communicator(parallel::GroupKind::tp, 60);
  ASSERT_EQ(tp.size(), 2);
  constexpr int64_t rows = 37, V = 7;
  // The whole logits, the same on both ranks; then the special rows.
  test::Owned<float> whole = test::random_tensor<float>(Shape{rows, 2 * V}, 3);
  auto at = [&](int64_t r, int64_t c) -> float& { return whole.data[r * 2 * V + c]; };
  at(0, 2) = at(0, 5) = 9;                         // tie within rank 0's half
  at(1, V + 1) = at(1, V + 4) = 9;                 // tie within rank 1's half
  at(2, 3) = at(2, V + 3) = 9;                     // tie across the halves: column 3
  at(3, V) = at(3, 2 * V - 1) = at(3, V - 1) = 9;  // three-way tie: column V - 1
  at(4, 2 * V - 1) = 9;                            // the last column
  for (int64_t c = 0; c < 2 * V; ++c) at(5, c) = std::numeric_limits<float>::quiet_NaN();
  test::Owned<float> mine(Shape{rows, V});
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < V; ++c) mine.data[r * V + c] = at(r, tp.rank() * V + c);
  CpuBackend be;
  const std::vector<int32_t> got = vocab_parallel_argmax(be, &tp, mine.t);
  ASSERT_EQ(got.size(), static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = &whole.data[r * 2 * V];
    const int32_t want =
        r == 5 ? -1 : static_cast<int32_t>(std::max_element(row, row + 2 * V) - row);
    EXPECT_EQ(got[static_cast<size_t>(r)], want) << "row " << r << " on tp rank " << tp.rank();
  }
  // The random rows put their maxima in both halves (the test covers both ranks' columns).
  EXPECT_TRUE(std::any_of(got.begin() + 6, got.end(), [](int32_t c) { return c < V; }));
  EXPECT_TRUE(std::any_of(got.begin() + 6, got.end(), [](int32_t c) { return c >= V; }));
}

}  // namespace
}  // namespace pha::launch
