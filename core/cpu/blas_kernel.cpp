#include "core/cpu/blas_kernel.h"

#include <fmt/format.h>
#include <strings.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

extern "C" char* openblas_get_corename(void);
extern "C" char* openblas_get_config(void);
extern "C" int openblas_get_parallel(void);

namespace pha {

namespace {

// Set in the environment of the re-executed process: "<kernel before>-><kernel asked for>".
constexpr const char* kReexecMarker = "PHA_BLAS_REEXEC";

struct KernelWidth {
  const char* name;
  int bits;
  int rank;  // for pha's step, higher is faster (docs/results.md); SkylakeX beats Cooperlake
};
// OpenBLAS 0.3.21's x86-64 core names (DYNAMIC_ARCH), their vector width and preference.
constexpr KernelWidth kKernels[] = {
    {"Prescott", 128, 0},    {"Core2", 128, 0},     {"Penryn", 128, 0},     {"Dunnington", 128, 0},
    {"Nehalem", 128, 0},     {"Atom", 128, 0},      {"Barcelona", 128, 0},  {"Opteron", 128, 0},
    {"Sandybridge", 256, 1}, {"Bulldozer", 256, 1}, {"Piledriver", 256, 1}, {"Steamroller", 256, 1},
    {"Excavator", 256, 1},   {"Haswell", 256, 2},   {"Zen", 256, 2},        {"Cooperlake", 512, 3},
    {"SkylakeX", 512, 4},
};

const KernelWidth* find_kernel(const std::string& name) {
  for (const auto& k : kKernels)
    if (strcasecmp(k.name, name.c_str()) == 0) return &k;
  return nullptr;
}

std::string known_kernels() {
  std::string s;
  for (const auto& k : kKernels) s += (s.empty() ? "" : ", ") + std::string(k.name);
  return s;
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

// What the header prints (set by apply_blas_kernel_policy).
std::string& choice_note() {
  static std::string note = "PHA_BLAS_CORETYPE not applied (pha_bench_* and tests keep the kernel)";
  return note;
}

// Replaces this process by itself with OPENBLAS_CORETYPE=kernel. Returns only if exec fails.
void reexec_with(const std::string& kernel, const std::string& before, char** argv) {
  setenv("OPENBLAS_CORETYPE", kernel.c_str(), 1);
  setenv(kReexecMarker, (before + "->" + kernel).c_str(), 1);
  execv("/proc/self/exe", argv);
  choice_note() = fmt::format("could not re-execute with OPENBLAS_CORETYPE={} ({}); kept {}",
                              kernel, std::strerror(errno), before);
  unsetenv(kReexecMarker);
}

}  // namespace

std::string blas_kernel_name() {
  return openblas_get_corename();
}

std::string blas_library() {
  return openblas_get_config();
}

std::string blas_threading() {
  switch (openblas_get_parallel()) {
    case 0:
      return "sequential";
    case 1:
      return "pthreads";
    default:
      return "OpenMP";
  }
}

std::string blas_threading_warning(int threads) {
  if (threads <= 1 || blas_threading() != "pthreads") return "";
  return fmt::format(
      "warning: OpenBLAS runs its own pthreads pool beside pha's {} OpenMP threads; they contend "
      "for the cores (a 2-thread tiny step ran 3.6x slower than with OpenBLAS's OpenMP build, "
      "docs/results.md): install "
      "libopenblas-openmp-dev and rebuild",
      threads);
}

std::string best_blas_kernel(const CpuFeatures& cpu) {
  // SkylakeX, not Cooperlake, even on AVX512_BF16 processors (where OpenBLAS picks Cooperlake
  // itself): a whole training step ran 1.4x faster with it (docs/results.md).
  if (cpu.has_avx512()) return "SkylakeX";
  if (cpu.avx2 && cpu.fma) return "Haswell";
  return "";
}

void apply_blas_kernel_policy(char** argv) {
  const std::string policy = env_or("PHA_BLAS_CORETYPE", "auto");
  const std::string current = blas_kernel_name();
  const CpuFeatures& cpu = cpu_features();
  const std::string best = best_blas_kernel(cpu);
  if (const char* marker = std::getenv(kReexecMarker)) {
    // The second run: report what the first one did, and whether OpenBLAS took it.
    const std::string what = marker;
    unsetenv(kReexecMarker);
    const std::string asked = what.substr(what.find("->") + 2);
    choice_note() =
        strcasecmp(asked.c_str(), current.c_str()) == 0
            ? fmt::format("PHA_BLAS_CORETYPE={}: re-executed with OPENBLAS_CORETYPE={} (was {})",
                          policy, asked, what.substr(0, what.find("->")))
            : fmt::format(
                  "PHA_BLAS_CORETYPE={}: OPENBLAS_CORETYPE={} was not accepted by this "
                  "OpenBLAS, which runs {}",
                  policy, asked, current);
    return;
  }
  const bool user_set = !env_or("OPENBLAS_CORETYPE", "").empty();
  // A kernel this table does not know (a newer OpenBLAS's) is left alone.
  const KernelWidth* now = find_kernel(current);
  const bool slower = !best.empty() && now && now->rank < find_kernel(best)->rank;
  if (policy == "keep") {
    choice_note() = "PHA_BLAS_CORETYPE=keep: the kernel OpenBLAS runs is left as is";
  } else if (policy == "auto") {
    if (!slower) {
      choice_note() =
          now ? fmt::format("PHA_BLAS_CORETYPE=auto: {} is the fastest kernel here", current)
              : fmt::format(
                    "PHA_BLAS_CORETYPE=auto: {} is not in pha's table of "
                    "OpenBLAS kernels (a newer OpenBLAS?): kept",
                    current);
    } else if (user_set) {
      choice_note() = fmt::format(
          "PHA_BLAS_CORETYPE=auto: OPENBLAS_CORETYPE={} from the environment is kept; {} would "
          "be faster here (unset OPENBLAS_CORETYPE, or set PHA_BLAS_CORETYPE=best)",
          env_or("OPENBLAS_CORETYPE", ""), best);
    } else {
      reexec_with(best, current, argv);
    }
  } else {
    // best keeps a kernel of the best one's class (Zen on AMD, where OpenBLAS picks it, runs the
    // same sgemm as Haswell: 92-94 GFLOP/s each on one Zen 3 core, docs/results.md).
    const bool best_class = !best.empty() && now && now->rank == find_kernel(best)->rank;
    const std::string wanted =
        policy == "best" ? (best.empty() || best_class ? current : best) : policy;
    const KernelWidth* k = find_kernel(wanted);
    PHA_REQUIRE(k,
                "PHA_BLAS_CORETYPE={} is not a policy (auto, best, keep) nor an OpenBLAS core "
                "name ({}): fix the environment variable",
                policy, known_kernels());
    PHA_REQUIRE(k->bits <= cpu.vector_bits(),
                "PHA_BLAS_CORETYPE={}: the {} kernel needs {}-bit vectors and this CPU ({}) has "
                "{}-bit ones: choose {} or 'auto'",
                policy, k->name, k->bits, cpu.model, cpu.vector_bits(),
                best.empty() ? "Prescott" : best);
    if (strcasecmp(k->name, current.c_str()) == 0)
      choice_note() = fmt::format("PHA_BLAS_CORETYPE={}: {} already runs", policy, current);
    else
      reexec_with(k->name, current, argv);
  }
}

std::string blas_kernel_choice() {
  return choice_note();
}

}  // namespace pha
