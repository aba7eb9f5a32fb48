#pragma once
// Test helpers: owned host tensors filled from Philox, and a central finite-difference checker.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <vector>

#include "core/philox.h"
#include "core/tensor.h"

namespace pha::test {

// A host tensor that owns its storage (tests only; the program uses arenas).
template <typename T>
struct Owned {
  std::vector<T> data;
  Tensor t;
  Owned() = default;
  explicit Owned(Shape shape) : data(static_cast<size_t>(shape.numel())) {
    t = Tensor(data.data(), DTypeOf<T>::value, Device::cpu, shape);
  }
  Owned(const Owned& o) : data(o.data), t(o.t) { t.data = data.data(); }
  Owned& operator=(const Owned& o) {
    data = o.data;
    t = o.t;
    t.data = data.data();
    return *this;
  }
  T& operator[](size_t i) { return data[i]; }
  size_t size() const { return data.size(); }
  operator const Tensor&() const { return t; }
};

// Fills with normal(0, stddev) + mean from (seed, stream) — never zeros.
template <typename T>
Owned<T> random_tensor(Shape shape, uint64_t seed, double stddev = 1.0, double mean = 0.0) {
  Owned<T> o(shape);
  for (size_t i = 0; i < o.size(); ++i)
    o.data[i] = static_cast<T>(mean + stddev * philox_normal(seed, 7, i));
  return o;
}

inline Owned<int32_t> random_tokens(Shape shape, int32_t vocab, uint64_t seed) {
  Owned<int32_t> o(shape);
  for (size_t i = 0; i < o.size(); ++i)
    o.data[i] = static_cast<int32_t>(philox_block(seed, 11, i).v[0] % static_cast<uint32_t>(vocab));
  return o;
}

// A gradient buffer pre-filled with random values (backward ops accumulate); added() returns what
// a backward put on top of them.
struct Grad {
  Owned<double> buf;
  std::vector<double> before;
  Grad(Shape shape, uint64_t seed) : buf(random_tensor<double>(shape, seed)), before(buf.data) {}
  std::vector<double> added() const {
    std::vector<double> g(before.size());
    for (size_t i = 0; i < g.size(); ++i) g[i] = buf.data[i] - before[i];
    return g;
  }
};

// Norm-wise relative error ||a - b|| / ||b||.
template <typename A, typename B>
double rel_error(const std::vector<A>& a, const std::vector<B>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    num += d * d;
    den += static_cast<double>(b[i]) * static_cast<double>(b[i]);
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-300);
}

// Central finite differences of `loss` with respect to every element of `input` (or at most
// `max_points` of them, evenly spread), compared with `analytic`. Prints the measured norm-wise
// relative error and the tolerance, and fails the test if the error exceeds the tolerance.
inline void check_gradient(const char* what, std::vector<double>& input,
                           const std::vector<double>& analytic, const std::function<double()>& loss,
                           double tol = 1e-6, double step = 1e-6, size_t max_points = 400) {
  ASSERT_EQ(input.size(), analytic.size()) << what;
  const size_t n = input.size();
  const size_t stride = n > max_points ? (n + max_points - 1) / max_points : 1;
  std::vector<double> numeric, picked;
  for (size_t i = 0; i < n; i += stride) {
    const double saved = input[i];
    input[i] = saved + step;
    const double up = loss();
    input[i] = saved - step;
    const double down = loss();
    input[i] = saved;
    numeric.push_back((up - down) / (2 * step));
    picked.push_back(analytic[i]);
  }
  const double err = rel_error(picked, numeric);
  std::printf("  grad check %-28s points %5zu  rel error %.3e  (tol %.1e)\n", what, numeric.size(),
              err, tol);
  EXPECT_LE(err, tol) << what;
}

// sum_i probe[i] * out[i]: a scalar loss with a random upstream gradient `probe`.
inline double probe_loss(const std::vector<double>& out, const std::vector<double>& probe) {
  double s = 0;
  for (size_t i = 0; i < out.size(); ++i) s += out[i] * probe[i];
  return s;
}

// Expects `fn` to throw pha::Error whose message contains `fragment`.
template <typename Fn>
void expect_error(Fn&& fn, const std::string& fragment) {
  try {
    fn();
    ADD_FAILURE() << "expected an error containing '" << fragment << "'";
  } catch (const pha::Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
        << "message was: " << e.what();
  }
}

}  // namespace pha::test
