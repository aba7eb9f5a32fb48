#include "layers/precision.h"

#include "core/error.h"

namespace pha {

Precision Precision::parse(const std::string& name) {
  if (name == "fp32") return Precision(DType::f32);
  if (name == "fp32-copies") {  // a test mode: the mixed-precision path with f32 copies
    Precision p(DType::f32);
    p.separate_copies = true;
    return p;
  }
  if (name == "bf16") return Precision(DType::f32, DType::bf16);
  fail("unknown precision '{}': use fp32 or bf16 (bf16 needs --device cuda)", name);
}

std::string Precision::str() const {
  if (act == DType::bf16) return "bf16";
  if (param == DType::f64) return "f64";
  return separate_copies ? "fp32-copies" : "fp32";
}

}  // namespace pha
