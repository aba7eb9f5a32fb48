// sgemm GFLOP/s of the shapes pha's CPU step multiplies, for one BLAS library and kernel:
// bench/blas_kernels.sh runs it once per OpenBLAS kernel (OPENBLAS_CORETYPE) and once linked to
// BLIS (pha_bench_sgemm_blis), on 1 and 2 threads, and prints the table in docs/results.md.
// One JSON object per shape: {"blas", "kernel", "threads", "shape", "m", "n", "k", "gflops"}.
#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#ifdef PHA_BENCH_BLIS
extern "C" int bli_arch_query_id(void);
extern "C" const char* bli_arch_string(int id);
extern "C" void bli_thread_set_num_threads(int64_t n);
extern "C" const char* bli_info_get_version_str(void);
#else
extern "C" void openblas_set_num_threads(int);
extern "C" char* openblas_get_corename(void);
#endif

namespace {

// C[m,n] (+)= op(A) op(B), row-major, as core/cpu/cpu_matmul.cpp calls it.
struct Shape {
  const char* name;
  int m, n, k;
  bool ta, tb;
};

// The small preset (d 512, d_ff 1536, n_q 8 / n_kv 4, GSS F 768, V 8192) at B*T = 2048 rows and
// pha-125m (d 768, d_ff 2048, F 1024, V 50304 padded) at B*T = 1024 rows: forward (x W), the
// input gradient (dY W^T) and the weight gradient (X^T dY); plus the square probe pha's log uses.
const Shape kShapes[] = {
    {"square 1024^3", 1024, 1024, 1024, false, false},
    {"small qkv x.W", 2048, 1024, 512, false, false},
    {"small ffn-up x.W", 2048, 1536, 512, false, false},
    {"small ffn-down dY.W^T", 2048, 1536, 512, false, true},
    {"small ffn-up X^T.dY", 512, 1536, 2048, true, false},
    {"small gss-in x.W", 2048, 768, 512, false, false},
    {"small head x.E^T", 2048, 8192, 512, false, true},
    {"125m ffn-up x.W", 1024, 2048, 768, false, false},
    {"125m ffn-up X^T.dY", 768, 2048, 1024, true, false},
    {"125m head x.E^T", 1024, 50304, 768, false, true},
};

std::string library() {
#ifdef PHA_BENCH_BLIS
  return fmt::format("BLIS {}", bli_info_get_version_str());
#else
  return "OpenBLAS";
#endif
}

std::string kernel() {
#ifdef PHA_BENCH_BLIS
  return bli_arch_string(bli_arch_query_id());
#else
  return openblas_get_corename();
#endif
}

// Best time of repeated calls within ~`budget` seconds (at least one after the warm-up).
double best_seconds(const Shape& s, std::vector<float>& a, std::vector<float>& b,
                    std::vector<float>& c, double budget) {
  const int lda = s.ta ? s.m : s.k, ldb = s.tb ? s.k : s.n;
  double best = 1e30, spent = 0;
  for (int r = 0; r < 2 || spent < budget; ++r) {
    const auto start = std::chrono::steady_clock::now();
    cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans,
                s.m, s.n, s.k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(), s.n);
    const double t =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (r > 0) best = std::min(best, t);
    spent += t;
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  const double budget = argc > 2 ? std::atof(argv[2]) : 0.3;
  if (threads < 1 || budget <= 0) {
    fmt::print(stderr, "usage: {} [THREADS (1)] [SECONDS PER SHAPE (0.3)]\n", argv[0]);
    return 2;
  }
#ifdef PHA_BENCH_BLIS
  bli_thread_set_num_threads(threads);
#else
  openblas_set_num_threads(threads);
#endif
  for (const Shape& s : kShapes) {
    // Random-ish non-zero inputs (the speed does not depend on the values, denormals aside).
    std::vector<float> a(static_cast<size_t>(s.m) * s.k), b(static_cast<size_t>(s.k) * s.n),
        c(static_cast<size_t>(s.m) * s.n);
    for (size_t i = 0; i < a.size(); ++i) a[i] = 0.5f + static_cast<float>(i % 7) * 0.01f;
    for (size_t i = 0; i < b.size(); ++i) b[i] = 0.25f - static_cast<float>(i % 5) * 0.01f;
    const double seconds = best_seconds(s, a, b, c, budget);
    fmt::print(
        "{{\"blas\":\"{}\",\"kernel\":\"{}\",\"threads\":{},\"shape\":\"{}\",\"m\":{},\"n\":{},"
        "\"k\":{},\"gflops\":{:.1f}}}\n",
        library(), kernel(), threads, s.name, s.m, s.n, s.k,
        2.0 * s.m * static_cast<double>(s.n) * s.k / seconds / 1e9);
  }
  return 0;
}
