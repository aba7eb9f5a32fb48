#pragma once
// FFTW plans cached per (precision, direction, length, batch layout, placement). Plans are made
// once, with FFTW_ESTIMATE (which never touches the arrays), and executed with the new-array
// interface (fftw[f]_execute_dft_r2c / _c2r) on the op's buffers. FFTW allows that only on arrays
// of the planning arrays' alignment and placement (in-place or not), so both are part of the key:
// pass the arrays the plan will run on, or arrays laid out alike. Execution is thread-safe;
// planning (these calls) takes one process-wide lock and belongs outside parallel regions.
#include <fftw3.h>

#include <cstdint>
#include <map>
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
  };
  fftwf_plan r2c(const Layout& layout, float* in, fftwf_complex* out);
  fftwf_plan c2r(const Layout& layout, fftwf_complex* in, float* out);
  fftw_plan r2c(const Layout& layout, double* in, fftw_complex* out);
  fftw_plan c2r(const Layout& layout, fftw_complex* in, double* out);

 private:
  // Layout, then fftw_alignment_of of both arrays and whether they are the same array.
  using Key = std::tuple<int, int, int, int, int, int, int, int, bool>;
  std::map<Key, fftwf_plan> r2c_f32_, c2r_f32_;
  std::map<Key, fftw_plan> r2c_f64_, c2r_f64_;
};

}  // namespace pha
