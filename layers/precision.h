#pragma once
// Which floating types a model part keeps (mixed precision).
//
//   param: master parameters, their gradients and the optimiser state (f32; f64 for gradient
//          checks). Small parameters (norm gains, D, mixer alpha, the DSS lambda and C) are used
//          in this type directly.
//   act:   activations, backward scratch and the compute copies of the matmul weights (bf16 on
//          the GPU, else the param type). Row statistics (norm rstd/mean, attention and loss
//          log-sum-exp, losses), the DSS kernel and the mixing weights stay in the wider type.
// With act != param, each matmul weight (a 2-D parameter of the decay group) has a compute copy
// that Model::refresh_compute_weights() rewrites from the master after every change.
#include <string>

#include "core/dtype.h"

namespace pha {

struct Precision {
  DType param = DType::f32;
  DType act = DType::f32;
  // Keep compute copies even when act == param: they are then bit-identical to the masters,
  // which lets a CPU test check that every parameter update reaches the copies.
  bool separate_copies = false;

  Precision() = default;
  Precision(DType real) : param(real), act(real) {}  // NOLINT: one type for everything
  Precision(DType param_, DType act_) : param(param_), act(act_) {}

  // Row statistics: f64 with f64 activations, else f32.
  DType stat() const { return act == DType::f64 ? DType::f64 : DType::f32; }
  bool compute_copies() const { return separate_copies || act != param; }
  // The --precision values: "fp32" (everything f32), "bf16" (bf16 compute, f32 master) or
  // "fp32-copies" (a test mode: f32 with separate compute copies, so the CPU runs the
  // mixed-precision code path — refresh, ZeRO's gathers — bit-identical to fp32).
  static Precision parse(const std::string& name);
  std::string str() const;  // "fp32", "fp32-copies", "bf16", "f64"
};

}  // namespace pha
