#pragma once
// What the processor running pha can do: its name, the vector instruction sets the CPU and the
// operating system both support (cpuid + xgetbv), its clock (measured) and from these its
// theoretical f32 FMA peak. The BLAS kernel policy (blas_kernel.h) and the step log's second
// denominator read it.
#include <string>

namespace pha {

struct CpuFeatures {
  std::string model;   // cpuid brand string, e.g. "Intel(R) Xeon(R) Platinum 8480+"
  std::string vendor;  // "GenuineIntel", "AuthenticAMD", ...
  int family = 0;      // display family (base + extended)
  bool avx2 = false, fma = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512_bf16 = false;

  bool has_avx512() const { return avx512f && avx512bw && avx512vl && avx512dq; }
  // The widest vector the CPU's FMA units take: 512 (AVX-512), 256 (AVX2+FMA) or 128 (SSE).
  int vector_bits() const;
  // The width of the FMA datapath: AMD Zen 4 (family 0x19) runs AVX-512 in two 256-bit halves.
  int fma_datapath_bits() const;
  // "avx2 fma avx512f avx512bw avx512vl avx512dq avx512_bf16": the ones present, in this order.
  std::string feature_list() const;
};

// The vector extensions this binary was compiled to use (-march, PHA_NATIVE / PHA_MARCH) that
// the running CPU lacks, e.g. "avx512f avx512bw" for a -march=native build from an AVX-512 login
// node run on an AVX2 compute node; "" when the binary can run here. main() checks it first, so
// the user reads what to do instead of "Illegal instruction".
std::string isa_missing_for_build();
// The -march the binary was compiled with ("native", "x86-64-v3", ...).
const char* build_march();

// Detected once per process (cpuid is cheap, but the answer never changes).
const CpuFeatures& cpu_features();

// The core clock in Hz, measured with a chain of dependent integer adds (one per cycle on every
// x86 core since the Pentium Pro), fastest of 30 runs of ~1 ms, so it is the clock the core runs at
// now (turbo included), not the nominal one. Measured once per process.
double measured_clock_hz();

// Assumption (documented in docs/results.md): two FMA units per core, true of Intel cores since
// Haswell (Xeon Scalable Gold/Platinum for AVX-512) and AMD cores since Zen 2. One-unit parts
// (some Xeon Silver/Bronze, Atom cores) have half the peak printed.
inline constexpr int kFmaUnitsPerCore = 2;

// f32 FLOPs per cycle and core: 2 (multiply + add) x f32 lanes of the FMA datapath x FMA units.
int f32_flops_per_cycle(const CpuFeatures& f);

// The theoretical f32 FMA peak of `cores` cores at the measured clock, in FLOP/s (`cores` may be
// a fraction: a rank's share of an oversubscribed node).
double theoretical_fma_peak(double cores);

// The cores one of `ranks_on_node` ranks running `threads` threads each can use: its threads, but
// no more than its share of the node's hardware threads (4 ranks on 2 cores get half a core each,
// so the summed peak is the node's, not twice it).
double rank_core_share(int threads, int ranks_on_node);

}  // namespace pha
