#pragma once
// tanh in f32 as a branch-free rational function, so that loops over it vectorise (glibc's tanhf
// is a scalar call that does not). The [13/6] rational is Eigen's generic_fast_tanh_float: odd
// numerator, even denominator, input clamped to +-7.905311 where tanh(x) rounds to +-1 in f32.
// Error against std::tanh in double, dense sweep over [-10, 10] (tests/core/activations_test.cpp):
// at most 3e-7 absolute, 2.5e-7 relative.
namespace pha {

inline float tanh_rational(float x) {
  constexpr float kClamp = 7.90531110763549805f;
  // Ternaries, not std::clamp: they compile to vector min/max.
  x = x < -kClamp ? -kClamp : x;
  x = x > kClamp ? kClamp : x;
  const float x2 = x * x;
  float p = -2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 - 8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  float q = 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  return x * p / q;
}

}  // namespace pha
