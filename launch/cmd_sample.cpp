// `pha sample`: text from trained weights with the incremental decoder (KV cache for attention,
// the DSS recurrence for GSS) after a one-forward prefill, one rank on the CPU. Prints the prompt
// and its continuation on stdout and the prefill and decode speeds on stderr.
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>

#include "core/cpu/cpu_backend.h"
#include "launch/command_options.h"
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
      "also run the full forward over the same tokens and compare every decode step's logits")(
      "check-tolerance", po::value(&tolerance)->default_value(tolerance, "1e-5"),
      "with --check: the largest relative difference accepted");
  po::variables_map vm;
  if (!parse_command_options(opts, args, vm)) return 0;
  weights = weights_of(run_dir, weights, "pha sample");
  PHA_REQUIRE(vm.count("prompt"), "give --prompt TEXT: the text to continue");

  TrainConfig cfg = config_from_ini(weights_config_text(weights));
  cfg.finalize();
  const TokenSampler check_options(o.sampler);  // refuses bad sampler options before any work
  const RunTokenizer tok = run_tokenizer(cfg, tokenizer_spec);
  const std::vector<int32_t> prompt = encode_prompt(*tok.tokenizer, cfg.model, o);
  const int64_t positions = positions_needed(static_cast<int64_t>(prompt.size()), o.tokens);

  CpuBackend backend;
  // The model holds the weights the decoder reads and prefills it with one forward over the
  // prompt; with --check its forward over every position is the reference (a forward needs at
  // least 2 positions).
  const int64_t prompt_tokens = static_cast<int64_t>(prompt.size());
  Model model(backend, cfg.model, 1, std::max<int64_t>(o.check ? positions : prompt_tokens, 2));
  load_weights(weights, model, MPI_COMM_WORLD);
  Decoder decoder(model, positions);
  const GenerateResult r = generate(decoder, model, *tok.tokenizer, prompt, o);

  fmt::print("{}\n", r.text);
  std::fflush(stdout);
  fmt::print(stderr, "pha sample: prefill {} | decode {} | {} | tokenizer {}\n",
             rate(prompt_tokens, r.prefill), rate(r.decode_steps, r.decode), cfg.model.summary(),
             tok.spec);
  if (!o.check) return 0;
  const bool ok = r.check_rel_error <= tolerance;
  fmt::print(stderr,
             "pha sample: check {}: {} decode steps vs one full forward over {} positions ({:.3f} "
             "s, CPU {:.3f} s), worst relative logit difference {:.2e} (tolerance {:.0e})\n",
             ok ? "PASSED" : "FAILED", r.check_positions, positions, r.check_forward.wall_seconds,
             r.check_forward.cpu_seconds, r.check_rel_error, tolerance);
  return ok ? 0 : 1;
}

}  // namespace pha::launch
