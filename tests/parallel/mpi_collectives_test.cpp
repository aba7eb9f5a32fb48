// MpiCommunicator on 4 ranks: every collective and point-to-point transfer on random data of odd
// sizes (small, and large enough for MPI's rendezvous path), the scalar helpers, the counters,
// and the refusals. Runs on the world (4 ranks) and on the tp groups (2 ranks) of a dp 2 x tp 2
// grid.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "parallel/rank_grid.h"
#include "tests/test_util.h"

namespace pha::parallel {
namespace {

constexpr int64_t odd_sizes[] = {1, 7, 1001, 65537};

// Rank `rank`'s data for one test: floats from a normal, integers in [-1000, 1000).
template <typename T>
test::Owned<T> rank_data(int64_t n, int rank, uint64_t seed) {
  const uint64_t rank_seed = seed * 1000 + static_cast<uint64_t>(rank);
  if constexpr (std::is_same_v<T, int32_t>) {
    test::Owned<int32_t> o = test::random_tokens(Shape{n}, 2000, rank_seed);
    for (int32_t& v : o.data) v -= 1000;
    return o;
  } else {
    return test::random_tensor<T>(Shape{n}, rank_seed);
  }
}

// Floats are summed in another order by MPI: compare within a few ulps of the sum's scale.
template <typename T>
void expect_close(const std::vector<T>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  const double tol = std::is_same_v<T, float> ? 1e-5 : std::is_same_v<T, double> ? 1e-13 : 0;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(static_cast<double>(got[i]), want[i], tol * (1 + std::abs(want[i]))) << "at " << i;
}

class MpiCollectives : public ::testing::Test {
 protected:
  RankGrid grid{MPI_COMM_WORLD, Layout{0, 2, 1}};
  MpiCommunicator world = grid.communicator(GroupKind::world, 60);
  MpiCommunicator tp = grid.communicator(GroupKind::tp, 60);

  // Runs `check` on the world and on this rank's tp group.
  template <typename Check>
  void on_both_groups(Check check) {
    for (MpiCommunicator* comm : {&world, &tp}) {
      SCOPED_TRACE(comm->name());
      check(*comm);
    }
  }
};

template <typename T>
class MpiTypedCollectives : public MpiCollectives {};
using ElementTypes = ::testing::Types<float, double, int32_t>;
TYPED_TEST_SUITE(MpiTypedCollectives, ElementTypes);

TYPED_TEST(MpiTypedCollectives, AllReduceSumMaxAvg) {
  using T = TypeParam;
  this->on_both_groups([](MpiCommunicator& comm) {
    for (const int64_t n : odd_sizes) {
      for (const ReduceOp op : {ReduceOp::sum, ReduceOp::max, ReduceOp::avg}) {
        if (op == ReduceOp::avg && std::is_same_v<T, int32_t>) continue;
        SCOPED_TRACE(testing::Message() << "n " << n << " " << reduce_op_name(op));
        test::Owned<T> mine = rank_data<T>(n, comm.rank(), 1);
        std::vector<double> want(static_cast<size_t>(n), op == ReduceOp::max ? -1e300 : 0.0);
        for (int r = 0; r < comm.size(); ++r) {
          const test::Owned<T> theirs = rank_data<T>(n, r, 1);
          for (size_t i = 0; i < want.size(); ++i) {
            const double v = static_cast<double>(theirs.data[i]);
            want[i] = op == ReduceOp::max ? std::max(want[i], v) : want[i] + v;
          }
        }
        if (op == ReduceOp::avg)
          for (double& w : want) w /= comm.size();
        comm.all_reduce(mine, op);
        expect_close(mine.data, want);
      }
    }
  });
}

TYPED_TEST(MpiTypedCollectives, ReduceScatterSumsEachRanksChunk) {
  using T = TypeParam;
  this->on_both_groups([](MpiCommunicator& comm) {
    for (const int64_t n : odd_sizes) {
      const test::Owned<T> in = rank_data<T>(n * comm.size(), comm.rank(), 2);
      test::Owned<T> out(Shape{n});
      comm.reduce_scatter(in, out, ReduceOp::sum);
      std::vector<double> want(static_cast<size_t>(n), 0.0);
      for (int r = 0; r < comm.size(); ++r) {
        const test::Owned<T> theirs = rank_data<T>(n * comm.size(), r, 2);
        for (size_t i = 0; i < want.size(); ++i)
          want[i] += static_cast<double>(theirs.data[static_cast<size_t>(comm.rank() * n) + i]);
      }
      expect_close(out.data, want);
    }
  });
}

TYPED_TEST(MpiTypedCollectives, AllGatherConcatenatesByRank) {
  using T = TypeParam;
  this->on_both_groups([](MpiCommunicator& comm) {
    for (const int64_t n : odd_sizes) {
      const test::Owned<T> in = rank_data<T>(n, comm.rank(), 3);
      test::Owned<T> out(Shape{comm.size(), n});
      comm.all_gather(in, out);
      std::vector<T> want;
      for (int r = 0; r < comm.size(); ++r) {
        const test::Owned<T> theirs = rank_data<T>(n, r, 3);
        want.insert(want.end(), theirs.data.begin(), theirs.data.end());
      }
      EXPECT_EQ(out.data, want);
    }
  });
}

// In place (ZeRO's gradient reduce-scatter and parameter all-gather): the output is this rank's
// chunk of the input, or the input this rank's chunk of the output.
TYPED_TEST(MpiTypedCollectives, InPlaceReduceScatterAndAllGather) {
  using T = TypeParam;
  this->on_both_groups([](MpiCommunicator& comm) {
    for (const int64_t n : odd_sizes) {
      test::Owned<T> buffer = rank_data<T>(n * comm.size(), comm.rank(), 5);
      const Tensor mine = buffer.t.slice0(n * comm.rank(), n);
      comm.reduce_scatter(buffer, mine, ReduceOp::sum);
      std::vector<double> want(static_cast<size_t>(n), 0.0);
      for (int r = 0; r < comm.size(); ++r) {
        const test::Owned<T> theirs = rank_data<T>(n * comm.size(), r, 5);
        for (size_t i = 0; i < want.size(); ++i)
          want[i] += static_cast<double>(theirs.data[static_cast<size_t>(comm.rank() * n) + i]);
      }
      const auto first = buffer.data.begin() + comm.rank() * n;
      expect_close(std::vector<T>(first, first + n), want);
      // Every rank's chunk back into every rank's buffer.
      comm.all_gather(mine, buffer);
      for (int r = 0; r < comm.size(); ++r) {
        std::vector<double> theirs(static_cast<size_t>(n), 0.0);
        for (int q = 0; q < comm.size(); ++q) {
          const test::Owned<T> data = rank_data<T>(n * comm.size(), q, 5);
          for (size_t i = 0; i < theirs.size(); ++i)
            theirs[i] += static_cast<double>(data.data[static_cast<size_t>(r * n) + i]);
        }
        const auto at = buffer.data.begin() + r * n;
        expect_close(std::vector<T>(at, at + n), theirs);
      }
    }
  });
}

TYPED_TEST(MpiTypedCollectives, BroadcastFromEveryRoot) {
  using T = TypeParam;
  this->on_both_groups([](MpiCommunicator& comm) {
    for (int root = 0; root < comm.size(); ++root) {
      test::Owned<T> t = rank_data<T>(1001, comm.rank(), 4);
      comm.broadcast(t, root);
      EXPECT_EQ(t.data, rank_data<T>(1001, root, 4).data) << "root " << root;
    }
  });
}

TYPED_TEST(MpiTypedCollectives, SendRecvAroundARingInOrder) {
  using T = TypeParam;
  this->on_both_groups([](MpiCommunicator& comm) {
    const int next = (comm.rank() + 1) % comm.size();
    const int prev = (comm.rank() + comm.size() - 1) % comm.size();
    // Two messages per link must arrive in the order sent. Even ranks send first, odd ranks
    // receive first, so blocking transfers cannot deadlock (the group sizes here are even).
    for (const int64_t n : odd_sizes) {
      const test::Owned<T> first = rank_data<T>(n, comm.rank(), 5);
      const test::Owned<T> second = rank_data<T>(n, comm.rank(), 6);
      test::Owned<T> got_first(Shape{n}), got_second(Shape{n});
      auto sends = [&] {
        comm.send(first, next);
        comm.send(second, next);
      };
      auto recvs = [&] {
        comm.recv(got_first, prev);
        comm.recv(got_second, prev);
      };
      if (comm.rank() % 2 == 0) {
        sends();
        recvs();
      } else {
        recvs();
        sends();
      }
      EXPECT_EQ(got_first.data, rank_data<T>(n, prev, 5).data) << "n " << n;
      EXPECT_EQ(got_second.data, rank_data<T>(n, prev, 6).data) << "n " << n;
    }
  });
}

TEST_F(MpiCollectives, ScalarHelpers) {
  const int r = world.rank();
  EXPECT_EQ(world.all_reduce_scalar(r + 0.5, ReduceOp::sum), 0.5 + 1.5 + 2.5 + 3.5);
  EXPECT_EQ(world.all_reduce_scalar(r + 0.5, ReduceOp::avg), 2.0);
  EXPECT_EQ(world.all_reduce_scalar(-r * 1.0, ReduceOp::max), 0.0);
  const int64_t big = int64_t{1} << 40;
  EXPECT_EQ(world.all_reduce_scalar(big + r, ReduceOp::sum), 4 * big + 6);
  EXPECT_EQ(world.all_reduce_scalar(big + r, ReduceOp::max), big + 3);
  EXPECT_EQ(world.all_gather_scalar(r * 2.0), (std::vector<double>{0, 2, 4, 6}));
  char text[16] = {};
  if (r == 2) std::strcpy(text, "from rank two");
  world.broadcast_bytes(text, sizeof(text), 2);
  EXPECT_STREQ(text, "from rank two");
  world.barrier();
}

// Non-blocking all-reduces: two in flight at once on each group, with a blocking collective in
// between, waited for out of start order; each counts as one all_reduce call with its bytes.
TEST_F(MpiCollectives, StartedAllReducesCompleteInAnyWaitOrder) {
  on_both_groups([](MpiCommunicator& comm) {
    comm.reset_stats();
    test::Owned<float> a = rank_data<float>(1001, comm.rank(), 9);
    test::Owned<double> b = rank_data<double>(65537, comm.rank(), 10);
    std::vector<double> want_a(a.size(), 0.0), want_b(b.size(), -1e300);
    for (int r = 0; r < comm.size(); ++r) {
      const test::Owned<float> ta = rank_data<float>(1001, r, 9);
      const test::Owned<double> tb = rank_data<double>(65537, r, 10);
      for (size_t i = 0; i < want_a.size(); ++i) want_a[i] += ta.data[i] / comm.size();
      for (size_t i = 0; i < want_b.size(); ++i) want_b[i] = std::max(want_b[i], tb.data[i]);
    }
    PendingReduce pa = comm.all_reduce_start(a, ReduceOp::avg);
    PendingReduce pb = comm.all_reduce_start(b, ReduceOp::max);
    EXPECT_TRUE(pa.pending() && pb.pending());
    comm.barrier();
    comm.wait(pb);
    comm.wait(pa);
    EXPECT_FALSE(pa.pending() || pb.pending());
    expect_close(a.data, want_a);
    expect_close(b.data, want_b);
    EXPECT_EQ(comm.stats()[CommOp::all_reduce].calls, 2);
    EXPECT_EQ(comm.stats()[CommOp::all_reduce].bytes, 1001 * 4 + 65537 * 8);
    test::expect_error([&] { comm.wait(pa); }, "no all-reduce is pending here");
  });
}

// Non-blocking reduce-scatter of unequal parts (ZeRO-2's gradient window): odd part sizes, an
// empty part, a part large enough for the rendezvous path; two in flight, waited out of order;
// each rank's part holds the average (f32) or sum (f64) of every rank's same part, in place.
TEST_F(MpiCollectives, StartedReduceScattersOfUnequalPartsLandInEachRanksPart) {
  on_both_groups([](MpiCommunicator& comm) {
    comm.reset_stats();
    const int n = comm.size();
    std::vector<int64_t> counts_a, counts_b;
    for (int r = 0; r < n; ++r) {
      counts_a.push_back(r == 1 ? 0 : 7 + 13 * r);
      counts_b.push_back(r == 0 ? 65537 : 3 * r + 1);
    }
    auto total = [](const std::vector<int64_t>& c) {
      int64_t t = 0;
      for (int64_t v : c) t += v;
      return t;
    };
    const int64_t na = total(counts_a), nb = total(counts_b);
    test::Owned<float> a = rank_data<float>(na, comm.rank(), 11);
    test::Owned<double> b = rank_data<double>(nb, comm.rank(), 12);
    std::vector<double> want_a(static_cast<size_t>(na), 0.0), want_b(static_cast<size_t>(nb), 0.0);
    for (int r = 0; r < n; ++r) {
      const test::Owned<float> ta = rank_data<float>(na, r, 11);
      const test::Owned<double> tb = rank_data<double>(nb, r, 12);
      for (size_t i = 0; i < want_a.size(); ++i) want_a[i] += ta.data[i] / n;
      for (size_t i = 0; i < want_b.size(); ++i) want_b[i] += tb.data[i];
    }
    PendingReduce pa = comm.reduce_scatter_start(a, counts_a, ReduceOp::avg);
    PendingReduce pb = comm.reduce_scatter_start(b, counts_b, ReduceOp::sum);
    comm.wait(pb);
    comm.wait(pa);
    // This rank's part of each.
    auto mine = [&](const auto& data, const std::vector<int64_t>& counts, const auto& want) {
      int64_t begin = 0;
      for (int r = 0; r < comm.rank(); ++r) begin += counts[static_cast<size_t>(r)];
      const int64_t count = counts[static_cast<size_t>(comm.rank())];
      using T = typename std::decay_t<decltype(data)>::value_type;
      expect_close(std::vector<T>(data.begin() + begin, data.begin() + begin + count),
                   std::vector<double>(want.begin() + begin, want.begin() + begin + count));
    };
    mine(a.data, counts_a, want_a);
    mine(b.data, counts_b, want_b);
    EXPECT_EQ(comm.stats()[CommOp::reduce_scatter].calls, 2);
    EXPECT_EQ(comm.stats()[CommOp::reduce_scatter].bytes, na * 4 + nb * 8);
    std::vector<int64_t> wrong = counts_a;
    wrong[0] += 1;
    test::expect_error([&] { comm.reduce_scatter_start(a, wrong, ReduceOp::sum); }, "parts of");
  });
}

TEST_F(MpiCollectives, CountersCountCallsAndBytesExactly) {
  world.reset_stats();
  tp.reset_stats();
  test::Owned<float> a(Shape{7, 3}), b(Shape{4 * 5}), c(Shape{5}), row(Shape{2}), d(Shape{4, 2});
  test::Owned<double> e(Shape{11});
  world.all_reduce(a, ReduceOp::sum);                  // 84 bytes
  world.all_reduce(e, ReduceOp::max);                  // 88 bytes
  world.reduce_scatter(b, c, ReduceOp::avg);           // the full input: 80 bytes
  world.all_gather(row, d);                            // the full output: 32 bytes
  world.broadcast(e, 1);                               // 88 bytes
  world.all_reduce_scalar(1.0, ReduceOp::sum);         // 8 bytes
  world.all_reduce_scalar(int64_t{1}, ReduceOp::sum);  // 8 bytes
  world.all_gather_scalar(1.0);                        // 4 ranks x 8 bytes
  world.broadcast_bytes(e.data.data(), 13, 0);         // 13 bytes
  if (tp.rank() == 0)
    tp.send(a, 1);
  else
    tp.recv(a, 0);  // 84 bytes
  world.barrier();

  const CommStats& s = world.stats();
  EXPECT_EQ(s[CommOp::all_reduce].calls, 4);
  EXPECT_EQ(s[CommOp::all_reduce].bytes, 84 + 88 + 8 + 8);
  EXPECT_EQ(s[CommOp::reduce_scatter].calls, 1);
  EXPECT_EQ(s[CommOp::reduce_scatter].bytes, 80);
  EXPECT_EQ(s[CommOp::all_gather].calls, 2);
  EXPECT_EQ(s[CommOp::all_gather].bytes, 32 + 32);
  EXPECT_EQ(s[CommOp::broadcast].calls, 2);
  EXPECT_EQ(s[CommOp::broadcast].bytes, 88 + 13);
  EXPECT_EQ(s[CommOp::barrier].calls, 1);
  EXPECT_EQ(s[CommOp::barrier].bytes, 0);
  EXPECT_EQ(s[CommOp::send].calls, 0);
  EXPECT_EQ(s.total().calls, 10);
  EXPECT_GT(s.total().seconds, 0.0);

  const CommStats& t = tp.stats();
  const CommOp moved = tp.rank() == 0 ? CommOp::send : CommOp::recv;
  EXPECT_EQ(t[moved].calls, 1);
  EXPECT_EQ(t[moved].bytes, 84);
  EXPECT_EQ(t.total().calls, 1);
  EXPECT_NE(s.str().find("all_reduce 4 calls"), std::string::npos) << s.str();

  world.reset_stats();
  EXPECT_EQ(world.stats().total().calls, 0);
  EXPECT_EQ(world.stats().str(), "no communication");
}

TEST_F(MpiCollectives, RefusesBadArgumentsOnEveryRank) {
  test::Owned<int32_t> ints(Shape{3});
  test::Owned<float> four(Shape{4}), two(Shape{2});
  test::Owned<double> wrong_type(Shape{1});
  test::expect_error([&] { world.all_reduce(ints, ReduceOp::avg); },
                     "avg of i32 values is refused");
  test::expect_error([&] { world.reduce_scatter(four, two, ReduceOp::sum); },
                     "input f32[4] on cpu must hold 4 chunks of the output f32[2] on cpu");
  test::expect_error([&] { world.all_gather(two, four); }, "must hold 4 chunks of the input");
  test::expect_error([&] { world.all_gather(wrong_type, four); },
                     "all_gather: mixed element types f64 and f32");
  test::expect_error([&] { world.broadcast(four, 4); }, "root 4 is not one of 4 ranks");
  test::expect_error([&] { world.send(four, world.rank()); }, "the peer must be another");
  test::expect_error([&] { tp.recv(four, 2); }, "recv from 2 on the tp group");
  test::expect_error([&] { world.set_timeout(0); }, "timeout must be positive");
  uint16_t halves[2] = {};
  test::expect_error(
      [&] { world.all_reduce(Tensor(halves, DType::bf16, Device::cpu, Shape{2}), ReduceOp::sum); },
      "moves f32, f64 or i32 tensors");
  test::expect_error(
      [&] {
        world.all_reduce(Tensor(four.data.data(), DType::f32, Device::cuda, Shape{4}),
                         ReduceOp::sum);
      },
      "moves host tensors");
  world.barrier();  // every rank refused the same calls: the group is still in step
}

}  // namespace
}  // namespace pha::parallel
