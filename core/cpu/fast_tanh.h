#pragma once
// tanh in f32 as a branch-free rational function, on scalars or whole SIMD registers (glibc's
// tanhf is a scalar call; and GCC 12 does not if-convert the clamp of a scalar loop under AVX2,
// so the GELU loops call this on registers themselves). The [13/6] rational is Eigen's
// generic_fast_tanh_float: odd numerator, even denominator, input clamped to +-7.905311 where
// tanh(x) rounds to +-1 in f32. Error against std::tanh in double, dense sweep over [-10, 10]
// (tests/core/activations_test.cpp): at most 3e-7 absolute, 2.5e-7 relative.
namespace pha {

// V: float, or a register of floats (core/cpu/simd.h), where the ternaries are lane blends.
template <typename V>
inline V tanh_rational(V x) {
  const V hi = V{} + 7.90531110763549805f, lo = -hi;
  // Ternaries, not std::clamp: they compile to vector min/max or blends.
  x = x < lo ? lo : x;
  x = x > hi ? hi : x;
  const V x2 = x * x;
  V p = V{} - 2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 - 8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  V q = V{} + 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  // At and beyond the clamp the result is +-1 exactly (tanh(7.905311) is 1 - 2.4e-7): else the
  // quotient's last bits there (0.99999976 or 1, as FMAs fall) would give GELU's derivative
  // 0.5 x k (1 - tanh^2)(...) ~ 3e-5 far out on the negative side, where it is ~0.
  V t = x * p / q;
  t = x >= hi ? V{} + 1.0f : t;
  t = x <= lo ? V{} - 1.0f : t;
  return t;
}

}  // namespace pha
