#pragma once
// cuFFT plans of the causal convolution, cached per (precision, direction, length, batch) and bound
// to the backend's stream. Every plan is a batched 1-D real transform over signals stored
// time-major: element t of signal j sits at t * batch + j (real side, n rows) and bin f at
// f * batch + j (complex side, n/2 + 1 rows), so the [B, T, H] activations are copied in and out
// row by row, with no transposes. Plans are made on first use of a length; a training step at a
// fixed T makes none after the first.
#include <cuda_runtime_api.h>
#include <cufft.h>

#include <cstdint>
#include <functional>
#include <map>
#include <tuple>
#include <utility>

namespace pha {

class CufftPlans {
 public:
  // on_work_area(bytes) hears of each new plan's work area (cuFFT allocates it), for the
  // backend's memory accounting.
  CufftPlans(cudaStream_t stream, std::function<void(size_t)> on_work_area)
      : stream_(stream), on_work_area_(std::move(on_work_area)) {}
  ~CufftPlans();
  CufftPlans(const CufftPlans&) = delete;
  CufftPlans& operator=(const CufftPlans&) = delete;

  // f64: D2Z / Z2D, else R2C / C2R (fp32). inverse: complex -> real (unnormalised).
  cufftHandle get(bool f64, bool inverse, int64_t n, int64_t batch);

 private:
  cudaStream_t stream_;
  std::function<void(size_t)> on_work_area_;
  std::map<std::tuple<bool, bool, int64_t, int64_t>, cufftHandle> plans_;
};

}  // namespace pha
