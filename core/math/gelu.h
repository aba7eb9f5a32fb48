#pragma once
// GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). One definition for
// the CPU and CUDA backends.
#include <cmath>

#include "core/hd.h"

namespace pha {

template <typename T>
PHA_HD T gelu_value(T x) {
  using std::tanh;  // the float overload on the host (the unqualified C tanh is double)
  const T k = T(0.7978845608028654);  // sqrt(2/pi)
  const T inner = k * (x + T(0.044715) * x * x * x);
  return T(0.5) * x * (T(1) + tanh(inner));
}

// d gelu / dx
template <typename T>
PHA_HD T gelu_grad(T x) {
  using std::tanh;
  const T k = T(0.7978845608028654);
  const T inner = k * (x + T(0.044715) * x * x * x);
  const T th = tanh(inner);
  const T sech2 = T(1) - th * th;
  return T(0.5) * (T(1) + th) + T(0.5) * x * sech2 * k * (T(1) + T(3) * T(0.044715) * x * x);
}

}  // namespace pha
