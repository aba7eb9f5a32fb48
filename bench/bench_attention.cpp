// CPU attention forward and backward alone, for one shape: prints one JSON object with the median
// wall and CPU seconds per call and the GFLOP/s of each (the FLOP count of ProfilingBackend:
// 2 and 5 matmuls over the visible (query, key) pairs) per wall second and per CPU second (the
// latter moves less with the load of a shared machine). On a shared machine compare two builds by
// alternating their runs in one script (docs/results.md, "CPU attention and cross-entropy
// kernels"); the shape defaults to the small preset's layer at T 512, B 4.
#include <fmt/format.h>
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <iostream>
#include <vector>

#include "core/cpu/cpu_backend.h"
#include "core/philox.h"
#include "core/profiling_backend.h"

extern "C" void openblas_set_num_threads(int);

namespace po = boost::program_options;

namespace {

double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// Normal-ish values in [-1, 1) from Philox (stream `seed`).
void fill_random(std::vector<float>& x, uint64_t seed) {
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<float>(pha::philox_block(seed, 0, i).v[0] % 20001) / 10000.0f - 1.0f;
}

struct Timing {
  double wall = 0, cpu = 0;
};

// Median wall and CPU seconds of `reps` calls of fn.
template <typename Fn>
Timing median_timing(int64_t reps, Fn&& fn) {
  std::vector<double> wall, cpu;
  for (int64_t r = 0; r < reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = process_cpu_seconds();
    fn();
    cpu.push_back(process_cpu_seconds() - cpu_start);
    wall.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  return {wall[wall.size() / 2], cpu[cpu.size() / 2]};
}

}  // namespace

int main(int argc, char** argv) {
  int64_t batch = 4, seq = 512, n_q = 8, n_kv = 4, d_h = 64, window = 0, threads = 1, reps = 9;
  po::options_description opts("pha_bench_attention [options]");
  opts.add_options()("help,h", "print this help")("batch", po::value(&batch), "B")(
      "seq", po::value(&seq), "T")("n_q", po::value(&n_q), "query heads")(
      "n_kv", po::value(&n_kv), "key/value heads")("d_h", po::value(&d_h), "head dimension")(
      "window", po::value(&window), "attention window (0: full causal)")(
      "threads", po::value(&threads), "OpenMP threads")("reps", po::value(&reps),
                                                        "timed calls of each op (median)");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, opts), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << opts;
    return 0;
  }
  omp_set_num_threads(static_cast<int>(threads));
  openblas_set_num_threads(1);
  const pha::Shape q_shape{batch, seq, n_q, d_h}, kv_shape{batch, seq, n_kv, d_h},
      lse_shape{batch, n_q, seq};
  auto n = [](const pha::Shape& s) { return static_cast<size_t>(s.numel()); };
  std::vector<float> q(n(q_shape)), k(n(kv_shape)), v(n(kv_shape)), dout(n(q_shape)),
      out(n(q_shape)), lse(n(lse_shape)), dq(n(q_shape)), dk(n(kv_shape)), dv(n(kv_shape));
  fill_random(q, 1);
  fill_random(k, 2);
  fill_random(v, 3);
  fill_random(dout, 4);
  auto view = [](std::vector<float>& x, const pha::Shape& s) {
    return pha::Tensor(x.data(), pha::DType::f32, pha::Device::cpu, s);
  };
  const pha::Tensor tq = view(q, q_shape), tk = view(k, kv_shape), tv = view(v, kv_shape),
                    tdout = view(dout, q_shape), tout = view(out, q_shape),
                    tlse = view(lse, lse_shape), tdq = view(dq, q_shape), tdk = view(dk, kv_shape),
                    tdv = view(dv, kv_shape);
  pha::CpuBackend cpu;
  auto forward = [&] { cpu.attention_forward(tq, tk, tv, tout, tlse, window); };
  auto backward = [&] {
    cpu.attention_backward(tdout, tq, tk, tv, tout, tlse, tdq, tdk, tdv, window);
  };
  forward();  // warm-up: the scratch grows
  backward();
  const Timing f = median_timing(reps, forward), b = median_timing(reps, backward);
  const double f_flops = pha::attention_flops(tq, window, false),
               b_flops = pha::attention_flops(tq, window, true);
  fmt::print(
      "{{\"B\":{},\"T\":{},\"n_q\":{},\"n_kv\":{},\"d_h\":{},\"window\":{},\"threads\":{},"
      "\"forward_s\":{:.5f},\"forward_cpu_s\":{:.5f},\"forward_gflops\":{:.1f},"
      "\"forward_gflops_per_cpu_s\":{:.1f},\"backward_s\":{:.5f},\"backward_cpu_s\":{:.5f},"
      "\"backward_gflops\":{:.1f},\"backward_gflops_per_cpu_s\":{:.1f}}}\n",
      batch, seq, n_q, n_kv, d_h, window, threads, f.wall, f.cpu, f_flops / f.wall * 1e-9,
      f_flops / f.cpu * 1e-9, b.wall, b.cpu, b_flops / b.wall * 1e-9, b_flops / b.cpu * 1e-9);
  return 0;
}
