#include "launch/trainer.h"

#include <fmt/format.h>
#include <omp.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/cpu/cpu_backend.h"
#include "io/metrics.h"
#include "launch/evaluator.h"
#include "launch/flops.h"
#include "launch/step_log.h"
#include "launch/train_data.h"
#include "launch/weights_file.h"
#include "optim/adamw.h"
#include "optim/clip.h"
#include "optim/schedule.h"

extern "C" void openblas_set_num_threads(int);

namespace pha::launch {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

JsonRecord eval_record(int64_t step, const EvalResult& e) {
  JsonRecord r;
  r.add("kind", std::string("eval")).add("step", step).add("val_loss", e.loss);
  r.add("val_ppl", e.perplexity).add("val_windows", e.windows);
  if (e.recall_answers) r.add("val_recall", e.recall_accuracy);
  return r;
}

void print_eval(int64_t step, const EvalResult& e) {
  fmt::print("eval  step {:>5} | val loss {:.4f} | val ppl {:.2f} | {} windows{}\n", step, e.loss,
             e.perplexity, e.windows,
             e.recall_answers ? fmt::format(" | recall accuracy {:.3f} over {} answers",
                                            e.recall_accuracy, e.recall_answers)
                              : "");
}

}  // namespace

int train(const TrainConfig& cfg, const std::string& config_ini) {
  const TrainSettings& s = cfg.train;
  namespace fs = std::filesystem;
  fs::create_directories(cfg.run_dir);
  {
    std::ofstream out(fs::path(cfg.run_dir) / "config.ini");
    out << config_ini;
    PHA_REQUIRE(out.good(), "cannot write '{}/config.ini': check the run directory", cfg.run_dir);
  }
  if (s.threads > 0) omp_set_num_threads(static_cast<int>(s.threads));
  openblas_set_num_threads(s.threads > 0 ? static_cast<int>(s.threads) : omp_get_max_threads());

  CpuBackend backend;
  const int64_t B = s.batch_size, T = s.seq_len;
  Model model(backend, cfg.model, B, T);
  model.init_parameters(s.seed);
  const MemoryFigures mem = model.memory();
  fmt::print("model: {}\n", cfg.model.summary());
  fmt::print("parameters: {} ({:.2f}M) | parameter+gradient memory {:.1f} MiB | activations {:.1f} "
             "MiB + backward scratch {:.1f} MiB (B {}, T {})\n",
             model.parameter_count(), model.parameter_count() / 1e6, mem.parameter_bytes / 1048576.0,
             mem.activation_bytes / 1048576.0, mem.scratch_bytes / 1048576.0, B, T);

  AdamWConfig opt_cfg;
  opt_cfg.beta1 = s.beta1;
  opt_cfg.beta2 = s.beta2;
  opt_cfg.eps = s.eps;
  opt_cfg.weight_decay = s.weight_decay;
  opt_cfg.dss_lr_cap = s.dss_lr_cap;
  AdamW optimizer(backend, model.params().table(), opt_cfg);
  const CosineSchedule schedule(ScheduleConfig{s.lr, s.min_lr, s.warmup, s.steps});

  const TokenStream train_data(cfg.data.train, "train", s.seed, cfg.data.synthetic_tokens,
                               cfg.model.vocab);
  const TokenStream val_data(cfg.data.val, "val", s.seed, cfg.data.synthetic_tokens,
                             cfg.model.vocab);
  const io::BatchSampler sampler(train_data.view(), static_cast<uint64_t>(T), s.seed);
  fmt::print("train data: {} | {} windows of {} tokens per epoch\n", train_data.description(),
             sampler.windows_per_epoch(), T);
  fmt::print("val data:   {}\n", val_data.description());

  const double peak = measure_matmul_peak(backend);
  const double flops_per_token = train_flops_per_token(cfg.model, T);
  fmt::print("machine: measured f32 matmul peak {:.1f} GFLOP/s with {} threads; model {:.3f} "
             "GFLOP per token (forward+backward)\n",
             peak / 1e9, omp_get_max_threads(), flops_per_token / 1e9);

  MetricsWriter metrics((fs::path(cfg.run_dir) / "metrics.jsonl").string());
  const bool score = train_data.synthetic();
  std::vector<int32_t> tokens(static_cast<size_t>(B * T));
  const int64_t global_batch = B * s.grad_accum;
  int64_t skipped = 0;
  double train_seconds = 0;
  EvalResult last_eval;

  for (int64_t step = 1; step <= s.steps; ++step) {
    const auto start = Clock::now();
    model.zero_grads();
    double loss_sum = 0;
    int64_t answers = 0, correct = 0;
    for (int64_t micro = 0; micro < s.grad_accum; ++micro) {
      const uint64_t first = static_cast<uint64_t>((step - 1) * global_batch + micro * B);
      sampler.fill_local_batch(first, static_cast<uint64_t>(B), 0, 1, tokens.data());
      const double loss = model.forward(tokens.data());
      if (!std::isfinite(loss)) {
        const auto where = first_nonfinite(model.activations());
        fail("step {}: the loss is {} — first non-finite activation: {}. Lower train.lr, raise "
             "train.warmup, or check the data",
             step, loss, where.value_or("(none: the loss itself overflowed)"));
      }
      loss_sum += loss;
      if (score) score_recall(model, tokens, answers, correct);
      model.backward();
    }
    scale_gradients(model.grads(), 1.0 / static_cast<double>(s.grad_accum));
    const double sum_squares = gradient_sum_squares(model.grads());
    double grad_norm = std::sqrt(sum_squares);
    StepStats stats;
    if (!std::isfinite(grad_norm)) {
      const auto where = first_nonfinite(model.grads());
      PHA_REQUIRE(skipped < s.max_skipped_steps,
                  "step {}: the gradient norm is {}; first non-finite gradient: {}. {} step(s) "
                  "were skipped already (train.max_skipped_steps = {}): lower train.lr or raise "
                  "train.max_skipped_steps",
                  step, grad_norm, where.value_or("?"), skipped, s.max_skipped_steps);
      ++skipped;
      fmt::print("step {}: non-finite gradient in {}; step skipped ({} of {} allowed)\n", step,
                 where.value_or("?"), skipped, s.max_skipped_steps);
      stats.skipped = true;
    } else {
      if (s.grad_clip > 0) grad_norm = clip_by_global_norm(model.grads(), sum_squares, s.grad_clip);
      optimizer.set_lr(schedule.lr(step));
      optimizer.step(model.params(), model.grads(), model.param_specs(), step);
    }
    stats.step = step;
    stats.total_steps = s.steps;
    stats.loss = loss_sum / static_cast<double>(s.grad_accum);
    stats.lr = schedule.lr(step);
    stats.grad_norm = grad_norm;
    stats.seconds = seconds_since(start);
    train_seconds += stats.seconds;
    stats.tokens = static_cast<double>(global_batch * T);
    stats.flops = flops_per_token * stats.tokens;
    stats.peak_flops = peak;
    stats.peak_rss_mib = peak_rss_mib();
    stats.eta_seconds = train_seconds / static_cast<double>(step) * static_cast<double>(s.steps - step);
    if (answers) stats.recall_accuracy = static_cast<double>(correct) / static_cast<double>(answers);
    if (step % s.log_every == 0 || step == 1 || step == s.steps)
      fmt::print("{}\n", format_step_line(stats));

    JsonRecord record;
    record.add("kind", std::string("step")).add("step", step).add("loss", stats.loss);
    record.add("ppl", std::exp(stats.loss)).add("lr", stats.lr).add("grad_norm", grad_norm);
    record.add("tokens_per_s", stats.tokens / stats.seconds);
    record.add("flops_per_s", stats.flops / stats.seconds);
    record.add("mfu", stats.flops / stats.seconds / peak).add("peak_rss_mib", stats.peak_rss_mib);
    record.add("tokens_seen", step * global_batch * T).add("skipped", int64_t{stats.skipped});
    if (answers) record.add("recall", stats.recall_accuracy);
    record.add("mixing_weights", model.mixing_weights());
    metrics.write(record);

    if ((s.eval_every > 0 && step % s.eval_every == 0) || step == s.steps) {
      last_eval = evaluate(model, val_data.view(), s.eval_batches, val_data.synthetic());
      print_eval(step, last_eval);
      metrics.write(eval_record(step, last_eval));
    }
  }

  const std::string weights = (fs::path(cfg.run_dir) / "weights.h5").string();
  save_weights(weights, model, config_ini);
  fmt::print("done: {} steps in {} | final val loss {:.4f} (ppl {:.2f})\n", s.steps,
             format_duration(train_seconds), last_eval.loss, last_eval.perplexity);
  fmt::print("run directory: {}\n  config:  {}/config.ini\n  metrics: {}/metrics.jsonl\n  "
             "weights: {}\n",
             cfg.run_dir, cfg.run_dir, cfg.run_dir, weights);
  return kTrainDone;
}

}  // namespace pha::launch
