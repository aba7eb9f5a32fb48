// `pha eval`: validation loss and perplexity of trained weights over non-overlapping windows of a
// token shard (or the built-in corpus), or the accuracy on a multiple-choice task (--task).
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <filesystem>

#include "core/cpu/cpu_backend.h"
#include "io/h5_file.h"
#include "launch/command_options.h"
#include "launch/commands.h"
#include "launch/distributed.h"
#include "launch/eval_task.h"
#include "launch/evaluator.h"
#include "launch/ini_config.h"
#include "launch/train_config.h"
#include "launch/train_data.h"
#include "launch/weights_file.h"

namespace po = boost::program_options;

namespace pha::launch {

int run_eval(const std::vector<std::string>& args) {
  MpiSession mpi(nullptr, nullptr);
  std::string run_dir, weights, data, tokens_file;
  TaskEvalOptions task;
  int64_t max_batches = 0, batch = 0, seq_len = 0;
  po::options_description opts("pha eval (--run DIR | --weights FILE) [--data SHARD] [options]");
  opts.add_options()("help,h", "print this help")(
      "run", po::value(&run_dir), "a run directory of pha train (reads DIR/weights.h5)")(
      "weights", po::value(&weights), "a weights file written by pha train")(
      "data", po::value(&data),
      "token shard to evaluate (default: the run's data.val, e.g. 'synthetic')")(
      "tokens", po::value(&tokens_file),
      "an HDF5 file with /tokens i32 [B, T]: the loss of exactly these sequences (the format of "
      "tests/reference/pha_ref.py)")("batches", po::value(&max_batches)->default_value(0),
                                     "micro-batches to evaluate (0 = all)")(
      "batch-size", po::value(&batch)->default_value(0), "sequences per batch (0 = the run's)")(
      "seq-len", po::value(&seq_len)->default_value(0), "window length (0 = the run's)")(
      "task", po::value(&task.task),
      "a multiple-choice task (JSONL: {\"context\": ..., \"choices\": [...], \"answer\": i} "
      "per line): accuracy by each choice's log-likelihood")(
      "task-out", po::value(&task.out), "with --task: write per-item scores (JSONL) here")(
      "tokenizer", po::value(&task.tokenizer),
      "with --task: byte | gpt2:DIR | bpe:DIR | synthetic (default: the run's, when known)");
  po::variables_map vm;
  if (!parse_command_options(opts, args, vm)) return 0;
  weights = weights_of(run_dir, weights, "pha eval");

  // The run's configuration travels inside the weights file.
  TrainConfig cfg = config_from_ini(weights_config_text(weights));
  if (batch > 0) cfg.train.batch_size = batch;
  if (seq_len > 0) cfg.train.seq_len = seq_len;
  cfg.finalize();
  PHA_REQUIRE(task.task.empty() || (data.empty() && tokens_file.empty()),
              "--task scores a task file: give it without --data or --tokens");
  PHA_REQUIRE(!task.task.empty() || (task.out.empty() && task.tokenizer.empty()),
              "--task-out and --tokenizer go with --task FILE");
  if (!task.task.empty()) {
    task.weights = weights;
    return eval_task(cfg, task);
  }
  if (data.empty()) data = cfg.data.val;
  if (!tokens_file.empty()) {
    // Exactly the given sequences: one batch of their shape.
    h5::File file = h5::File::open(tokens_file);
    const Shape shape = file.shape("tokens");
    PHA_REQUIRE(shape.rank == 2, "'{}': /tokens has shape {}, expected [B, T]", tokens_file,
                shape.str());
    std::vector<int32_t> tokens(static_cast<size_t>(shape.numel()));
    file.read("tokens", Tensor(tokens.data(), DType::i32, Device::cpu, shape));
    cfg.model.max_seq_len = std::max(cfg.model.max_seq_len, shape[1]);
    CpuBackend backend;
    Model model(backend, cfg.model, shape[0], shape[1]);
    load_weights(weights, model, MPI_COMM_WORLD);
    fmt::print("eval {} on {}: loss {:.8f} over {} sequences of {} tokens\n", weights, tokens_file,
               model.forward(tokens.data()), shape[0], shape[1]);
    return 0;
  }

  // One rank evaluates the whole model.
  CpuBackend backend;
  Distributed dist(parallel::Layout{1, 1, 1}, cfg.model, 1, cfg.parallel.timeout_s, &backend);
  Model model(backend, cfg.model, cfg.train.batch_size, cfg.train.seq_len);
  load_weights(weights, model, MPI_COMM_WORLD);
  const TokenStream stream(data, "val", cfg.train.seed, cfg.data.synthetic_tokens, cfg.model.vocab,
                           synthetic_options(cfg.data));
  const EvalResult r = evaluate(model, dist, stream.view(), max_batches, stream.synthetic());
  fmt::print("eval {} on {}: loss {:.6f} | perplexity {:.3f} | {} windows of {} tokens{}\n",
             weights, stream.description(), r.loss, r.perplexity, r.windows, cfg.train.seq_len,
             r.recall_answers ? fmt::format(" | recall accuracy {:.3f}", r.recall_accuracy) : "");
  return 0;
}

}  // namespace pha::launch
