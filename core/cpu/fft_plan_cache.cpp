#include "core/cpu/fft_plan_cache.h"

#include <mutex>

#include "core/error.h"

namespace pha {
namespace {
// FFTW's planner (plan creation and destruction) is global and not thread-safe, so one mutex for
// every cache guards it, and each cache's maps with it.
std::mutex& planner_mutex() {
  static std::mutex mutex;
  return mutex;
}
}  // namespace

FftPlanCache::~FftPlanCache() {
  std::lock_guard<std::mutex> lock(planner_mutex());
  for (auto& [k, p] : r2c_f32_) fftwf_destroy_plan(p);
  for (auto& [k, p] : c2r_f32_) fftwf_destroy_plan(p);
  for (auto& [k, p] : r2c_f64_) fftw_destroy_plan(p);
  for (auto& [k, p] : c2r_f64_) fftw_destroy_plan(p);
}

namespace {
template <typename Map, typename Make>
auto find_or_make(Map& map, const FftPlanCache::Layout& l, void* in, void* out, Make&& make) {
  std::lock_guard<std::mutex> lock(planner_mutex());
  // fftw_alignment_of is the same function for both precisions (it looks at the address only).
  auto key = std::make_tuple(l.n, l.howmany, l.stride, l.dist, l.cstride, l.cdist,
                             fftw_alignment_of(static_cast<double*>(in)),
                             fftw_alignment_of(static_cast<double*>(out)), in == out);
  auto it = map.find(key);
  if (it != map.end()) return it->second;
  auto plan = make();
  PHA_REQUIRE(plan != nullptr, "FFTW could not plan a length-{} transform of {} signals", l.n,
              l.howmany);
  map.emplace(key, plan);
  return plan;
}
}  // namespace

fftwf_plan FftPlanCache::r2c(const Layout& l, float* in, fftwf_complex* out) {
  return find_or_make(r2c_f32_, l, in, out, [&] {
    return fftwf_plan_many_dft_r2c(1, &l.n, l.howmany, in, nullptr, l.stride, l.dist, out, nullptr,
                                   l.cstride, l.cdist, FFTW_ESTIMATE);
  });
}

fftwf_plan FftPlanCache::c2r(const Layout& l, fftwf_complex* in, float* out) {
  return find_or_make(c2r_f32_, l, in, out, [&] {
    return fftwf_plan_many_dft_c2r(1, &l.n, l.howmany, in, nullptr, l.cstride, l.cdist, out,
                                   nullptr, l.stride, l.dist, FFTW_ESTIMATE | FFTW_DESTROY_INPUT);
  });
}

fftw_plan FftPlanCache::r2c(const Layout& l, double* in, fftw_complex* out) {
  return find_or_make(r2c_f64_, l, in, out, [&] {
    return fftw_plan_many_dft_r2c(1, &l.n, l.howmany, in, nullptr, l.stride, l.dist, out, nullptr,
                                  l.cstride, l.cdist, FFTW_ESTIMATE);
  });
}

fftw_plan FftPlanCache::c2r(const Layout& l, fftw_complex* in, double* out) {
  return find_or_make(c2r_f64_, l, in, out, [&] {
    return fftw_plan_many_dft_c2r(1, &l.n, l.howmany, in, nullptr, l.cstride, l.cdist, out, nullptr,
                                  l.stride, l.dist, FFTW_ESTIMATE | FFTW_DESTROY_INPUT);
  });
}

}  // namespace pha
