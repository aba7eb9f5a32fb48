// The communicator's counts for one block on tp = 2 match parallel.md's arithmetic: a PHA block
// costs ONE [B, T, d] all-reduce forward and, backward, one [B, T, d] + one [B, T, H] (+ the
// mixing weights' n floats); a serial block costs two [B, T, d] each way.
#include <gtest/gtest.h>
#include <mpi.h>

#include "core/cpu/cpu_backend.h"
#include "layers/model.h"
#include "parallel/mpi_communicator.h"
#include "tests/model_test_util.h"
#include "tests/test_util.h"

namespace pha {
namespace {

using parallel::CommOp;

struct Counts {
  int64_t forward_calls, forward_bytes, backward_calls, backward_bytes;
};

Counts one_block(const std::string& block) {
  ModelConfig c = test::sized_model({.d = 64,
                                     .n_q = 4,
                                     .n_kv = 2,
                                     .d_ff = 96,
                                     .gss_f = 48,
                                     .gss_h = 16,
                                     .dss_n = 8,
                                     .n_layers = 1,
                                     .vocab = 100});
  c.block = BlockKind::parse(block);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  parallel::MpiCommunicator tp(MPI_COMM_WORLD, "tp", 60);
  ModelPart part;
  part.tp = TpPosition{tp.size(), rank};
  part.tp_comm = &tp;
  part.has_embedding = part.has_head = false;  // the block alone: input and gradient are given
  const int64_t B = 2, T = 5;
  CpuBackend be;
  Model model(be, c, B, T, DType::f32, part);
  model.init_parameters(3);
  const auto x = test::random_tensor<float>({B, T, c.d}, 4);
  be.copy_from_host(model.stage_input(0), x.data.data());
  const auto tokens = test::random_tokens({B * T}, 100, 5);
  tp.reset_stats();
  model.stage_forward(0, tokens.data.data());
  const auto forward = tp.stats()[CommOp::all_reduce];
  const auto dy = test::random_tensor<float>({B, T, c.d}, 6);
  be.copy_from_host(model.stage_grad(), dy.data.data());
  tp.reset_stats();
  model.stage_backward(0);
  const auto backward = tp.stats()[CommOp::all_reduce];
  EXPECT_EQ(tp.stats().total().calls, backward.calls) << "only all-reduces in backward";
  return {forward.calls, forward.bytes, backward.calls, backward.bytes};
}

TEST(TpCounts, PhaBlockReducesOnceForwardAndOncePlusStateBackward) {
  const Counts n = one_block("pha");
  const int64_t btd = 2 * 5 * 64 * 4, bth = 2 * 5 * 16 * 4, alpha = 3 * 4;
  EXPECT_EQ(n.forward_calls, 1);
  EXPECT_EQ(n.forward_bytes, btd);
  EXPECT_EQ(n.backward_calls, 3);  // mixing weights, GSS state [B, T, H], input [B, T, d]
  EXPECT_EQ(n.backward_bytes, alpha + bth + btd);
}

TEST(TpCounts, SerialBlockReducesTwiceEachWay) {
  const Counts n = one_block("serial");
  const int64_t btd = 2 * 5 * 64 * 4;
  EXPECT_EQ(n.forward_calls, 2);
  EXPECT_EQ(n.forward_bytes, 2 * btd);
  EXPECT_EQ(n.backward_calls, 2);
  EXPECT_EQ(n.backward_bytes, 2 * btd);
}

}  // namespace
}  // namespace pha
