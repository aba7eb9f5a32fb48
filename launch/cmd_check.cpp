// `pha check`: builds a small PHA model in f64, runs forward and backward, and compares every
// parameter's gradient with central finite differences. The quickest end-to-end proof that the
// hand-written backward of every layer is right on this machine.
#include <fmt/format.h>

#include <boost/program_options.hpp>

#include "core/cpu/cpu_backend.h"
#include "core/philox.h"
#include "launch/command_options.h"
#include "launch/commands.h"
#include "layers/gradcheck.h"

namespace po = boost::program_options;

namespace pha::launch {
namespace {

// Adds normal(0, 0.3) noise to every parameter. At the initialisation some gradients (the DSS
// C_im, ~4e-6) are so small that the finite differences' rounding (eps |L| / step ~ 1e-10) is a
// visible share of them; with noise every path carries gradient of order one.
void perturb_parameters(Model& model, uint64_t seed) {
  Backend& be = model.backend();
  for (const ParamSpec& spec : model.param_specs()) {
    const Tensor value = model.params().get(spec.name);
    std::vector<double> host(static_cast<size_t>(value.numel()));
    be.copy_to_host(value, host.data());
    const uint64_t stream = stream_of(spec.name.c_str());
    for (size_t i = 0; i < host.size(); ++i) host[i] += 0.3 * philox_normal(seed, stream, i);
    be.copy_from_host(value, host.data());
  }
}

}  // namespace

int run_check(const std::vector<std::string>& args) {
  ModelConfig cfg;
  std::string block = "pha", mixer = "softmax", params = "random";
  int64_t batch = 2, seq_len = 9, points = 6;
  uint64_t seed = 1234;
  double tolerance = 1e-6, step = 1e-5;
  po::options_description opts("pha check [options]");
  opts.add_options()("help,h", "print this help")("block", po::value(&block)->default_value(block),
                                                  "pha | serial | subset like attention+ffn")(
      "mixer", po::value(&mixer)->default_value(mixer), "softmax | scalar | channel")(
      "layers", po::value(&cfg.n_layers)->default_value(2), "number of blocks")(
      "batch", po::value(&batch)->default_value(batch), "sequences per batch")(
      "seq-len", po::value(&seq_len)->default_value(seq_len), "tokens per sequence")(
      "points", po::value(&points)->default_value(points), "elements checked per parameter")(
      "seed", po::value(&seed)->default_value(seed), "initialisation and data seed")(
      "tolerance", po::value(&tolerance)->default_value(tolerance),
      "largest accepted relative error")("step", po::value(&step)->default_value(step),
                                         "finite-difference step")(
      "params", po::value(&params)->default_value(params),
      "random (the initialisation plus noise, so every path carries gradient) | init (the "
      "initialisation itself: some gradients there are ~1e-6, where the finite differences' "
      "rounding is a visible share)");
  po::variables_map vm;
  if (!parse_command_options(opts, args, vm)) return 0;
  cfg.d = 24;
  cfg.n_q = 4;
  cfg.n_kv = 2;
  cfg.d_ff = 40;
  cfg.gss_f = 20;
  cfg.gss_h = 12;
  cfg.dss_n = 8;
  cfg.vocab = 50;
  cfg.max_seq_len = seq_len;
  cfg.block = BlockKind::parse(block);
  cfg.mixer = parse_mixer(mixer);

  CpuBackend backend;
  Model model(backend, cfg, batch, seq_len, DType::f64);
  model.init_parameters(seed);
  if (params == "random") {
    perturb_parameters(model, seed);
  } else {
    PHA_REQUIRE(params == "init", "--params {}: expected random or init", params);
  }
  std::vector<int32_t> tokens(static_cast<size_t>(batch * seq_len));
  for (size_t i = 0; i < tokens.size(); ++i)
    tokens[i] = static_cast<int32_t>(philox_block(seed, 99, i).v[0] % cfg.vocab);
  fmt::print("pha check: {} parameters, {}\n", model.parameter_count(), cfg.summary());
  const double loss = model.forward(tokens.data());
  fmt::print("loss {:.6f} (ln V = {:.6f})\n", loss, std::log(static_cast<double>(cfg.vocab)));
  double worst = 0;
  for (const auto& r : check_model_gradients(model, tokens, points, step)) {
    fmt::print("  {:<28} points {:3d}  rel error {:.2e}\n", r.name, r.points, r.rel_error);
    worst = std::max(worst, r.rel_error);
  }
  const bool ok = worst <= tolerance;
  fmt::print("{}: worst relative error {:.2e} (tolerance {:.0e})\n", ok ? "PASSED" : "FAILED",
             worst, tolerance);
  return ok ? 0 : 1;
}

}  // namespace pha::launch
