#pragma once
// The AdamW update of one element (Loshchilov & Hutter, decoupled weight decay). One definition
// for the CPU loop and the CUDA kernel:
//   m = beta1 m + (1 - beta1) g
//   v = beta2 v + (1 - beta2) g^2
//   p -= lr (m_hat / (sqrt(v_hat) + eps) + wd p),  m_hat = m / (1 - beta1^t), v_hat = v / (1 -
//   beta2^t)
// The decay term uses p before the update, which equals PyTorch's p *= 1 - lr wd followed by the
// Adam step.
#include <cmath>

#include "core/hd.h"

namespace pha {

// The scalars of one step for one parameter group, in the compute type T (the parameters' type).
template <typename T>
struct AdamWScalars {
  T lr, beta1, beta2, eps, weight_decay;
  T bias_correction1;  // 1 - beta1^t
  T bias_correction2;  // 1 - beta2^t
};

template <typename T>
PHA_HD void adamw_update(T& param, T grad, T& exp_avg, T& exp_avg_sq, const AdamWScalars<T>& s) {
  using std::sqrt;  // float stays float on the host (the unqualified C sqrt takes double)
  exp_avg = s.beta1 * exp_avg + (T(1) - s.beta1) * grad;
  exp_avg_sq = s.beta2 * exp_avg_sq + (T(1) - s.beta2) * grad * grad;
  const T m_hat = exp_avg / s.bias_correction1;
  const T v_hat = exp_avg_sq / s.bias_correction2;
  param -= s.lr * (m_hat / (sqrt(v_hat) + s.eps) + s.weight_decay * param);
}

}  // namespace pha
