#pragma once
// GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). One definition for
// the CPU and CUDA backends; the *_from_tanh forms take tanh(gelu_inner(x)) from the caller, so a
// backend may compute the tanh its own (vectorised) way.
#include <cmath>

#include "core/hd.h"

namespace pha {

// T: the value type; C: the type of the constants, T itself by default, the element type when T
// is a SIMD register (core/cpu/simd.h: a register times a scalar broadcasts it).
// The argument of the tanh.
template <typename T, typename C = T>
PHA_HD T gelu_inner(T x) {
  const C k = C(0.7978845608028654);  // sqrt(2/pi)
  return k * (x + C(0.044715) * x * x * x);
}

template <typename T, typename C = T>
PHA_HD T gelu_value_from_tanh(T x, T th) {
  return C(0.5) * x * (C(1) + th);
}

// d gelu / dx, with th = tanh(gelu_inner(x)).
template <typename T, typename C = T>
PHA_HD T gelu_grad_from_tanh(T x, T th) {
  const C k = C(0.7978845608028654);
  const T sech2 = C(1) - th * th;
  return C(0.5) * (C(1) + th) + C(0.5) * x * sech2 * k * (C(1) + C(3) * C(0.044715) * x * x);
}

template <typename T>
PHA_HD T gelu_value(T x) {
  using std::tanh;  // the float overload on the host (the unqualified C tanh is double)
  return gelu_value_from_tanh(x, tanh(gelu_inner(x)));
}

template <typename T>
PHA_HD T gelu_grad(T x) {
  using std::tanh;
  return gelu_grad_from_tanh(x, tanh(gelu_inner(x)));
}

}  // namespace pha
