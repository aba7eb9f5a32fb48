#include "launch/train_config.h"

#include <fmt/format.h>

#include <fstream>
#include <iostream>

#include "core/error.h"
#include "layers/planner.h"
#include "layers/precision.h"

namespace po = boost::program_options;

namespace pha::launch {

OptionTable make_option_table(TrainConfig& c) {
  OptionTable t;
  ModelConfig& m = c.model;
  TrainSettings& s = c.train;
  // The preset comes first: it sets every model size, and the keys below override single values.
  t.add(OptionField{"model.preset", fmt::format("model preset: {}", model_preset_names()),
                    [&c](const std::string& v) {
                      c.model = model_preset(v);
                      c.preset = v;
                      c.block = c.model.block.str();
                    },
                    [&c] { return c.preset; }});
  t.add("model.d", m.d, "model width");
  t.add("model.n_q", m.n_q, "query heads");
  t.add("model.n_kv", m.n_kv, "key/value heads");
  t.add("model.d_h", m.d_h, "head width (0 = d / n_q)");
  t.add("model.d_ff", m.d_ff, "FFN width");
  t.add("model.gss_f", m.gss_f, "GSS gate width F");
  t.add("model.gss_h", m.gss_h, "GSS state channels H");
  t.add("model.dss_n", m.dss_n, "DSS modes N");
  t.add("model.n_layers", m.n_layers, "blocks L");
  t.add("model.vocab", m.vocab, "vocabulary size (padded to a multiple of 64 inside)");
  t.add("model.max_seq_len", m.max_seq_len, "longest sequence the model accepts");
  t.add("model.attn_window", m.attn_window, "sliding attention window (0 = full)");
  t.add("model.block", c.block, "pha | serial | '+'-joined subset of attention, gss, ffn");
  t.add("model.mixer", c.mixer, "softmax | scalar | channel");
  t.add("model.dss_init", c.dss_init, "random | s4d");
  t.add("model.conv", c.conv, "GSS convolution: fft | direct");
  t.add("model.tie_embeddings", m.tie_embeddings, "share the embedding with the head");
  t.add("train.batch_size", s.batch_size, "sequences per micro-batch");
  t.add("train.seq_len", s.seq_len, "tokens per sequence");
  t.add("train.grad_accum", s.grad_accum, "micro-batches per optimizer step");
  t.add("train.steps", s.steps, "optimizer steps");
  t.add("train.lr", s.lr, "peak learning rate");
  t.add("train.min_lr", s.min_lr, "learning rate floor of the cosine decay");
  t.add("train.warmup", s.warmup, "linear warmup steps");
  t.add("train.beta1", s.beta1, "AdamW beta1");
  t.add("train.beta2", s.beta2, "AdamW beta2");
  t.add("train.eps", s.eps, "AdamW epsilon");
  t.add("train.weight_decay", s.weight_decay, "decoupled weight decay (2-D weights and E)");
  t.add("train.dss_lr_cap", s.dss_lr_cap, "learning-rate cap of the DSS parameters");
  t.add("train.grad_clip", s.grad_clip, "global gradient-norm clip (0 = off)");
  t.add("train.seed", s.seed, "seed of initialisation and data order");
  t.add("train.eval_every", s.eval_every, "evaluate every N steps (0 = at the end only)");
  t.add("train.eval_batches", s.eval_batches, "micro-batches per evaluation (0 = whole shard)");
  t.add("train.log_every", s.log_every, "log every N steps");
  t.add("train.max_skipped_steps", s.max_skipped_steps,
        "steps with a non-finite loss or gradient that may be skipped before stopping");
  t.add("train.threads", s.threads, "OpenMP threads per rank (0 = default)");
  t.add("train.ckpt_every", s.ckpt_every,
        "write a checkpoint every N steps (0 = only at the end and on SIGTERM/SIGUSR1)");
  t.add("train.keep_last", s.keep_last, "committed checkpoints to keep (the newest)");
  t.add("train.keep_every", s.keep_every,
        "also keep every checkpoint whose step is a multiple of this (0 = none)");
  t.add("train.async_ckpt", s.async_ckpt,
        "write checkpoints in the background: the step goes on while a host copy of the state is "
        "written (one in flight at most; needs MPI_THREAD_MULTIPLE, else synchronous). false: "
        "training waits for each write");
  t.add("train.stop_after", s.stop_after,
        "steps this process runs before it checkpoints and exits with status 75 (a step budget "
        "per job; 0 = none)");
  t.add("train.resume", s.resume,
        "none | auto (the newest committed checkpoint of run.dir, falling back past damaged "
        "ones) | PATH of a checkpoint");
  t.add("train.device", s.device,
        "cpu | cuda (one GPU per rank: the rank's node-local index among the visible GPUs)");
  t.add("train.precision", s.precision,
        "fp32 | bf16 (bf16 weights and activations for compute, f32 master weights, optimiser "
        "state, reductions and loss; cuda only) | fp32-copies (a test mode: f32 with separate f32 "
        "compute copies of the matmul weights, the bf16 code path on the CPU)");
  t.add("train.recompute", s.recompute,
        "none | selective | full: activations dropped after the forward and recomputed in "
        "each block's backward (selective: norms, Q/K/V, GSS gates, FFN hidden layer; full: all "
        "but the block inputs); the same losses and gradients, less activation memory");
  t.add("train.head_chunk_rows", s.head_chunk_rows,
        "rows of the head's logits computed at a time, the loss and its gradient taken chunk by "
        "chunk in the forward, so no [B*T, V] logits are kept (the same FLOPs); 0 keeps them "
        "whole for the backward");
  t.add("parallel.dp", c.parallel.dp, "data-parallel ranks (0 = world size / (tp * pp * cp))");
  t.add("parallel.tp", c.parallel.tp, "tensor-parallel ranks (split each block's branches)");
  t.add("parallel.pp", c.parallel.pp, "pipeline stages (contiguous layer ranges, 1F1B)");
  t.add("parallel.cp", c.parallel.cp,
        "context-parallel ranks: each sequence split into 2 cp chunks, rank c holding chunks c "
        "and 2 cp - 1 - c (ring attention, block-Toeplitz GSS); train.seq_len must divide by "
        "2 cp; CPU backend");
  t.add("parallel.zero1", c.parallel.zero1,
        "ZeRO-1: each dp rank allocates and updates only its 1/dp chunk of AdamW's moments; the "
        "parameters are all-gathered after the update (gradients still all-reduced whole)");
  t.add("parallel.zero2", c.parallel.zero2,
        "ZeRO-2: ZeRO-1, and each dp rank keeps only its 1/dp chunk of the gradients: backward "
        "writes into a reusable window of two layers' size, and each layer's gradients are "
        "averaged over dp as they complete (every micro-batch) and added to the chunk");
  t.add("parallel.overlap_grad_reduce", c.parallel.overlap_grad_reduce,
        "start each gradient bucket's dp average during the step's last backward, as soon as "
        "its gradients are complete (false: all after backward; the same numbers either way)");
  t.add("parallel.grad_buckets_in_flight", c.parallel.grad_buckets_in_flight,
        "the most dp gradient buckets (16 MiB of f32) reducing at once; one more first waits for "
        "the oldest. Bounds MPI's temporaries (a copy of each bucket in flight; pha plan's "
        "comm_in_flight). 0: no limit (all can be in flight at the end of backward)");
  t.add("parallel.timeout", c.parallel.timeout_s,
        "seconds a collective may take before the job aborts naming it");
  t.add("data.train", c.data.train, "training token shard, or 'synthetic'");
  t.add("data.val", c.data.val, "validation token shard, or 'synthetic'");
  t.add("data.synthetic_tokens", c.data.synthetic_tokens, "tokens of the built-in corpus");
  t.add("data.mqar_fraction", c.data.mqar_fraction,
        "share of the built-in corpus's documents that are associative recall");
  t.add("data.mqar_max_pairs", c.data.mqar_max_pairs,
        "most key-value pairs in a recall document of the built-in corpus");
  t.add("data.mqar_keys", c.data.mqar_keys,
        "distinct keys the built-in corpus's recall draws from (fewer: easier)");
  t.add("data.mqar_values", c.data.mqar_values,
        "distinct values the built-in corpus's recall draws from (chance accuracy is 1/this)");
  t.add("run.dir", c.run_dir, "run directory (config, metrics, weights, plots)");
  t.add("run.tensorboard", c.tensorboard,
        "also write the metrics as TensorBoard scalars (RUN/tb/events.out.tfevents.*)");
  return t;
}

void TrainConfig::finalize() {
  model.block = BlockKind::parse(block);
  model.mixer = parse_mixer(mixer);
  model.dss_init = parse_dss_init(dss_init);
  PHA_REQUIRE(conv == "fft" || conv == "direct", "model.conv = '{}': use fft or direct", conv);
  model.conv_algo = conv == "fft" ? ConvAlgo::fft : ConvAlgo::direct;
  model.validate();
  const TrainSettings& s = train;
  require_positive("train.batch_size", s.batch_size);
  require_positive("train.seq_len", s.seq_len);
  PHA_REQUIRE(s.seq_len >= 2, "train.seq_len = {}: must be at least 2", s.seq_len);
  PHA_REQUIRE(s.seq_len <= model.max_seq_len,
              "train.seq_len = {} exceeds model.max_seq_len = {}: raise max_seq_len or shorten "
              "seq_len",
              s.seq_len, model.max_seq_len);
  require_positive("train.grad_accum", s.grad_accum);
  require_positive("train.steps", s.steps);
  require_positive("train.lr", s.lr);
  require_non_negative("train.min_lr", s.min_lr);
  PHA_REQUIRE(s.min_lr <= s.lr, "train.min_lr = {} exceeds train.lr = {}", s.min_lr, s.lr);
  require_non_negative("train.warmup", s.warmup);
  PHA_REQUIRE(s.warmup <= s.steps, "train.warmup = {} exceeds train.steps = {}", s.warmup, s.steps);
  PHA_REQUIRE(s.beta1 >= 0 && s.beta1 < 1, "train.beta1 = {}: must be in [0, 1)", s.beta1);
  PHA_REQUIRE(s.beta2 >= 0 && s.beta2 < 1, "train.beta2 = {}: must be in [0, 1)", s.beta2);
  require_positive("train.eps", s.eps);
  require_non_negative("train.weight_decay", s.weight_decay);
  require_positive("train.dss_lr_cap", s.dss_lr_cap);
  require_non_negative("train.grad_clip", s.grad_clip);
  require_non_negative("train.eval_every", s.eval_every);
  require_non_negative("train.eval_batches", s.eval_batches);
  require_positive("train.log_every", s.log_every);
  require_non_negative("train.max_skipped_steps", s.max_skipped_steps);
  require_non_negative("train.threads", s.threads);
  require_non_negative("train.ckpt_every", s.ckpt_every);
  require_non_negative("train.stop_after", s.stop_after);
  require_positive("train.keep_last", s.keep_last);
  require_non_negative("train.keep_every", s.keep_every);
  PHA_REQUIRE(!s.resume.empty(), "train.resume is empty: use none, auto or a checkpoint path");
  PHA_REQUIRE(s.device == "cpu" || s.device == "cuda", "train.device = '{}': use cpu or cuda",
              s.device);
  Precision::parse(s.precision);
  parse_recompute(s.recompute);
  require_non_negative("train.head_chunk_rows", s.head_chunk_rows);
  PHA_REQUIRE(s.precision != "bf16" || s.device == "cuda",
              "train.precision = bf16 needs train.device = cuda: the CPU backend computes in fp32 "
              "(use --precision fp32)");
  require_positive("data.synthetic_tokens", data.synthetic_tokens);
  PHA_REQUIRE(data.mqar_fraction >= 0 && data.mqar_fraction <= 1,
              "data.mqar_fraction = {}: must be in [0, 1]", data.mqar_fraction);
  PHA_REQUIRE(data.mqar_keys >= 1 && data.mqar_keys <= 64,
              "data.mqar_keys = {}: must be in [1, 64] (the corpus has 64 keys)", data.mqar_keys);
  PHA_REQUIRE(data.mqar_values >= 1 && data.mqar_values <= 64,
              "data.mqar_values = {}: must be in [1, 64] (the corpus has 64 values)",
              data.mqar_values);
  PHA_REQUIRE(data.mqar_max_pairs >= 1 && data.mqar_max_pairs <= data.mqar_keys,
              "data.mqar_max_pairs = {}: must be in [1, data.mqar_keys = {}] (a document's keys "
              "are distinct)",
              data.mqar_max_pairs, data.mqar_keys);
  require_non_negative("parallel.dp", static_cast<double>(parallel.dp));
  require_positive("parallel.tp", static_cast<double>(parallel.tp));
  require_positive("parallel.pp", static_cast<double>(parallel.pp));
  require_positive("parallel.cp", static_cast<double>(parallel.cp));
  PHA_REQUIRE(train.seq_len % (2 * parallel.cp) == 0,
              "parallel.cp = {} splits each sequence into 2 x cp = {} equal chunks, but "
              "train.seq_len = {} is not divisible by {}: choose a multiple of {}",
              parallel.cp, 2 * parallel.cp, train.seq_len, 2 * parallel.cp, 2 * parallel.cp);
  PHA_REQUIRE(parallel.cp == 1 || train.device == "cpu",
              "parallel.cp = {}: context parallelism runs on the CPU backend only (train.device = "
              "{}); use cp = 1 there",
              parallel.cp, train.device);
  require_positive("parallel.timeout", parallel.timeout_s);
  PHA_REQUIRE(!run_dir.empty(), "run.dir is empty: name a directory for the run");
}

bool parse_train_args(const std::vector<std::string>& raw_args, TrainConfig& cfg) {
  // --tp/--pp/--dp/--cp/--zero1/--zero2 are short for --parallel.tp etc., --device/--precision/
  // --recompute for --train.device/--train.precision/--train.recompute.
  std::vector<std::string> args;
  for (const std::string& a : raw_args) {
    bool shorthand = false;
    for (const char* key :
         {"tp", "pp", "dp", "cp", "zero1", "zero2", "device", "precision", "recompute"}) {
      const std::string flag = std::string("--") + key;
      const std::string section =
          flag == "--device" || flag == "--precision" || flag == "--recompute" ? "train"
                                                                               : "parallel";
      if (a == flag || a.rfind(flag + "=", 0) == 0) {
        args.push_back("--" + section + "." + a.substr(2) +
                       (a == "--zero1" || a == "--zero2" ? "=true" : ""));
        shorthand = true;
      }
    }
    if (!shorthand) args.push_back(a);
  }
  OptionTable table = make_option_table(cfg);
  po::options_description general(
      "pha train [--config FILE] [--section.key=value ...]\n"
      "  (--tp N, --pp N, --dp N, --cp N, --zero1 and --zero2 are short for --parallel.tp N, ...;\n"
      "  --device D, --precision P and --recompute R for --train.device D, ...)");
  std::string config_file;
  general.add_options()("help,h", "print this help")(
      "config", po::value(&config_file),
      "INI file with [model], [train], [parallel], [data], [run] sections");
  po::options_description keys = table.description("Configuration keys (file or command line)");
  po::options_description all;
  all.add(general).add(keys);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).run(), vm);
    po::notify(vm);
    if (vm.count("help")) {
      std::cout << general << "\n" << keys;
      return false;
    }
    if (!config_file.empty()) {
      std::ifstream in(config_file);
      PHA_REQUIRE(in.good(), "cannot read the config file '{}': check the path", config_file);
      // Stored after the command line, so command-line values win.
      po::store(po::parse_config_file(in, keys, false), vm);
    }
  } catch (const po::error& e) {
    fail("{}{}: run 'pha train --help' for the keys", e.what(),
         config_file.empty() ? "" : fmt::format(" (config file '{}')", config_file));
  }
  table.apply(vm);
  cfg.finalize();
  return true;
}

}  // namespace pha::launch
