// `pha sample`: text from trained weights with the incremental decoder (KV cache for attention,
// the DSS recurrence for GSS), one rank on the CPU. Prints the prompt and its continuation on
// stdout and the prefill and decode speeds on stderr.
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "core/cpu/cpu_backend.h"
#include "launch/commands.h"
#include "launch/distributed.h"
#include "launch/ini_config.h"
#include "launch/run_tokenizer.h"
#include "launch/text_generator.h"
#include "launch/weights_file.h"

namespace po = boost::program_options;

namespace pha::launch {

namespace {

// "12 tokens in 0.500 s (24.0 tokens/s; CPU 0.400 s, 30.0 tokens/s)"
std::string rate(int64_t tokens, const Timing& t) {
  const auto per = [&](double s) {
    return s > 0 ? fmt::format("{:.1f} tokens/s", static_cast<double>(tokens) / s)
                 : std::string("- tokens/s");
  };
  return fmt::format("{} tokens in {:.3f} s ({}; CPU {:.3f} s, {})", tokens, t.wall_seconds,
                     per(t.wall_seconds), t.cpu_seconds, per(t.cpu_seconds));
}

}  // namespace

int run_sample(const std::vector<std::string>& args) {
  MpiSession mpi(nullptr, nullptr);
  std::string run_dir, weights, tokenizer_spec;
  GenerateOptions o;
  double tolerance = 1e-5;
  po::options_description opts(
      "pha sample (--run DIR | --weights FILE) --prompt TEXT [--tokens N] [--temperature T] "
      "[--top-k K] [--top-p P] [--seed S]");
  opts.add_options()("help,h", "print this help")(
      "run", po::value(&run_dir), "a run directory of pha train (reads DIR/weights.h5)")(
      "weights", po::value(&weights), "a weights file written by pha train or pha import")(
      "prompt", po::value(&o.prompt), "the text to continue")(
      "tokens", po::value(&o.tokens)->default_value(o.tokens),
      "tokens to generate (stops early at the tokenizer's end-of-text token)")(
      "temperature", po::value(&o.sampler.temperature)->default_value(o.sampler.temperature),
      "softmax temperature; 0 = greedy (argmax)")(
      "top-k", po::value(&o.sampler.top_k)->default_value(o.sampler.top_k),
      "sample among the K most likely tokens (0 = all)")(
      "top-p", po::value(&o.sampler.top_p)->default_value(o.sampler.top_p),
      "then among the fewest most likely tokens whose probability reaches P (1 = all)")(
      "seed", po::value(&o.sampler.seed)->default_value(o.sampler.seed),
      "random seed: the same seed gives the same text")(
      "tokenizer", po::value(&tokenizer_spec),
      "byte | gpt2:DIR | bpe:DIR | synthetic (default: the run's, when known)")(
      "check", po::bool_switch(&o.check),
      "also run the full forward over the same tokens and compare every position's logits")(
      "check-tolerance", po::value(&tolerance)->default_value(tolerance),
      "with --check: the largest relative difference accepted");
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(opts).run(), vm);
  if (vm.count("help")) {
    std::cout << opts;
    return 0;
  }
  po::notify(vm);
  PHA_REQUIRE(run_dir.empty() != weights.empty(),
              "give exactly one of --run DIR or --weights FILE (see pha sample --help)");
  PHA_REQUIRE(vm.count("prompt"), "give --prompt TEXT: the text to continue");
  if (!run_dir.empty()) {
    PHA_REQUIRE(std::filesystem::is_directory(run_dir),
                "the run directory '{}' does not exist: give the --run.dir of a pha train run",
                run_dir);
    weights = (std::filesystem::path(run_dir) / "weights.h5").string();
  }
  PHA_REQUIRE(std::filesystem::exists(weights),
              "the weights file '{}' does not exist: a run writes it when training ends", weights);

  TrainConfig cfg = config_from_ini(weights_config_text(weights));
  cfg.finalize();
  const TokenSampler check_options(o.sampler);  // refuses bad sampler options before any work
  const RunTokenizer tok = run_tokenizer(cfg, tokenizer_spec);
  const std::vector<int32_t> prompt = encode_prompt(*tok.tokenizer, cfg.model, o);
  const int64_t positions = positions_needed(static_cast<int64_t>(prompt.size()), o.tokens);

  CpuBackend backend;
  // The model holds the weights the decoder reads; with --check its forward is the reference,
  // so it spans every position (the forward needs at least 2).
  Model model(backend, cfg.model, 1, o.check ? std::max<int64_t>(positions, 2) : 2);
  load_weights(weights, model, MPI_COMM_WORLD);
  Decoder decoder(model, positions);
  const GenerateResult r = generate(decoder, model, *tok.tokenizer, prompt, o);

  fmt::print("{}\n", r.text);
  std::fflush(stdout);
  fmt::print(stderr, "pha sample: prefill {} | decode {} | {} | tokenizer {}\n",
             rate(static_cast<int64_t>(r.prompt_tokens.size()), r.prefill),
             rate(r.decode_steps, r.decode), cfg.model.summary(), tok.spec);
  if (!o.check) return 0;
  const bool ok = r.check_rel_error <= tolerance;
  fmt::print(stderr,
             "pha sample: check {}: decoder vs full forward over {} positions ({:.3f} s, CPU "
             "{:.3f} s), worst "
             "relative logit difference {:.2e} (tolerance {:.0e})\n",
             ok ? "PASSED" : "FAILED", positions, r.check_forward.wall_seconds,
             r.check_forward.cpu_seconds, r.check_rel_error, tolerance);
  return ok ? 0 : 1;
}

}  // namespace pha::launch
