// OpenBLAS must run its threads in pha's OpenMP pool (docs/results.md "One thread pool"): the
// pthreads build keeps a second pool whose spinning threads slowed a 2-thread step 2.5x below
// 1 thread. The build links the OpenMP one when it is installed (PHA_EXPECTED_BLAS_THREADING).
#include <cblas.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <filesystem>
#include <vector>

#include "core/cpu/blas_kernel.h"

extern "C" void openblas_set_num_threads(int);

namespace pha {
namespace {

int process_threads() {
  int n = 0;
  for ([[maybe_unused]] const auto& task : std::filesystem::directory_iterator("/proc/self/task"))
    ++n;
  return n;
}

TEST(BlasThreading, TheBuildLinksTheOpenMpOpenBlas) {
  const std::string expected = PHA_EXPECTED_BLAS_THREADING;
  if (expected.empty())
    GTEST_SKIP() << "CMake found no OpenMP build of OpenBLAS (libopenblas-openmp-dev), so the "
                    "library linked is not checked";
  EXPECT_EQ(blas_threading(), expected);
  EXPECT_EQ(blas_threading_warning(2), "");
}

// The behaviour, not the label: after an OpenMP region of 3 threads and a 3-thread sgemm the
// process has 3 threads (OpenBLAS borrowed the OpenMP pool), where a pthreads OpenBLAS adds its
// own workers.
TEST(BlasThreading, SgemmRunsOnPhasOpenMpThreads) {
  if (blas_threading() != "OpenMP")
    GTEST_SKIP() << "OpenBLAS is the " << blas_threading() << " build here (see the test above)";
  constexpr int kThreads = 3;
  omp_set_num_threads(kThreads);
  int in_region = 0;
#pragma omp parallel
#pragma omp single
  in_region = omp_get_num_threads();
  ASSERT_EQ(in_region, kThreads);
  const int after_region = process_threads();
  openblas_set_num_threads(kThreads);
  const int n = 384;  // large enough that OpenBLAS threads it
  std::vector<float> a(n * n), b(n * n), c(n * n);
  for (long i = 0; i < n * n; ++i) {
    a[i] = static_cast<float>((i * 7919) % 113) / 113.0f - 0.5f;
    b[i] = static_cast<float>((i * 104729) % 97) / 97.0f - 0.5f;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n,
              0.0f, c.data(), n);
  EXPECT_EQ(process_threads(), after_region);
  EXPECT_NE(c[n + 1], 0.0f);
}

}  // namespace
}  // namespace pha
