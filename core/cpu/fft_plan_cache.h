#pragma once
// FFTW plans cached per (precision, direction, length, batch layout). Plans are made once, with
// FFTW_ESTIMATE on scratch arrays of the same alignment, and executed with the new-array
// interface (fftw[f]_execute_dft_r2c / _c2r) on the op's buffers.
#include <fftw3.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <tuple>

namespace pha {

class FftPlanCache {
 public:
  FftPlanCache() = default;
  ~FftPlanCache();
  FftPlanCache(const FftPlanCache&) = delete;
  FftPlanCache& operator=(const FftPlanCache&) = delete;

  // Batched transforms of `howmany` signals of real length n: element i of signal j sits at
  // j * dist + i * stride (real side) and j * cdist + i * cstride (complex side, n/2+1 bins).
  struct Layout {
    int n, howmany, stride, dist, cstride, cdist;
    auto key() const { return std::tie(n, howmany, stride, dist, cstride, cdist); }
  };
  fftwf_plan r2c(const Layout& layout, float* in, fftwf_complex* out);
  fftwf_plan c2r(const Layout& layout, fftwf_complex* in, float* out);
  fftw_plan r2c(const Layout& layout, double* in, fftw_complex* out);
  fftw_plan c2r(const Layout& layout, fftw_complex* in, double* out);

 private:
  using Key = std::tuple<int, int, int, int, int, int>;
  std::mutex mutex_;  // FFTW's planner is not thread-safe
  std::map<Key, fftwf_plan> r2c_f32_, c2r_f32_;
  std::map<Key, fftw_plan> r2c_f64_, c2r_f64_;
};

}  // namespace pha
