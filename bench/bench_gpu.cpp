// Training-step throughput on the GPU: tokens/s of forward+backward, model FLOP/s, MFU against
// the measured bf16 and f32 matmul peaks, and peak device memory.
//
//   pha_bench_gpu [--device cuda|cpu] [--preset P] [--block B] [--seq T] [--batch B] [--steps N]
//                 [--warmup N] [--peak-n N]                  one configuration: one JSON line
//   pha_bench_gpu --sweep [--tokens N] [--steps N] [--time-budget-s S]
//       T in {1024, 4096, 8192} x {serial-125m, pha-125m}, B = max(1, tokens / T): one table with
//       the PHA/serial ratios of tokens/s and peak memory at each T. A configuration that does
//       not fit the GPU, or that would start after the time budget, is listed as skipped with why.
//
// --device cpu runs the same code on the CPU backend (small presets; checks the bench itself).
// Own option parser: the GPU machines have no Boost.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "bench/train_step_bench.h"
#include "core/error.h"
#include "layers/precision.h"

namespace pha::bench {
namespace {

// ---- options: --name value (or a bare --flag for a bool) ----
struct Option {
  const char* name;
  std::variant<std::string*, int64_t*, bool*> target;
  const char* help;
};

void print_help(const std::vector<Option>& options) {
  std::printf("pha_bench_gpu [options]\n");
  for (const Option& o : options) std::printf("  --%-16s %s\n", o.name, o.help);
}

// Returns false when --help was given.
bool parse(int argc, char** argv, const std::vector<Option>& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      print_help(options);
      return false;
    }
    const Option* o = nullptr;
    for (const Option& candidate : options)
      if (arg == std::string("--") + candidate.name) o = &candidate;
    PHA_REQUIRE(o, "unknown option '{}' (see --help)", arg);
    if (bool* const* flag = std::get_if<bool*>(&o->target)) {
      **flag = true;
      continue;
    }
    PHA_REQUIRE(i + 1 < argc, "option {} needs a value", arg);
    const std::string value = argv[++i];
    if (std::string* const* s = std::get_if<std::string*>(&o->target)) {
      **s = value;
    } else {
      char* end = nullptr;
      const long long v = std::strtoll(value.c_str(), &end, 10);
      PHA_REQUIRE(end && *end == '\0' && !value.empty(), "option {}: '{}' is not an integer", arg,
                  value);
      *std::get<int64_t*>(o->target) = v;
    }
  }
  return true;
}

Device parse_device(const std::string& name) {
  if (name == "cuda") return Device::cuda;
  if (name == "cpu") return Device::cpu;
  fail("--device '{}' is unknown; use cuda or cpu", name);
}

// ---- one configuration ----
void print_json(const StepBenchConfig& c, const StepBenchResult& r, const MatmulPeaks& peak) {
  fmt::print(
      "{{\"device\":\"{}\",\"preset\":\"{}\",\"block\":\"{}\",\"precision\":\"{}\",\"T\":{},\"B\":{"
      "},"
      "\"steps\":{},\"parameters\":{},\"loss\":{:.4f},\"seconds_per_step\":{:.4f},"
      "\"tokens_per_s\":{:.1f},\"model_tflops\":{:.4g},\"peak_bf16_tflops\":{:.4g},"
      "\"peak_f32_tflops\":{:.4g},\"mfu_bf16\":{:.4f},\"mfu_f32\":{:.4f},\"peak_memory_mib\":{:.1f}"
      ","
      "\"planned_mib\":{:.1f}}}\n",
      device_name(c.device), c.preset, c.block.empty() ? "preset" : c.block, c.precision, c.seq_len,
      c.batch, c.steps, r.parameters, r.loss, r.seconds_per_step, r.tokens_per_s,
      r.model_flops_per_s / 1e12, peak.bf16 / 1e12, peak.f32 / 1e12,
      peak.bf16 > 0 ? r.model_flops_per_s / peak.bf16 : 0.0, r.model_flops_per_s / peak.f32,
      r.peak_mib, r.planned_mib);
}

// ---- the sweep ----
struct Row {
  int64_t seq_len = 0, batch = 0;
  std::string variant;
  std::string skipped;  // why it did not run; empty when it ran
  StepBenchResult r;
};

// Runs c, or says why not: past the time budget, out of GPU memory, or another error (which
// `failed` records, so the run's exit status reports it after the table).
Row sweep_row(const StepBenchConfig& c, double seconds_left, bool& failed) {
  Row row{c.seq_len, c.batch, c.preset, "", {}};
  if (seconds_left <= 0) {
    row.skipped = "skipped: time budget spent";
    return row;
  }
  try {
    row.r = run_step_bench(c);
  } catch (const Error& e) {
    const std::string what = e.what();
    const bool oom = what.find("out of GPU memory") != std::string::npos;
    row.skipped = (oom ? "skipped, does not fit: " : "FAILED: ") + what;
    failed = failed || !oom;
  }
  return row;
}

std::string ratio(const Row& pha, const Row* serial, double StepBenchResult::*field) {
  if (!serial || !pha.skipped.empty() || !serial->skipped.empty()) return "-";
  return fmt::format("{:.2f}", pha.r.*field / serial->r.*field);
}

void print_table(const std::vector<Row>& rows, const std::string& precision,
                 const MatmulPeaks& peak) {
  fmt::print(
      "\nforward+backward, {} model; MFU against the measured matmul peaks: bf16 {:.1f}, "
      "f32 {:.1f} TFLOP/s\n",
      precision, peak.bf16 / 1e12, peak.f32 / 1e12);
  fmt::print("{:>5} {:<12} {:>3} {:>10} {:>8} {:>9} {:>8} {:>10} {:>12} {:>12}\n", "T", "variant",
             "B", "tokens/s", "TFLOP/s", "MFU bf16", "MFU f32", "peak MiB", "tok/s ratio",
             "mem ratio");
  for (const Row& row : rows) {
    if (!row.skipped.empty()) {
      fmt::print("{:>5} {:<12} {:>3} {}\n", row.seq_len, row.variant, row.batch, row.skipped);
      continue;
    }
    const Row* serial = nullptr;  // the serial row at the same T, for the PHA/serial ratios
    for (const Row& other : rows)
      if (other.seq_len == row.seq_len && other.variant.rfind("serial", 0) == 0) serial = &other;
    const bool is_pha = row.variant.rfind("pha", 0) == 0;
    const double tflops = row.r.model_flops_per_s / 1e12;
    fmt::print("{:>5} {:<12} {:>3} {:>10.0f} {:>8.2f} {:>9.3f} {:>8.3f} {:>10.0f} {:>12} {:>12}\n",
               row.seq_len, row.variant, row.batch, row.r.tokens_per_s, tflops,
               peak.bf16 > 0 ? row.r.model_flops_per_s / peak.bf16 : 0.0,
               row.r.model_flops_per_s / peak.f32, row.r.peak_mib,
               is_pha ? ratio(row, serial, &StepBenchResult::tokens_per_s) : "-",
               is_pha ? ratio(row, serial, &StepBenchResult::peak_mib) : "-");
  }
  fmt::print("tok/s ratio, mem ratio: PHA / serial at the same T\n");
}

// Returns false when a configuration failed (other than by not fitting).
bool run_sweep(const StepBenchConfig& base, int64_t tokens, double budget_s,
               const MatmulPeaks& peak) {
  bool failed = false;
  const auto start = std::chrono::steady_clock::now();
  std::vector<Row> rows;
  for (const int64_t seq_len : {int64_t{1024}, int64_t{4096}, int64_t{8192}}) {
    for (const char* variant : {"serial-125m", "pha-125m"}) {
      StepBenchConfig c = base;
      c.preset = variant;
      c.block.clear();  // each preset's own block: the serial baseline stays serial
      c.seq_len = seq_len;
      c.batch = std::max<int64_t>(1, tokens / seq_len);
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      rows.push_back(sweep_row(c, budget_s - elapsed, failed));
      const Row& row = rows.back();
      // Progress on stderr, so a run cut short still shows what it measured.
      if (row.skipped.empty())
        std::fprintf(stderr, "T %lld %s B %lld: %.0f tokens/s, peak %.0f MiB, loss %.3f\n",
                     static_cast<long long>(seq_len), variant, static_cast<long long>(c.batch),
                     row.r.tokens_per_s, row.r.peak_mib, row.r.loss);
      else
        std::fprintf(stderr, "T %lld %s: %s\n", static_cast<long long>(seq_len), variant,
                     row.skipped.c_str());
    }
  }
  print_table(rows, base.precision, peak);
  return !failed;
}

int run(int argc, char** argv) {
  StepBenchConfig c;
  std::string device = "cuda";
  int64_t peak_n = 0, tokens = 16384, budget_s = 75;
  bool sweep = false;
  const std::vector<Option> options = {
      {"device", &device, "cuda (GPU 0) or cpu"},
      {"precision", &c.precision, "fp32 or bf16 (default bf16 on cuda, fp32 on cpu)"},
      {"preset", &c.preset, "model preset (default pha-125m)"},
      {"block", &c.block, "block variant (default: the preset's)"},
      {"seq", &c.seq_len, "T (default 1024)"},
      {"batch", &c.batch, "B (default 1)"},
      {"warmup", &c.warmup, "untimed steps first (default 1)"},
      {"steps", &c.steps, "timed steps (default 3)"},
      {"peak-n", &peak_n, "matmul size of the peak probe (default 8192 cuda, 1024 cpu)"},
      {"sweep", &sweep, "T x {serial-125m, pha-125m} table"},
      {"tokens", &tokens, "sweep: tokens per step, B = max(1, tokens / T) (default 16384)"},
      {"time-budget-s", &budget_s, "sweep: start no configuration after this (default 75)"},
  };
  if (!parse(argc, argv, options)) return 0;
  c.device = parse_device(device);
  if (c.precision.empty()) c.precision = c.device == Device::cuda ? "bf16" : "fp32";
  Precision::parse(c.precision);
  PHA_REQUIRE(c.steps > 0 && c.warmup >= 0, "--steps must be positive, --warmup not negative");
  if (peak_n == 0) peak_n = c.device == Device::cuda ? 8192 : 1024;
  const MatmulPeaks peak = measure_matmul_peaks(c.device, peak_n);
  if (sweep) return run_sweep(c, tokens, static_cast<double>(budget_s), peak) ? 0 : 1;
  print_json(c, run_step_bench(c), peak);
  return 0;
}

}  // namespace
}  // namespace pha::bench

int main(int argc, char** argv) {
  try {
    return pha::bench::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pha_bench_gpu: %s\n", e.what());
    return 1;
  }
}
