// AdamW against hand-computed steps, the optimiser groups, state naming and dtypes.
#include "optim/adamw.h"

#include <gtest/gtest.h>

#include "tests/optim/optim_test_util.h"
#include "tests/test_util.h"

namespace pha {
namespace {

using test::TinyModel;

// Three tensors of two elements, one per group; every one starts at p0 = [1, -2] and gets the
// same gradients: g1 = [0.5, -1], g2 = [0.25, 0.5], g3 = [-0.5, 0.125].
// Config: lr 0.1, beta1 0.9, beta2 0.99, eps 1e-8, weight_decay 0.1, dss_lr_cap 1e-3.
TinyModel three_groups(DType real) {
  return TinyModel(real, {{"w", {2}, ParamGroup::decay},
                          {"norm.g", {2}, ParamGroup::no_decay},
                          {"gss.lambda_re", {2}, ParamGroup::dss}});
}

AdamWConfig hand_config() {
  AdamWConfig c;
  c.lr = 0.1;
  c.beta1 = 0.9;
  c.beta2 = 0.99;
  c.eps = 1e-8;
  c.weight_decay = 0.1;
  c.dss_lr_cap = 1e-3;
  return c;
}

// Worked by hand (element 0 of the decay tensor, then the rest the same way, 40-digit decimals):
// step 1: bias corrections 1 - 0.9 = 0.1, 1 - 0.99 = 0.01; m = 0.1 * 0.5 = 0.05,
//   v = 0.01 * 0.25 = 0.0025; m_hat = 0.5, v_hat = 0.25; m_hat / (sqrt(v_hat) + eps) = 0.99999998;
//   p = 1 - 0.1 * (0.99999998 + 0.1 * 1) = 0.890000002.
// step 2: bias corrections 0.19, 0.0199; m = 0.9 * 0.05 + 0.1 * 0.25 = 0.07,
//   v = 0.99 * 0.0025 + 0.01 * 0.0625 = 0.0031; m_hat = 0.368421052631579,
//   v_hat = 0.155778894472362, sqrt 0.394688351072542; ratio 0.933447978122327;
//   p = 0.890000002 - 0.1 * (0.933447978122327 + 0.0890000002) = 0.787755204167767.
// step 3: bias corrections 0.271, 0.029701; m = 0.013, v = 0.005569; m_hat = 0.0479704797048,
//   v_hat = 0.187502104306252, ratio 0.110782453272322; p = 0.768799406798857.
// no_decay drops the 0.1 * p term; dss uses lr = min(1e-3, 0.1) = 1e-3 and no decay.
struct Expected {
  const char* name;
  double p[3][2];  // after steps 1, 2, 3
};
const Expected kExpected[] = {
    {"w",
     {{0.890000002000000, -1.880000001000000},
      {0.787755204167767, -1.834530058420073},
      {0.768799406798857, -1.802781535149419}}},
    {"norm.g",
     {{0.900000002000000, -1.900000001000000},
      {0.806655204187767, -1.873330058430073},
      {0.795576958860535, -1.859926835743619}}},
    {"gss.lambda_re",
     {{0.999000000020000, -1.999000000010000},
      {0.998066552041878, -1.998733300584301},
      {0.997955769588605, -1.998599268357436}}},
};
// The moments do not depend on p or the group: after step 3, m = [0.013, -0.0235] and
// v = [0.005569, 0.01243225].

template <typename T>
void check_hand_steps(DType real, double tol) {
  TinyModel model = three_groups(real);
  AdamW adamw(model.backend, model.params.table(), hand_config());
  const std::vector<std::vector<T>> grads = {{0.5, -1.0}, {0.25, 0.5}, {-0.5, 0.125}};
  for (const ParamSpec& s : model.specs) model.set<T>(model.params, s.name, {1.0, -2.0});
  for (int t = 1; t <= 3; ++t) {
    for (const ParamSpec& s : model.specs) model.set<T>(model.grads, s.name, grads[t - 1]);
    adamw.step(model.params, model.grads, model.specs, t);
    for (const Expected& e : kExpected) {
      const std::vector<T> p = TinyModel::values<T>(model.params.get(e.name));
      EXPECT_NEAR(p[0], e.p[t - 1][0], tol) << e.name << " step " << t;
      EXPECT_NEAR(p[1], e.p[t - 1][1], tol) << e.name << " step " << t;
    }
  }
  for (const ParamSpec& s : model.specs) {
    const std::vector<T> m = TinyModel::values<T>(adamw.exp_avg(s.name));
    const std::vector<T> v = TinyModel::values<T>(adamw.exp_avg_sq(s.name));
    EXPECT_NEAR(m[0], 0.013, tol);
    EXPECT_NEAR(m[1], -0.0235, tol);
    EXPECT_NEAR(v[0], 0.005569, tol);
    EXPECT_NEAR(v[1], 0.01243225, tol);
  }
}

TEST(AdamW, HandComputedStepsF64) {
  check_hand_steps<double>(DType::f64, 1e-13);
}

TEST(AdamW, HandComputedStepsF32) {
  check_hand_steps<float>(DType::f32, 1e-6);
}

TEST(AdamW, GroupSettings) {
  TinyModel model = three_groups(DType::f64);
  AdamW adamw(model.backend, model.params.table(), hand_config());
  EXPECT_EQ(adamw.group_lr(ParamGroup::decay), 0.1);
  EXPECT_EQ(adamw.group_lr(ParamGroup::no_decay), 0.1);
  EXPECT_EQ(adamw.group_lr(ParamGroup::dss), 1e-3);
  EXPECT_EQ(adamw.group_weight_decay(ParamGroup::decay), 0.1);
  EXPECT_EQ(adamw.group_weight_decay(ParamGroup::no_decay), 0.0);
  EXPECT_EQ(adamw.group_weight_decay(ParamGroup::dss), 0.0);
  // Below the cap the dss group follows lr: it then moves exactly like the no_decay group.
  adamw.set_lr(5e-4);
  EXPECT_EQ(adamw.group_lr(ParamGroup::dss), 5e-4);
  for (const ParamSpec& s : model.specs) {
    model.set<double>(model.params, s.name, {1.0, -2.0});
    model.set<double>(model.grads, s.name, {0.3, 0.7});
  }
  adamw.step(model.params, model.grads, model.specs, 1);
  EXPECT_EQ(TinyModel::values<double>(model.params.get("gss.lambda_re")),
            TinyModel::values<double>(model.params.get("norm.g")));
  // Step 1: m_hat = g, v_hat = g^2, so p moves by lr * 0.3 / (0.3 + eps).
  EXPECT_NEAR(TinyModel::values<double>(model.params.get("norm.g"))[0],
              1.0 - 5e-4 * 0.3 / (0.3 + 1e-8), 1e-15);
}

TEST(AdamW, StateIsOneArenaNamedForCheckpoints) {
  for (DType real : {DType::f32, DType::f64}) {
    TinyModel model = three_groups(real);
    AdamW adamw(model.backend, model.params.table(), hand_config());
    const auto& entries = adamw.state().table().entries();
    ASSERT_EQ(entries.size(), 6u);
    EXPECT_EQ(entries[0].name, "/optim/exp_avg/w");
    EXPECT_EQ(entries[2].name, "/optim/exp_avg/gss.lambda_re");
    EXPECT_EQ(entries[3].name, "/optim/exp_avg_sq/w");
    EXPECT_EQ(entries[5].name, "/optim/exp_avg_sq/gss.lambda_re");
    EXPECT_EQ(adamw.exp_avg_sq("norm.g").data, adamw.state().get("/optim/exp_avg_sq/norm.g").data);
    EXPECT_EQ(adamw.state().bytes(), adamw.state().table().total_bytes());
    for (const Tensor& t : adamw.state().tensors()) {
      EXPECT_EQ(t.dtype, real);
      EXPECT_EQ(t.shape, Shape({2}));
    }
    test::expect_error([&] { (void)adamw.exp_avg("missing"); }, "/optim/exp_avg/missing");
  }
}

TEST(AdamW, RefusesBadArguments) {
  TinyModel model = three_groups(DType::f32);
  auto bad = [&](auto edit, const std::string& fragment) {
    AdamWConfig c = hand_config();
    edit(c);
    test::expect_error([&] { AdamW a(model.backend, model.params.table(), c); }, fragment);
  };
  bad([](AdamWConfig& c) { c.lr = -1e-3; }, "learning rate -0.001 must be finite and >= 0");
  bad([](AdamWConfig& c) { c.beta1 = 1.0; }, "beta1 = 1 must be in [0, 1)");
  bad([](AdamWConfig& c) { c.beta2 = -0.1; }, "beta2 = -0.1 must be in [0, 1)");
  bad([](AdamWConfig& c) { c.eps = 0.0; }, "eps = 0 must be > 0");
  bad([](AdamWConfig& c) { c.weight_decay = -0.1; }, "weight_decay = -0.1 must be >= 0");
  bad([](AdamWConfig& c) { c.dss_lr_cap = 0.0; }, "dss_lr_cap = 0 must be > 0");

  AdamW adamw(model.backend, model.params.table(), hand_config());
  test::expect_error([&] { adamw.set_lr(std::nan("")); }, "must be finite");
  test::expect_error([&] { adamw.step(model.params, model.grads, model.specs, 0); },
                     "step number 0 must be >= 1");
  std::vector<ParamSpec> swapped = model.specs;
  std::swap(swapped[0], swapped[1]);
  test::expect_error([&] { adamw.step(model.params, model.grads, swapped, 1); },
                     "parameter spec 0 is 'norm.g' but parameter 0 is 'w'");
  TinyModel other(DType::f32, {{"w", {3}, ParamGroup::decay}});
  test::expect_error([&] { adamw.step(other.params, model.grads, model.specs, 1); },
                     "the parameter arena holds 1 tensors but the optimiser was made for 3");
  TinyModel f64 = three_groups(DType::f64);
  test::expect_error([&] { adamw.step(model.params, f64.grads, model.specs, 1); },
                     "gradient tensor 0 is 'w' f64[2], but the optimiser was made for 'w' f32[2]");
  test::expect_error(
      [&] {
        AdamW(model.backend, model.params.table(), hand_config(), {{0, 2}, {0, 3}, {0, 0}});
      },
      "owned range [0, 3) is outside 'norm.g' (2 elements)");
  test::expect_error(
      [&] {
        AdamW(model.backend, model.params.table(), hand_config(), {{0, 2}});
      },
      "1 owned ranges for 3 parameters");
}

}  // namespace
}  // namespace pha
