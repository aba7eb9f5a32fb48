#pragma once
// The mixer weights' backward for one column of w [n, C]: one definition for the CPU and CUDA
// backends. w(j) and g(j) load column entries j = 0..n-1 as doubles.
//   scalar (w = alpha):            dalpha_i = g_i
//   softmax, g = dloss/dw:         dalpha_i = w_i (g_i - sum_j w_j g_j)
//   softmax, g = w * dloss/dw:     dalpha_i = g_i - w_i sum_j g_j   (`weighted`)
// The weighted form is what a softmax mixer gets when its branches' output projections supply
// w_i <dout, branch_i> = <d o_i, o_i> instead of the mixer reading the branch outputs (model.md,
// "The mixer without its branch outputs"): the same gradient with no division by w_i.
#include <cstdint>

#include "core/hd.h"

namespace pha {

template <typename LoadW, typename LoadG>
PHA_HD double mixer_alpha_gradient(LoadW w, LoadG g, int64_t n, int64_t i, bool normalize,
                                   bool weighted) {
  if (!normalize) return g(i);
  double sum = 0;
  for (int64_t j = 0; j < n; ++j) sum += weighted ? g(j) : w(j) * g(j);
  return weighted ? g(i) - w(i) * sum : w(i) * (g(i) - sum);
}

}  // namespace pha
