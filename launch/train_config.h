#pragma once
// The configuration of a training run: model, optimisation, data, run directory. Read from an
// INI file plus --section.key=value overrides, validated up front, written whole into the run
// directory as config.ini (which `pha train --config RUN/config.ini` reproduces).
#include <string>
#include <vector>

#include "launch/option_table.h"
#include "layers/model_config.h"

namespace pha::launch {

struct TrainSettings {
  int64_t batch_size = 8;  // sequences per micro-batch (B)
  int64_t seq_len = 128;   // T
  int64_t grad_accum = 1;  // micro-batches per optimizer step
  int64_t steps = 200;
  double lr = 3e-3;      // peak learning rate
  double min_lr = 3e-4;  // cosine floor
  int64_t warmup = 20;   // warmup steps
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  double weight_decay = 0.1;
  double dss_lr_cap = 1e-3;  // lambda_*, C_* use min(dss_lr_cap, lr)
  double grad_clip = 1.0;    // global norm; 0 = off
  uint64_t seed = 1234;
  int64_t eval_every = 50;   // steps; 0 = only at the end
  int64_t eval_batches = 8;  // micro-batches per evaluation (0 = the whole validation shard)
  int64_t log_every = 1;
  int64_t max_skipped_steps = 0;  // steps with a non-finite loss/gradient tolerated (skipped)
  int64_t threads = 0;            // OpenMP threads per rank; 0 = the OpenMP default
  int64_t ckpt_every = 0;         // checkpoint every N steps (0 = only at the end and on a signal)
  int64_t keep_last = 3;          // committed checkpoints kept (the newest)
  int64_t keep_every = 0;         // ... plus every checkpoint whose step is a multiple (0 = none)
  bool async_ckpt = true;         // write checkpoints on a background thread while training goes on
  std::string resume = "none";    // none | auto (newest committed in the run directory) | PATH
  int64_t stop_after = 0;      // this process stops (checkpoint, status 75) after N steps; 0 = no
  std::string device = "cpu";  // cpu | cuda (one GPU per rank)
  std::string precision = "fp32";  // fp32 | bf16 (bf16 compute over f32 masters; cuda only)
  std::string recompute = "none";  // none | selective | full (layers/planner.h, Recompute)
  // Rows of the head's logits computed at a time, the loss's gradient taken in the forward
  // (ModelPart::head_chunk_rows); 0 keeps the whole [B*T, V_pad/tp] logits for the backward.
  int64_t head_chunk_rows = 256;
};

// The dp x tp x pp x cp layout (parallel.md, docs/parallelism.md); dp = 0 is inferred from the
// world size.
struct ParallelSettings {
  int64_t dp = 0, tp = 1, pp = 1;
  int64_t cp = 1;      // context parallelism: each sequence split over cp ranks (zigzag chunks)
  bool zero1 = false;  // ZeRO-1: each dp rank keeps 1/dp of AdamW's moments, updates that chunk
  bool zero2 = false;  // ZeRO-2: ZeRO-1, and gradients reduce-scattered instead of all-reduced
  // 0, 1 or 2 (zero2 wins over zero1).
  int zero_stage() const { return zero2 ? 2 : zero1 ? 1 : 0; }
  bool overlap_grad_reduce = true;     // start the dp gradient average during the last backward
  int64_t grad_buckets_in_flight = 2;  // the most dp bucket reductions in flight (0: no limit)
  double timeout_s = 300;              // a collective taking longer aborts the job, naming it
};

struct DataSettings {
  std::string train = "synthetic";  // a token shard, or "synthetic" (the built-in corpus)
  std::string val = "synthetic";
  int64_t synthetic_tokens = 2000000;  // size of the built-in corpus's training part
  double mqar_fraction = 0.25;         // share of the built-in corpus's documents that are recall
  int64_t mqar_max_pairs = 16;         // key-value pairs per recall document: 4..max (or fewer)
  int64_t mqar_keys = 64, mqar_values = 64;  // how many distinct keys and values recall draws from
};

struct TrainConfig {
  std::string preset = "tiny";
  ModelConfig model = model_preset("tiny");
  std::string block = "pha", mixer = "softmax", dss_init = "random", conv = "fft";
  TrainSettings train;
  ParallelSettings parallel;
  DataSettings data;
  std::string run_dir = "runs/default";
  bool tensorboard = true;  // also write the metrics as TensorBoard scalars under RUN/tb

  // Applies the string-typed choices to `model` and checks every value; throws with the key.
  void finalize();
};

// The table of every key, bound to `cfg`'s fields.
OptionTable make_option_table(TrainConfig& cfg);
// Parses `pha train` arguments: --config FILE and --section.key=value overrides (the command
// line wins). Returns false when --help was asked (the help is printed).
bool parse_train_args(const std::vector<std::string>& args, TrainConfig& cfg);

}  // namespace pha::launch
