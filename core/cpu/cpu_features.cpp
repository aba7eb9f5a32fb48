#include "core/cpu/cpu_features.h"

#include <cpuid.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>

namespace pha {

namespace {

bool bit(unsigned reg, int n) {
  return (reg >> n) & 1u;
}

// The register state the OS saves on a context switch (XCR0): without it the instructions fault.
uint64_t xcr0() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
  const unsigned max_leaf = a;
  char vendor[13] = {};
  std::memcpy(vendor, &b, 4);
  std::memcpy(vendor + 4, &d, 4);
  std::memcpy(vendor + 8, &c, 4);
  f.vendor = vendor;
  __get_cpuid(1, &a, &b, &c, &d);
  const unsigned base_family = (a >> 8) & 0xf;
  f.family = static_cast<int>(base_family == 0xf ? base_family + ((a >> 20) & 0xff) : base_family);
  const bool osxsave = bit(c, 27);
  const uint64_t xcr = osxsave ? xcr0() : 0;
  const bool os_avx = (xcr & 0x6) == 0x6;                 // XMM and YMM state
  const bool os_avx512 = os_avx && (xcr & 0xe0) == 0xe0;  // opmask, ZMM0-15 high, ZMM16-31
  f.fma = os_avx && bit(c, 12);
  if (max_leaf >= 7) {
    __get_cpuid_count(7, 0, &a, &b, &c, &d);
    f.avx2 = os_avx && bit(b, 5);
    f.avx512f = os_avx512 && bit(b, 16);
    f.avx512dq = os_avx512 && bit(b, 17);
    f.avx512bw = os_avx512 && bit(b, 30);
    f.avx512vl = os_avx512 && bit(b, 31);
    __get_cpuid_count(7, 1, &a, &b, &c, &d);
    f.avx512_bf16 = f.avx512f && bit(a, 5);
  }
  if (__get_cpuid(0x80000000, &a, &b, &c, &d) && a >= 0x80000004) {
    char brand[49] = {};
    for (unsigned leaf = 0; leaf < 3; ++leaf) {
      __get_cpuid(0x80000002 + leaf, &a, &b, &c, &d);
      std::memcpy(brand + 16 * leaf, &a, 4);
      std::memcpy(brand + 16 * leaf + 4, &b, 4);
      std::memcpy(brand + 16 * leaf + 8, &c, 4);
      std::memcpy(brand + 16 * leaf + 12, &d, 4);
    }
    f.model = brand;
    const auto first = f.model.find_first_not_of(' ');
    const auto last = f.model.find_last_not_of(' ');
    f.model = first == std::string::npos ? "" : f.model.substr(first, last - first + 1);
  }
  if (f.model.empty()) f.model = f.vendor;
  return f;
}

}  // namespace

int CpuFeatures::vector_bits() const {
  if (has_avx512()) return 512;
  if (avx2 && fma) return 256;
  return 128;
}

int CpuFeatures::fma_datapath_bits() const {
  if (vector_bits() == 512 && vendor == "AuthenticAMD" && family == 0x19) return 256;
  return vector_bits();
}

std::string CpuFeatures::feature_list() const {
  std::string s;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  add(avx2, "avx2");
  add(fma, "fma");
  add(avx512f, "avx512f");
  add(avx512bw, "avx512bw");
  add(avx512vl, "avx512vl");
  add(avx512dq, "avx512dq");
  add(avx512_bf16, "avx512_bf16");
  return s.empty() ? "sse only" : s;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

double measured_clock_hz() {
  static const double hz = [] {
    // 64 dependent register adds per iteration (a register, not an immediate: some cores fold
    // immediate adds at rename); the loop's own increment and branch run beside them.
    constexpr int64_t kAddsPerIteration = 64;
    auto run = [](int64_t iterations) {
      uint64_t x = 0, one = 1;
      const auto start = std::chrono::steady_clock::now();
      for (int64_t i = 0; i < iterations; ++i)
        __asm__ volatile(".rept 64\n\tadd %1, %0\n\t.endr" : "+r"(x) : "r"(one));
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    run(100000);  // wakes the core from a low-power state
    // ~1 ms runs, the fastest of 30: on a shared machine most runs lose time slices to other
    // processes, the fastest does not (measured here: 4.3-4.5 GHz best, 0.7 GHz worst).
    const int64_t iterations = 60000;
    double best = 1e30;
    for (int r = 0; r < 30; ++r) best = std::min(best, run(iterations));
    return static_cast<double>(iterations * kAddsPerIteration) / best;
  }();
  return hz;
}

std::string isa_missing_for_build() {
  [[maybe_unused]] const CpuFeatures& f = cpu_features();
  std::string missing;
  [[maybe_unused]] auto need = [&](bool have, const char* name) {
    if (have) return;
    if (!missing.empty()) missing += ' ';
    missing += name;
  };
#ifdef __AVX2__
  need(f.avx2, "avx2");
#endif
#ifdef __FMA__
  need(f.fma, "fma");
#endif
#ifdef __AVX512F__
  need(f.avx512f, "avx512f");
#endif
#ifdef __AVX512BW__
  need(f.avx512bw, "avx512bw");
#endif
#ifdef __AVX512VL__
  need(f.avx512vl, "avx512vl");
#endif
#ifdef __AVX512DQ__
  need(f.avx512dq, "avx512dq");
#endif
#ifdef __AVX512BF16__
  need(f.avx512_bf16, "avx512_bf16");
#endif
  return missing;
}

const char* build_march() {
  return PHA_BUILD_MARCH;
}

int f32_flops_per_cycle(const CpuFeatures& f) {
  const int lanes = f.fma_datapath_bits() / 32;
  return (f.fma || f.vector_bits() == 512 ? 2 : 1) * lanes * kFmaUnitsPerCore;
}

double theoretical_fma_peak(double cores) {
  return cores * measured_clock_hz() * static_cast<double>(f32_flops_per_cycle(cpu_features()));
}

double rank_core_share(int threads, int ranks_on_node) {
  const unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
  return std::min(static_cast<double>(threads),
                  static_cast<double>(hardware) / std::max(1, ranks_on_node));
}

}  // namespace pha
