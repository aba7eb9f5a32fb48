// Context parallelism's ops against the unsplit ops, in f64 on 4 ranks (cp = 4 over the world and
// cp = 2 over two halves of it): ring attention (GQA, odd head width, with and without a window,
// forward and backward) and the block-Toeplitz GSS convolution (forward, input and kernel
// gradients). Each rank builds the whole random problem, computes the unsplit result, and compares
// the rows of its two zigzag chunks.
#include <gtest/gtest.h>
#include <mpi.h>

#include "core/cpu/cpu_backend.h"
#include "layers/context_conv.h"
#include "layers/ring_attention.h"
#include "parallel/mpi_communicator.h"
#include "tests/test_util.h"

namespace pha {
namespace {

using test::Owned;
using test::random_tensor;

// A communicator of `cp` consecutive world ranks.
struct CpGroup {
  MPI_Comm comm = MPI_COMM_NULL;
  std::unique_ptr<parallel::MpiCommunicator> mpi;
  explicit CpGroup(int cp) {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_split(MPI_COMM_WORLD, rank / cp, rank % cp, &comm);
    mpi = std::make_unique<parallel::MpiCommunicator>(comm, "cp", 60);
  }
  ~CpGroup() {
    mpi.reset();
    MPI_Comm_free(&comm);
  }
};

// The rows of this rank's chunks from a whole [B, T, ...] tensor, slot-major [2B, C, ...].
std::vector<double> local_rows(const std::vector<double>& whole, int64_t B, int64_t T, int64_t row,
                               const parallel::ContextSplit& sp) {
  const int64_t C = T / sp.chunks();
  std::vector<double> out;
  for (int a = 0; a < 2; ++a)
    for (int64_t b = 0; b < B; ++b) {
      const auto first = whole.begin() + (b * T + sp.chunk(a) * C) * row;
      out.insert(out.end(), first, first + C * row);
    }
  return out;
}

// Same for lse [B, n_q, T] -> [2B, n_q, C].
std::vector<double> local_lse(const std::vector<double>& whole, int64_t B, int64_t n_q, int64_t T,
                              const parallel::ContextSplit& sp) {
  const int64_t C = T / sp.chunks();
  std::vector<double> out;
  for (int a = 0; a < 2; ++a)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < n_q; ++h) {
        const auto first = whole.begin() + (b * n_q + h) * T + sp.chunk(a) * C;
        out.insert(out.end(), first, first + C);
      }
  return out;
}

Owned<double> owned(const std::vector<double>& v, Shape shape) {
  Owned<double> o(shape);
  o.data = v;
  o.t.data = o.data.data();
  return o;
}

void ring_attention_matches(int cp, int64_t window) {
  SCOPED_TRACE(::testing::Message() << "cp " << cp << " window " << window);
  CpGroup group(cp);
  const parallel::ContextSplit sp{cp, group.mpi->rank()};
  const int64_t B = 2, C = 7, T = C * sp.chunks(), n_q = 6, n_kv = 2, dh = 5;
  CpuBackend be;
  auto q = random_tensor<double>({B, T, n_q, dh}, 1),
       k = random_tensor<double>({B, T, n_kv, dh}, 2),
       v = random_tensor<double>({B, T, n_kv, dh}, 3),
       d_o = random_tensor<double>({B, T, n_q, dh}, 4);
  Owned<double> o({B, T, n_q, dh}), lse({B, n_q, T}), dq({B, T, n_q, dh}), dk({B, T, n_kv, dh}),
      dv({B, T, n_kv, dh});
  be.attention_forward(q, k, v, o, lse, window);
  be.attention_backward(d_o, q, k, v, o, lse, dq, dk, dv, window);

  const int64_t qrow = n_q * dh, krow = n_kv * dh;
  const Shape qs{2 * B, C, n_q, dh}, ks{2 * B, C, n_kv, dh};
  auto lq = owned(local_rows(q.data, B, T, qrow, sp), qs);
  auto lk = owned(local_rows(k.data, B, T, krow, sp), ks);
  auto lv = owned(local_rows(v.data, B, T, krow, sp), ks);
  auto ld_o = owned(local_rows(d_o.data, B, T, qrow, sp), qs);
  Owned<double> lo(qs), llse({2 * B, n_q, C}), ldq(qs), ldk(ks), ldv(ks);
  std::vector<Owned<double>> bufs(8, Owned<double>(ks));
  ContextRing ring{sp, group.mpi.get(), B, C};
  ring.k_in[0] = bufs[0].t, ring.k_in[1] = bufs[1].t, ring.v_in[0] = bufs[2].t;
  ring.v_in[1] = bufs[3].t, ring.dk_out = bufs[4].t, ring.dv_out = bufs[5].t;
  ring.dk_in = bufs[6].t, ring.dv_in = bufs[7].t;
  group.mpi->reset_stats();
  ring_attention_forward(be, ring, lq, lk, lv, lo, llse, window);
  // Windowed attention sends keys and values only to the ranks that see them: at cp 4 with a
  // window within one chunk, rank 0 (chunks 0, 7) to rank 1, rank 1 (1, 6) to ranks 2 and 0,
  // rank 2 (2, 5) to ranks 3 and 1, rank 3 (3, 4) to rank 2; full causal, to all three others.
  const int64_t sends = group.mpi->stats()[parallel::CommOp::send].calls;
  if (cp == 4 && window == 0) EXPECT_EQ(sends, 6);
  if (cp == 4 && window == 2) EXPECT_EQ(sends, (std::vector<int64_t>{2, 4, 4, 2})[sp.rank]);
  ring_attention_backward(be, ring, ld_o, lq, lk, lv, lo, llse, ldq, ldk, ldv, window);

  EXPECT_LT(test::rel_error(lo.data, local_rows(o.data, B, T, qrow, sp)), 1e-13);
  EXPECT_LT(test::rel_error(llse.data, local_lse(lse.data, B, n_q, T, sp)), 1e-13);
  EXPECT_LT(test::rel_error(ldq.data, local_rows(dq.data, B, T, qrow, sp)), 1e-12);
  EXPECT_LT(test::rel_error(ldk.data, local_rows(dk.data, B, T, krow, sp)), 1e-12);
  EXPECT_LT(test::rel_error(ldv.data, local_rows(dv.data, B, T, krow, sp)), 1e-12);
}

TEST(ContextOps, RingAttentionMatchesTheWholeSequence) {
  // (Not window 1: every query sees only itself, so dq = dk = 0 up to rounding.)
  for (int cp : {2, 4})
    for (int64_t window : {0, 2, 5, 9, 16}) ring_attention_matches(cp, window);
}

void context_conv_matches(int cp, ConvAlgo algo) {
  SCOPED_TRACE(::testing::Message() << "cp " << cp);
  CpGroup group(cp);
  const parallel::ContextSplit sp{cp, group.mpi->rank()};
  const int64_t B = 2, C = 5, T = C * sp.chunks(), H = 3;
  CpuBackend be;
  auto zn = random_tensor<double>({B, T, H}, 5), kernel = random_tensor<double>({T, H}, 6),
       d_conv = random_tensor<double>({B, T, H}, 7);
  Owned<double> conv({B, T, H}), d_zn({B, T, H}), d_kernel({T, H});
  be.causal_conv_forward(zn, kernel, conv, algo);
  be.causal_conv_backward(d_conv, zn, kernel, d_zn, d_kernel, algo);

  const Shape ls{2 * B, C, H}, ps{B, 2 * C, H};
  auto lzn = owned(local_rows(zn.data, B, T, H, sp), ls);
  auto ld_conv = owned(local_rows(d_conv.data, B, T, H, sp), ls);
  Owned<double> lconv(ls), ld_zn(ls), ld_kernel({T, H});
  std::vector<Owned<double>> bufs(4, Owned<double>(ls)), pads(3, Owned<double>(ps));
  ContextConv cc{sp, group.mpi.get(), B, C};
  cc.zn_in[0] = bufs[0].t, cc.zn_in[1] = bufs[1].t, cc.dzn_out = bufs[2].t, cc.dzn_in = bufs[3].t;
  cc.pad_u = pads[0].t, cc.pad_y = pads[1].t, cc.pad_du = pads[2].t;
  // Only the kernel prefix this rank needs is given: positions past it hold NaN.
  Owned<double> lkernel({T, H});
  for (auto& x : lkernel.data) x = std::nan("");
  std::copy(kernel.data.begin(), kernel.data.begin() + context_kernel_len(cc) * H,
            lkernel.data.begin());
  context_conv_forward(be, cc, lzn, lkernel, lconv, algo);
  context_conv_backward(be, cc, ld_conv, lzn, lkernel, ld_zn, ld_kernel, algo);
  group.mpi->all_reduce(ld_kernel, parallel::ReduceOp::sum);

  const double tol = algo == ConvAlgo::direct ? 1e-14 : 1e-12;
  EXPECT_LT(test::rel_error(lconv.data, local_rows(conv.data, B, T, H, sp)), tol);
  EXPECT_LT(test::rel_error(ld_zn.data, local_rows(d_zn.data, B, T, H, sp)), tol);
  EXPECT_LT(test::rel_error(ld_kernel.data, d_kernel.data), tol);
}

TEST(ContextOps, BlockToeplitzConvolutionMatchesTheWholeSequence) {
  for (int cp : {2, 4})
    for (ConvAlgo algo : {ConvAlgo::fft, ConvAlgo::direct}) context_conv_matches(cp, algo);
}

TEST(ContextOps, ChunkVisibilityFollowsTheMask) {
  const parallel::ContextSplit sp{4, 1};
  EXPECT_EQ(sp.chunk(0), 1);
  EXPECT_EQ(sp.chunk(1), 6);
  EXPECT_EQ(sp.owner(6), 1);
  EXPECT_TRUE(parallel::chunk_sees(3, 2, 8, 0));
  EXPECT_FALSE(parallel::chunk_sees(2, 3, 8, 0));
  EXPECT_TRUE(parallel::chunk_sees(3, 2, 8, 2));   // query 24 sees key 23
  EXPECT_FALSE(parallel::chunk_sees(3, 1, 8, 9));  // query 24 sees keys from 16 on
  EXPECT_TRUE(parallel::chunk_sees(3, 1, 8, 10));  // ... from 15 on
  // Window 1: only the own chunks; rank 1 (chunks 1, 6) sees no other rank.
  for (int k = 0; k < 4; ++k) EXPECT_EQ(parallel::rank_sees(sp, 1, k, 8, 1), k == 1);
}

}  // namespace
}  // namespace pha
