// ProfilingBackend forwards every call unchanged (results bit-identical to the wrapped backend's,
// op by op and for a whole training step) and counts calls, FLOPs and bytes per op kind.
#include "core/profiling_backend.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/cpu/cpu_backend.h"
#include "layers/model.h"
#include "tests/model_test_util.h"
#include "tests/test_util.h"

namespace pha {
namespace {

using test::random_tensor;

template <typename T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

TEST(ProfilingBackend, ForwardsOpsBitIdenticallyAndCounts) {
  CpuBackend cpu;
  ProfilingBackend prof(cpu);
  auto a = random_tensor<float>({37, 19}, 1), b = random_tensor<float>({19, 23}, 2);
  auto c1 = random_tensor<float>({37, 23}, 3), c2 = c1;
  cpu.matmul(a, false, b, false, c1.t, 0.7, 0.3);
  prof.matmul(a, false, b, false, c2.t, 0.7, 0.3);
  prof.matmul(a, false, b, false, c2.t, 0.7, 0.3);
  cpu.matmul(a, false, b, false, c1.t, 0.7, 0.3);
  EXPECT_TRUE(same_bits(c1.data, c2.data));

  auto x = random_tensor<float>({5, 41}, 4);
  auto y1 = random_tensor<float>({5, 41}, 5), y2 = y1;
  cpu.gelu_forward(x, y1);
  prof.gelu_forward(x, y2);
  EXPECT_TRUE(same_bits(y1.data, y2.data));
  EXPECT_EQ(cpu.sum_squares(x), prof.sum_squares(x));

  const auto& s = prof.stats();
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s.at("matmul").calls, 2);
  EXPECT_DOUBLE_EQ(s.at("matmul").flops, 2 * 2.0 * 37 * 23 * 19);
  EXPECT_DOUBLE_EQ(s.at("matmul").bytes, 2 * 4.0 * (37 * 19 + 19 * 23 + 37 * 23));
  EXPECT_EQ(s.at("gelu_forward").calls, 1);
  EXPECT_DOUBLE_EQ(s.at("gelu_forward").bytes, 2 * 4.0 * 5 * 41);
  EXPECT_EQ(s.at("sum_squares").calls, 1);
  for (const auto& [name, st] : s) EXPECT_GE(st.seconds, 0.0) << name;
  prof.reset();
  EXPECT_TRUE(prof.stats().empty());
}

TEST(ProfilingBackend, AttentionFlopsCountCausalPairs) {
  Tensor q(nullptr, DType::f32, Device::cpu, Shape{2, 10, 3, 4});
  // 55 pairs, 2 matmuls of 2 d_h FLOPs each per pair and (batch, head).
  EXPECT_DOUBLE_EQ(attention_flops(q, 0, false), 55.0 * 2 * 2 * 4 * 2 * 3);
  // window 4: rows 0..3 see 1..4 keys, the other 6 rows 4 each.
  EXPECT_DOUBLE_EQ(attention_flops(q, 4, true), (10.0 + 24.0) * 5 * 2 * 4 * 2 * 3);
}

// A whole training step through the profiler gives the same loss and gradients bit for bit, and
// every op kind the step uses is counted.
TEST(ProfilingBackend, TrainingStepBitIdentical) {
  const ModelConfig cfg = test::sized_model({.d = 36,
                                             .n_q = 6,
                                             .n_kv = 2,
                                             .d_ff = 52,
                                             .gss_f = 30,
                                             .gss_h = 10,
                                             .dss_n = 8,
                                             .n_layers = 2,
                                             .vocab = 61});
  const int64_t batch = 2, seq = 13;
  auto tokens = test::random_tokens({batch, seq}, static_cast<int32_t>(cfg.vocab), 9);
  auto run = [&](Backend& be, std::vector<float>& grads) {
    Model model(be, cfg, batch, seq);
    model.init_parameters(5);
    model.zero_grads();
    const double loss = model.forward(tokens.data.data());
    model.backward();
    grads.resize(model.grads().bytes() / sizeof(float));
    be.copy_to_host(Tensor(model.grads().base(), DType::f32, Device::cpu,
                           Shape{static_cast<int64_t>(grads.size())}),
                    grads.data());
    return loss;
  };
  CpuBackend cpu;
  ProfilingBackend prof(cpu);
  std::vector<float> g_direct, g_prof;
  const double loss_direct = run(cpu, g_direct);
  const double loss_prof = run(prof, g_prof);
  EXPECT_EQ(loss_direct, loss_prof);
  EXPECT_TRUE(same_bits(g_direct, g_prof));
  const auto& s = prof.stats();
  for (const char* op : {"matmul", "attention_forward", "attention_backward", "causal_conv_forward",
                         "causal_conv_backward", "cross_entropy_forward"})
    EXPECT_GT(s.count(op) ? s.at(op).calls : 0, 0) << op;
  EXPECT_NE(profile_table(s, 1, 1.0).find("| matmul |"), std::string::npos);
}

}  // namespace
}  // namespace pha
