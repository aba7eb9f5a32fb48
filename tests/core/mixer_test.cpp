// The branch mixer: weights (softmax over branches or identity) and the weighted sum, against
// naive loops and finite differences, with C = 1 (one weight per branch) and C = d (per channel).
#include <cmath>

#include "core/cpu/cpu_backend.h"
#include "tests/test_util.h"

namespace pha::test {
namespace {

template <typename T>
std::vector<Owned<T>> make_branches(int n, Shape s, uint64_t seed) {
  std::vector<Owned<T>> b;
  for (int i = 0; i < n; ++i) b.push_back(random_tensor<T>(s, seed + static_cast<uint64_t>(i)));
  return b;
}

template <typename T>
std::vector<Tensor> views(const std::vector<Owned<T>>& owned) {
  std::vector<Tensor> t;
  for (const auto& o : owned) t.push_back(o.t);
  return t;
}

TEST(Mixer, WeightsForward) {
  CpuBackend be;
  for (int64_t n : {1, 2, 3})
    for (int64_t C : {1, 7}) {
      const auto alpha = random_tensor<double>({n, C}, 1, 2.0);
      Owned<double> w(Shape{n, C});
      be.mixer_weights_forward(alpha, w, false);
      EXPECT_EQ(w.data, alpha.data);
      be.mixer_weights_forward(alpha, w, true);
      for (int64_t c = 0; c < C; ++c) {
        double s = 0;
        for (int64_t i = 0; i < n; ++i) s += std::exp(alpha.data[static_cast<size_t>(i * C + c)]);
        for (int64_t i = 0; i < n; ++i) {
          const size_t k = static_cast<size_t>(i * C + c);
          EXPECT_NEAR(w[k], std::exp(alpha.data[k]) / s, 1e-15) << n << " x " << C;
        }
      }
    }
}

TEST(Mixer, WeightsBackwardMatchesFiniteDifferences) {
  CpuBackend be;
  for (bool normalize : {false, true})
    for (int64_t n : {1, 3})
      for (int64_t C : {1, 7}) {
        auto alpha = random_tensor<double>({n, C}, 2);
        const auto probe = random_tensor<double>({n, C}, 3);
        Owned<double> w(Shape{n, C});
        const auto loss = [&] {
          be.mixer_weights_forward(alpha, w, normalize);
          return probe_loss(w.data, probe.data);
        };
        loss();
        Grad dalpha({n, C}, 4);
        be.mixer_weights_backward(w, probe, dalpha.buf, normalize, false);
        check_gradient(normalize ? "mixer_weights softmax" : "mixer_weights identity", alpha.data,
                       dalpha.added(), loss, 1e-8);
        if (!normalize) continue;
        // The same gradient from w * dloss/dw (what the branches' output projections supply).
        loss();  // w at alpha again (the finite differences left it at a perturbed alpha)
        Owned<double> weighted(Shape{n, C});
        for (size_t k = 0; k < weighted.data.size(); ++k) weighted[k] = w[k] * probe.data[k];
        Grad from_weighted({n, C}, 4);
        be.mixer_weights_backward(w, weighted, from_weighted.buf, true, true);
        const std::vector<double> a = dalpha.added(), b = from_weighted.added();
        for (size_t k = 0; k < a.size(); ++k)
          EXPECT_NEAR(b[k], a[k], 1e-15 * (1 + std::abs(a[k]))) << n << " x " << C << " at " << k;
      }
}

// out += sum of a * b: against a naive double sum, on odd shapes and one that takes the threaded
// path; a second call adds again.
template <typename T>
void check_dot_accumulate(double tol) {
  CpuBackend be;
  for (const Shape& s : {Shape{1}, Shape{13, 7}, Shape{3, 5, 33}, Shape{1001, 67}}) {
    const auto a = random_tensor<T>(s, 21), b = random_tensor<T>(s, 22);
    double expect = 0.375;
    for (size_t k = 0; k < a.data.size(); ++k)
      expect += static_cast<double>(a.data[k]) * static_cast<double>(b.data[k]);
    Owned<T> out(Shape{1, 1});
    out[0] = T(0.375);
    be.dot_accumulate(a, b, out);
    EXPECT_NEAR(static_cast<double>(out[0]), expect, tol * (1 + std::abs(expect))) << s.str();
    be.dot_accumulate(a, b, out);
    EXPECT_NEAR(static_cast<double>(out[0]), 2 * expect - 0.375, 2 * tol * (1 + std::abs(expect)))
        << s.str();
  }
}

TEST(Mixer, DotAccumulate) {
  check_dot_accumulate<double>(1e-13);
  check_dot_accumulate<float>(1e-6);
}

// out += sum_i w[i, c or 0] * branch_i; rows * d = 40000 also takes the threaded path.
template <typename T>
void check_forward(double tol) {
  CpuBackend be;
  for (int n : {1, 2, 3})
    for (const Shape& s : {Shape{1, 1}, Shape{13, 7}, Shape{3, 5, 33}, Shape{1000, 40}})
      for (int64_t C : {int64_t{1}, s.last()}) {
        const int64_t d = s.last();
        const auto branches = make_branches<T>(n, s, 10);
        const auto w = random_tensor<T>({n, C}, 5);
        const auto out0 = random_tensor<T>(s, 6);
        auto out = out0;
        be.mixer_forward(views(branches).data(), n, w, out);
        std::vector<double> expected(out.size());
        for (size_t k = 0; k < out.size(); ++k) {
          expected[k] = out0.data[k];
          const size_t c = C == 1 ? 0 : k % static_cast<size_t>(d);
          for (int i = 0; i < n; ++i)
            expected[k] += double(w.data[static_cast<size_t>(i * C) + c]) *
                           branches[static_cast<size_t>(i)].data[k];
        }
        EXPECT_LE(rel_error(out.data, expected), tol) << "n " << n << " " << s.str() << " C " << C;
      }
}

TEST(Mixer, ForwardF64) {
  check_forward<double>(1e-15);
}
TEST(Mixer, ForwardF32) {
  check_forward<float>(1e-7);
}

// The probe loss is linear in each input, so a large step has no truncation error.
TEST(Mixer, BackwardMatchesFiniteDifferences) {
  CpuBackend be;
  for (int n : {1, 3})
    for (const Shape& s : {Shape{1, 1}, Shape{13, 7}, Shape{3, 5, 33}})
      for (int64_t C : {int64_t{1}, s.last()}) {
        auto branches = make_branches<double>(n, s, 20);
        auto w = random_tensor<double>({n, C}, 7);
        const auto probe = random_tensor<double>(s, 8);
        Owned<double> out(s);
        const auto loss = [&] {
          be.fill(out, 0.0);
          be.mixer_forward(views(branches).data(), n, w, out);
          return probe_loss(out.data, probe.data);
        };
        std::vector<Grad> dbranches;
        for (int i = 0; i < n; ++i) dbranches.emplace_back(s, 30 + static_cast<uint64_t>(i));
        std::vector<Tensor> db;
        for (const Grad& g : dbranches) db.push_back(g.buf.t);
        Grad dw({n, C}, 9);
        be.mixer_backward(probe, views(branches).data(), n, w, db.data(), dw.buf);
        for (int i = 0; i < n; ++i)
          check_gradient("mixer dbranch", branches[static_cast<size_t>(i)].data,
                         dbranches[static_cast<size_t>(i)].added(), loss, 1e-9, 1e-3);
        check_gradient(C == 1 ? "mixer dw (C = 1)" : "mixer dw (C = d)", w.data, dw.added(), loss,
                       1e-9, 1e-3);
        Grad dw_only({n, C}, 9);  // no branch gradients wanted: dw alone, the same values
        be.mixer_backward(probe, views(branches).data(), n, w, nullptr, dw_only.buf);
        EXPECT_EQ(dw_only.added(), dw.added());
        // No dw wanted: the branch outputs are not read (the softmax mixer's blocks keep none).
        std::vector<Grad> db_alone;
        for (int i = 0; i < n; ++i) db_alone.emplace_back(s, 30 + static_cast<uint64_t>(i));
        std::vector<Tensor> db_alone_t;
        for (const Grad& g : db_alone) db_alone_t.push_back(g.buf.t);
        be.mixer_backward(probe, nullptr, n, w, db_alone_t.data(), Tensor());
        for (size_t i = 0; i < db_alone.size(); ++i)
          EXPECT_EQ(db_alone[i].added(), dbranches[i].added()) << "branch " << i;
      }
}

// The threaded paths (rows * d = 40000) against naive double sums, on top of random gradients.
TEST(Mixer, BackwardLarge) {
  CpuBackend be;
  const Shape s{1000, 40};
  const auto branches = make_branches<float>(3, s, 40);
  const auto dout = random_tensor<float>(s, 41);
  for (int64_t C : {1, 40}) {
    const auto w = random_tensor<float>({3, C}, 42);
    const auto dw0 = random_tensor<float>({3, C}, 43);
    auto dw = dw0;
    auto db = make_branches<float>(3, s, 50);
    const auto db0 = db;
    be.mixer_backward(dout, views(branches).data(), 3, w, views(db).data(), dw);
    std::vector<double> e_dw(dw0.data.begin(), dw0.data.end());
    for (size_t i = 0; i < 3; ++i) {
      std::vector<double> e_db(dout.size());
      for (size_t k = 0; k < dout.size(); ++k) {
        const size_t at = i * static_cast<size_t>(C) + (C == 1 ? 0 : k % 40);
        e_dw[at] += double(dout.data[k]) * branches[i].data[k];
        e_db[k] = db0[i].data[k] + double(w.data[at]) * dout.data[k];
      }
      EXPECT_LE(rel_error(db[i].data, e_db), 1e-7) << "branch " << i << " C " << C;
    }
    EXPECT_LE(rel_error(dw.data, e_dw), 1e-7) << "C " << C;
  }
}

TEST(Mixer, RefusesBadInput) {
  CpuBackend be;
  const Shape s{3, 7};
  const auto branches = make_branches<float>(3, s, 1);
  const auto b = views(branches);
  Owned<float> out(s);
  expect_error(
      [&] {
        be.mixer_forward(b.data(), 3, Owned<float>(Shape{3, 5}), out);
      },
      "mixer_forward: w has shape [3, 5], expected [3, 1] or [3, 7]");
  expect_error(
      [&] {
        be.mixer_forward(b.data(), 3, Owned<float>(Shape{2, 1}), out);
      },
      "expected [3, 1] or [3, 7]");
  expect_error([&] { be.mixer_forward(b.data(), 3, Owned<float>(Shape{3}), out); },
               "w has shape [3]");
  expect_error(
      [&] {
        be.mixer_forward(b.data(), 0, Owned<float>(Shape{0, 1}), out);
      },
      "needs at least one branch");
  auto bad = b;
  bad[1] = Owned<float>(Shape{7, 3}).t;
  expect_error(
      [&] {
        be.mixer_forward(bad.data(), 3, Owned<float>(Shape{3, 1}), out);
      },
      "branch 1 has shape [7, 3] but out has shape [3, 7]");
  std::vector<Tensor> dbad(3);
  Owned<float> wrong(Shape{3, 8});
  dbad[2] = wrong.t;
  expect_error(
      [&] {
        be.mixer_backward(out, b.data(), 3, Owned<float>(Shape{3, 1}), dbad.data(), {});
      },
      "mixer_backward: dbranch 2 has shape [3, 8]");
  expect_error(
      [&] {
        be.mixer_backward(out, b.data(), 3, Owned<float>(Shape{3, 1}), nullptr,
                          Owned<float>(Shape{3, 7}));
      },
      "dw has shape [3, 7] but w has shape [3, 1]");
  expect_error(
      [&] { be.mixer_weights_forward(Owned<float>(Shape{3}), Owned<float>(Shape{3}), true); },
      "mixer_weights_forward: alpha must be [n, C] with n >= 1, has shape [3]");
  expect_error(
      [&] {
        be.mixer_weights_backward(Owned<float>(Shape{3, 1}), Owned<float>(Shape{3, 1}),
                                  Owned<double>(Shape{3, 1}), true, false);
      },
      "mixed element types");
  expect_error(
      [&] {
        be.mixer_weights_backward(Owned<float>(Shape{3, 1}), Owned<float>(Shape{3, 1}),
                                  Owned<float>(Shape{3, 1}), false, true);
      },
      "a weighted dw (w * dloss/dw) needs the softmax mixer");
  expect_error(
      [&] {
        be.mixer_backward(out, nullptr, 3, Owned<float>(Shape{3, 1}), nullptr,
                          Owned<float>(Shape{3, 1}));
      },
      "mixer_backward: dw needs the branch outputs");
  expect_error([&] { be.dot_accumulate(out, out, Owned<float>(Shape{2})); },
               "dot_accumulate: out must hold one element, has shape [2]");
  expect_error([&] { be.dot_accumulate(out, wrong, Owned<float>(Shape{1})); }, "dot_accumulate");
}

}  // namespace
}  // namespace pha::test
