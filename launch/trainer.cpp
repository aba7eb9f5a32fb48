#include "launch/trainer.h"

#include <fmt/format.h>
#include <mpi.h>
#include <omp.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "core/cpu/blas_kernel.h"
#include "core/cpu/cpu_features.h"
#include "core/version.h"
#include "io/checkpoint.h"
#include "io/checkpoint_writer.h"
#include "io/metrics.h"
#include "io/tensorboard_writer.h"
#include "launch/device_backend.h"
#include "launch/evaluator.h"
#include "launch/flops.h"
#include "launch/grad_sync.h"
#include "launch/memory_plan.h"
#include "launch/metric_scalars.h"
#include "launch/pipeline_step.h"
#include "launch/step_log.h"
#include "launch/train_data.h"
#include "launch/weights_file.h"
#include "optim/clip.h"
#include "optim/schedule.h"
#include "parallel/abort.h"
#include "parallel/launch_env.h"

extern "C" void openblas_set_num_threads(int);

namespace pha::launch {

namespace {

using Clock = std::chrono::steady_clock;
using parallel::ReduceOp;
namespace fs = std::filesystem;

// Set by SIGTERM or SIGUSR1: finish the step, checkpoint, exit with kTrainPreempted.
volatile std::sig_atomic_t preempt_requested = 0;
extern "C" void on_preempt_signal(int) {
  preempt_requested = 1;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

AdamWConfig adamw_config(const TrainSettings& s) {
  AdamWConfig c;
  c.beta1 = s.beta1;
  c.beta2 = s.beta2;
  c.eps = s.eps;
  c.weight_decay = s.weight_decay;
  c.dss_lr_cap = s.dss_lr_cap;
  return c;
}

// This rank's part of the model, with the run's recompute mode.
ModelPart model_part_of(Distributed& dist, const TrainConfig& c) {
  ModelPart part = dist.model_part(c.model);
  part.recompute = parse_recompute(c.train.recompute);
  part.head_chunk_rows = c.train.head_chunk_rows;
  return part;
}

// Everything a run holds; built collectively on every rank.
struct Run {
  const TrainConfig& cfg;
  const std::string& config_ini;
  // Where this rank runs (Slurm, Open MPI or MPI's view): its node-local rank picks its GPU.
  parallel::LaunchEnv launch;
  std::unique_ptr<Backend> backend_owner;
  Backend& backend;
  Precision precision;
  Distributed dist;
  Model model;
  AdamW optimizer;
  CosineSchedule schedule;
  TokenStream train_data, val_data;
  io::BatchSampler sampler;
  GradientSync sync;
  bool rank0;
  std::unique_ptr<MetricsWriter> metrics;
  std::unique_ptr<io::TensorBoardWriter> tensorboard;  // rank 0, unless run.tensorboard = false
  // Writes checkpoints in the background (train.async_ckpt); null: they are written in place.
  std::unique_ptr<ckpt::CheckpointWriter> writer;
  double peak = 0, flops_per_token = 0;
  double fma_peak = 0;        // this rank's theoretical f32 FMA peak (CPU only)
  int64_t first_step = 1;     // 1, or the step after the resumed checkpoint's
  uint64_t first_sample = 0;  // global sample index of first_step's batch
  int64_t tokens_seen = 0;

  Run(const TrainConfig& c, const std::string& ini)
      : cfg(c),
        config_ini(ini),
        launch(parallel::detect_launch_env(MPI_COMM_WORLD)),
        backend_owner(make_device_backend(c.train.device, launch.local_rank)),
        backend(*backend_owner),
        precision(Precision::parse(c.train.precision)),
        dist(parallel::Layout{static_cast<int>(c.parallel.dp), static_cast<int>(c.parallel.tp),
                              static_cast<int>(c.parallel.pp), static_cast<int>(c.parallel.cp)},
             c.model, c.train.grad_accum, c.parallel.timeout_s, &backend),
        model(backend, c.model, c.train.batch_size, c.train.seq_len, precision,
              GradientSync::with_grad_window(model_part_of(dist, c), c.parallel.zero_stage(),
                                             dist.grad_size())),
        optimizer(backend, model.param_table(), adamw_config(c.train),
                  GradientSync::owned_ranges(model, dist, c.parallel.zero_stage())),
        schedule(ScheduleConfig{c.train.lr, c.train.min_lr, c.train.warmup, c.train.steps}),
        train_data(c.data.train, "train", c.train.seed, c.data.synthetic_tokens, c.model.vocab,
                   synthetic_options(c.data)),
        val_data(c.data.val, "val", c.train.seed, c.data.synthetic_tokens, c.model.vocab,
                 synthetic_options(c.data)),
        sampler(train_data.view(), static_cast<uint64_t>(c.train.seq_len), c.train.seed),
        sync(model, dist, c.parallel.zero_stage(), c.parallel.overlap_grad_reduce,
             1.0 / static_cast<double>(c.train.grad_accum), GradBuckets::kBucketElements,
             c.parallel.grad_buckets_in_flight),
        rank0(dist.grid.rank() == 0) {
    model.init_parameters(c.train.seed);
    MPI_Comm world_comm = dist.grid.comm(parallel::GroupKind::world);
    if (const auto path = ckpt::resolve_resume(c.run_dir, c.train.resume, world_comm)) {
      const ckpt::TrainingState state = ckpt::load(*path, model, optimizer, world_comm);
      first_step = state.step + 1;
      first_sample = state.next_sample;
      tokens_seen = state.tokens_seen;
      if (rank0)
        fmt::print("resumed from {} (step {}, written by layout {}, next sample {})\n", *path,
                   state.step, state.layout, state.next_sample);
    }
    if (rank0) {
      fs::create_directories(c.run_dir);
      std::ofstream out(fs::path(c.run_dir) / "config.ini");
      out << ini;
      PHA_REQUIRE(out.good(), "cannot write '{}/config.ini': check the run directory", c.run_dir);
      metrics = std::make_unique<MetricsWriter>((fs::path(c.run_dir) / "metrics.jsonl").string());
      if (c.tensorboard)
        tensorboard =
            std::make_unique<io::TensorBoardWriter>((fs::path(c.run_dir) / "tb").string());
    }
    if (c.train.async_ckpt) {
      const int level = ckpt::mpi_thread_level();
      if (level == MPI_THREAD_MULTIPLE)
        writer = std::make_unique<ckpt::CheckpointWriter>(dist.world, c.run_dir,
                                                          static_cast<int>(c.train.keep_last),
                                                          static_cast<int>(c.train.keep_every));
      else if (rank0)
        fmt::print(stderr,
                   "pha train: train.async_ckpt: MPI provides {}, not MPI_THREAD_MULTIPLE; "
                   "checkpoints are written synchronously\n",
                   ckpt::mpi_thread_level_name(level));
    }
  }

  int64_t global_batch() const {
    return cfg.train.batch_size * cfg.train.grad_accum * dist.grid.layout().dp;
  }

  void print_header() {
    const MemoryFigures mem = model.memory();
    // The matmul peak of the type the model's matmuls run in (a larger probe on a GPU).
    const bool gpu = backend.device() == Device::cuda;
    peak = measure_matmul_peak(backend, gpu ? 4096 : 1024, 5,
                               precision.act == DType::bf16 ? DType::bf16 : DType::f32);
    flops_per_token = train_flops_per_token(cfg.model, cfg.train.seq_len);
    const int threads = omp_get_max_threads();
    const double cores = rank_core_share(threads, launch.local_size);
    if (!gpu) fma_peak = theoretical_fma_peak(cores);
    const std::string rank_table = parallel::rank_host_table(MPI_COMM_WORLD, launch);
    const std::string memory = memory_lines();
    if (!rank0) return;
    fmt::print("{}", rank_table);
    const auto& L = dist.grid.layout();
    fmt::print("model: {}\n", cfg.model.summary());
    fmt::print(
        "parameters: {} ({:.2f}M) | layout {}{} | {} micro-batches of {} "
        "x {} tokens per rank and step, global batch {} sequences\n",
        count_parameters(cfg.model), count_parameters(cfg.model) / 1e6, L.str(),
        sync.zero() ? fmt::format(" (ZeRO-{})", sync.zero()) : "", cfg.train.grad_accum,
        cfg.train.batch_size, cfg.train.seq_len, global_batch());
    fmt::print(
        "rank 0 memory: parameters+gradients {:.1f} MiB | activations {:.1f} MiB ({} "
        "slots) + backward scratch {:.1f} MiB\n",
        mem.parameter_bytes / 1048576.0, mem.activation_bytes / 1048576.0, model.part().slots,
        mem.scratch_bytes / 1048576.0);
    fmt::print("{}", memory);
    fmt::print("train data: {} | {} windows of {} tokens per epoch\n", train_data.description(),
               sampler.windows_per_epoch(), cfg.train.seq_len);
    fmt::print("val data:   {}\n", val_data.description());
    fmt::print(
        "machine: {} ({} precision); measured {} matmul peak {:.1f} GFLOP/s per rank{}; model "
        "{:.3f} GFLOP per token (forward+backward)\n",
        backend.name(), precision.str(), precision.act == DType::bf16 ? "bf16" : "f32", peak / 1e9,
        backend.device() == Device::cpu ? fmt::format(" ({} threads)", omp_get_max_threads())
                                        : std::string(),
        flops_per_token / 1e9);
    const CpuFeatures& cpu = cpu_features();
    fmt::print(
        "cpu: {} | {} | {:.2f} GHz measured, {} f32 FLOP/cycle/core (FMA peak {:.1f} "
        "GFLOP/s on {:.3g} cores per rank: {} threads, {} ranks on {} hardware threads)\n",
        cpu.model, cpu.feature_list(), measured_clock_hz() / 1e9, f32_flops_per_cycle(cpu),
        theoretical_fma_peak(cores) / 1e9, cores, threads, launch.local_size,
        std::thread::hardware_concurrency());
    fmt::print("blas: {} | kernel {} | threads {} | {}\n", blas_library(), blas_kernel_name(),
               blas_threading(), blas_kernel_choice());
    if (const std::string w = blas_threading_warning(threads); !w.empty()) fmt::print("{}\n", w);
    JsonRecord r;
    r.add("kind", std::string("machine"))
        .add("cpu", cpu.model)
        .add("cpu_features", cpu.feature_list());
    r.add("blas", blas_library())
        .add("blas_kernel", blas_kernel_name())
        .add("blas_threading", blas_threading());
    r.add("threads_per_rank", int64_t{threads})
        .add("ranks", int64_t{dist.grid.layout().world_size()});
    r.add("matmul_peak_flops_per_s", peak * dist.grid.layout().world_size());
    if (!gpu) {
      r.add("clock_hz", measured_clock_hz())
          .add("f32_flops_per_cycle", int64_t{f32_flops_per_cycle(cpu)});
      r.add("fma_peak_flops_per_s", fma_peak * dist.grid.layout().world_size());
    }
    metrics->write(r);
  }

  // Collective: the planner's table for this layout (pha plan) and, per rank, the bytes its
  // arenas really hold, in the same fields; the text on rank 0.
  std::string memory_lines() {
    const RankMemory mine = allocated_memory(model, optimizer, sync);
    const uint64_t sizes[8] = {mine.parameters, mine.gradients,   mine.grad_window,
                               mine.compute,    mine.optimizer,   mine.activations,
                               mine.scratch,    mine.comm_buffers};
    const int world = dist.grid.layout().world_size();
    std::vector<uint64_t> all(rank0 ? 8 * static_cast<size_t>(world) : 0);
    MPI_Gather(sizes, 8, MPI_UINT64_T, all.data(), 8, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    if (!rank0) return "";
    std::string out =
        format_plan(plan_layout(cfg, dist.grid.layout(), sync.zero(), cfg.train.grad_accum), cfg);
    for (int r = 0; r < world; ++r) {
      const uint64_t* v = &all[8 * static_cast<size_t>(r)];
      RankMemory m;
      m.parameters = v[0], m.gradients = v[1], m.grad_window = v[2], m.compute = v[3];
      m.optimizer = v[4], m.activations = v[5], m.scratch = v[6], m.comm_buffers = v[7];
      const parallel::GridCoord c = parallel::coord_of(dist.grid.layout(), r);
      out += fmt::format("allocated rank {} (dp {} tp {} pp {}{}): {} arenas {}\n", r, c.dp, c.tp,
                         c.pp, dist.grid.layout().cp > 1 ? fmt::format(" cp {}", c.cp) : "",
                         m.arena_fields(), m.arena_total());
    }
    return out;
  }

  EvalResult evaluate_now(int64_t step) {
    const EvalResult e =
        evaluate(model, dist, val_data.view(), cfg.train.eval_batches, val_data.synthetic());
    if (rank0) {
      fmt::print("eval  step {:>5} | val loss {:.4f} | val ppl {:.2f} | {} windows{}\n", step,
                 e.loss, e.perplexity, e.windows,
                 e.recall_answers ? fmt::format(" | recall accuracy {:.3f} over {} answers",
                                                e.recall_accuracy, e.recall_answers)
                                  : "");
      JsonRecord r;
      r.add("kind", std::string("eval")).add("step", step).add("val_loss", e.loss);
      r.add("val_ppl", e.perplexity).add("val_windows", e.windows);
      if (e.recall_answers) r.add("val_recall", e.recall_accuracy);
      metrics->write(r);
      if (tensorboard) tensorboard->write(step, record_scalars("eval", r));
    }
    return e;
  }

  ckpt::TrainingState state_after(int64_t step, uint64_t next_sample) const {
    ckpt::TrainingState state;
    state.step = step;
    state.tokens_seen = tokens_seen;
    state.next_sample = next_sample;
    state.seed = cfg.train.seed;
    state.config_ini = config_ini;
    state.layout = dist.grid.layout().str();
    state.program_version = PHA_VERSION;
    return state;
  }

  void report_committed(int64_t step, const ckpt::SaveResult& r, const std::string& how) {
    if (rank0)
      fmt::print("checkpoint step {}: {} ({:.1f} MB in {:.2f} s, {:.1f} MB/s{})\n", step, r.dir,
                 r.megabytes, r.seconds, r.megabytes / std::max(r.seconds, 1e-9), how);
  }

  // Collective: waits for the background write in flight, if any, and reports its commit.
  // Returns the seconds the training thread waited.
  double join_checkpoint() {
    if (!writer) return 0;
    const auto joined = writer->join();
    if (!joined) return 0;
    report_committed(
        joined->step, joined->result,
        fmt::format("; in the background, training waited {:.2f} s for it", joined->waited_s));
    return joined->waited_s;
  }

  // Collective: a checkpoint of the state after `step` (ZeRO: the sharded masters and moments
  // gathered by kind). In the
  // background when a writer exists: the previous write is joined first (one in flight at most),
  // and `wait` joins this one too (the last step, preemption). It counts once committed.
  void checkpoint(int64_t step, uint64_t next_sample, bool wait) {
    const auto start = Clock::now();
    double waited = 0;
    if (writer) waited = join_checkpoint();
    const ckpt::TrainingState state = state_after(step, next_sample);
    ckpt::WholeGather gather;
    if (sync.zero())
      gather = [this](int kind) -> const Arena& {
        return kind == 0 ? sync.gather_masters(model)
                         : sync.gather_moment(model, optimizer, kind == 2);
      };
    if (writer) {
      writer->start(ckpt::take_snapshot(model, optimizer, state, dist.grid.coord(),
                                        writer->take_spare(), gather));
      if (wait) waited += join_checkpoint();
    } else {
      report_committed(step,
                       ckpt::save(cfg.run_dir, model, optimizer, state,
                                  dist.grid.comm(parallel::GroupKind::world), dist.grid.coord(),
                                  static_cast<int>(cfg.train.keep_last),
                                  static_cast<int>(cfg.train.keep_every), gather),
                       "");
    }
    sync.release_gather_buffer();  // ZeRO-2: the gathered tensors are written or copied
    if (rank0) {
      // The time the training thread spent on this checkpoint (snapshot, waits, or the write).
      JsonRecord r;
      r.add("kind", std::string("checkpoint")).add("step", step);
      r.add("async", int64_t{writer != nullptr}).add("blocking_s", seconds_since(start));
      r.add("waited_s", waited);
      metrics->write(r);
    }
  }

  int loop();
};

int Run::loop() {
  const TrainSettings& s = cfg.train;
  const int64_t B = s.batch_size, T = s.seq_len;
  const int dp = dist.grid.layout().dp;
  std::vector<std::vector<int32_t>> micro_tokens(static_cast<size_t>(s.grad_accum),
                                                 std::vector<int32_t>(static_cast<size_t>(B * T)));
  const bool score = train_data.synthetic() && dist.last_stage();
  // Every cp rank returns the whole micro-batch's loss: cp rank 0 reports it.
  const bool reporter = dist.last_stage() && dist.tp_rank() == 0 && dist.cp_rank() == 0;
  int64_t skipped = 0;
  double train_seconds = 0;
  // The untrained model's validation loss: the baseline every later evaluation is read against.
  EvalResult last_eval = s.eval_every > 0 && first_step == 1 ? evaluate_now(0) : EvalResult{};
  for (int64_t step = first_step; step <= s.steps; ++step) {
    const auto start = Clock::now();
    dist.reset_comm_stats();
    // This dp rank's slice of the global batch, micro-batch by micro-batch. The position is a
    // global sample index, so a resumed run (on any layout) continues with the same samples.
    const uint64_t first =
        first_sample + static_cast<uint64_t>((step - first_step) * global_batch());
    for (int64_t m = 0; m < s.grad_accum; ++m) {
      const uint64_t sample =
          first + static_cast<uint64_t>((dist.dp_rank() * s.grad_accum + m) * B);
      sampler.fill_local_batch(sample, static_cast<uint64_t>(B), 0, 1,
                               micro_tokens[static_cast<size_t>(m)].data());
    }
    model.zero_grads();
    int64_t answers = 0, correct = 0;
    const double cpu_start = parallel::thread_cpu_seconds();
    const PipelineResult pr = run_pipeline_step(
        model, dist, [&](int m) { return micro_tokens[static_cast<size_t>(m)].data(); },
        [&](int m, int slot) {
          if (score)
            score_recall(model, dist, slot, micro_tokens[static_cast<size_t>(m)].data(), answers,
                         correct);
        },
        sync.last_backward_hook(), sync.every_backward_hook(), score);
    // This rank's compute: its thread's CPU time in forward and backward, less the time it spent
    // polling transfers and collectives (one OpenMP thread per rank: bench/context_parallel.sh).
    const double compute_cpu_s =
        parallel::thread_cpu_seconds() - cpu_start - dist.comm_cpu_seconds();
    const std::vector<double> rank_compute = dist.world.all_gather_scalar(compute_cpu_s);
    // Completes the dp average started during backward (scaled by 1/grad_accum), on every step:
    // a skipped step must not leave reductions in flight.
    sync.reduce(model);
    const double loss = dist.world.all_reduce_scalar(
        reporter ? pr.loss_sum / static_cast<double>(s.grad_accum * dp) : 0.0, ReduceOp::sum);
    // A non-finite loss or gradient stops the step, naming the first tensor where it appeared
    // (activations in forward order, else gradients); up to max_skipped_steps are skipped.
    double grad_norm = NAN, sum_squares = NAN;
    std::string nonfinite;
    if (!std::isfinite(loss)) {
      nonfinite = fmt::format("the loss is {}; first non-finite activation on rank {}: {}", loss,
                              dist.grid.rank(),
                              first_nonfinite(model.activations()).value_or("(none here)"));
    } else {
      sum_squares = sync.global_sum_squares(model);
      grad_norm = std::sqrt(sum_squares);
      if (!std::isfinite(grad_norm))
        nonfinite = fmt::format("the gradient norm is {}; first non-finite gradient on rank {}: {}",
                                grad_norm, dist.grid.rank(),
                                sync.first_nonfinite_gradient(model).value_or("(none here)"));
    }
    StepStats stats;
    if (!nonfinite.empty()) {
      PHA_REQUIRE(skipped < s.max_skipped_steps,
                  "step {}: {}. {} step(s) were skipped already (train.max_skipped_steps = {}): "
                  "lower train.lr, raise train.warmup, check the data, or allow skipped steps",
                  step, nonfinite, skipped, s.max_skipped_steps);
      ++skipped;
      if (rank0)
        fmt::print("step {}: {}; step skipped ({} of {} allowed)\n", step, nonfinite, skipped,
                   s.max_skipped_steps);
      stats.skipped = true;
    } else {
      if (s.grad_clip > 0) grad_norm = sync.clip(model, sum_squares, s.grad_clip);
      optimizer.set_lr(schedule.lr(step));
      sync.step(model, optimizer, step);  // refreshes the compute copies
    }
    const int64_t all_answers = dist.world.all_reduce_scalar(answers, ReduceOp::sum);
    const int64_t all_correct = dist.world.all_reduce_scalar(correct, ReduceOp::sum);
    stats.step = step;
    stats.total_steps = s.steps;
    stats.loss = loss;
    stats.lr = schedule.lr(step);
    stats.grad_norm = grad_norm;
    stats.seconds = seconds_since(start);
    train_seconds += stats.seconds;
    stats.tokens = static_cast<double>(global_batch() * T);
    stats.flops = flops_per_token * stats.tokens;
    // The whole job's FLOP/s against the summed peak of its ranks.
    stats.peak_flops = peak * dist.grid.layout().world_size();
    stats.fma_peak_flops = fma_peak * dist.grid.layout().world_size();
    // The log shows the GPU's peak on cuda (this rank's backend), else the peak resident set.
    const bool gpu = backend.device() == Device::cuda;
    const double device_mib = static_cast<double>(backend.memory_use().peak) / 1048576.0;
    stats.peak_rss_mib = gpu ? device_mib : peak_rss_mib();
    stats.eta_seconds = train_seconds / static_cast<double>(step - first_step + 1) *
                        static_cast<double>(s.steps - step);
    if (all_answers)
      stats.recall_accuracy = static_cast<double>(all_correct) / static_cast<double>(all_answers);
    // Collectives (tp, dp, world) vs time blocked in the pipeline's point-to-point transfers,
    // which on 1F1B is the bubble (waiting for the neighbour stage) plus the transfer itself.
    const double pipeline_s = dist.pp.stats().total().seconds;
    const double comm_fraction = (dist.comm_seconds() - pipeline_s) / stats.seconds;
    const double bubble = pipeline_s / stats.seconds;
    if (rank0) {
      if (step % s.log_every == 0 || step == 1 || step == s.steps)
        fmt::print("{} | comm {:.0f}% | pipeline wait {:.0f}%\n", format_step_line(stats),
                   100 * comm_fraction, 100 * bubble);
      JsonRecord record;
      record.add("kind", std::string("step")).add("step", step).add("loss", stats.loss);
      record.add("ppl", std::exp(stats.loss)).add("lr", stats.lr).add("grad_norm", grad_norm);
      record.add("tokens_per_s", stats.tokens / stats.seconds);
      record.add("flops_per_s", stats.flops / stats.seconds);
      // mfu: against the measured matmul; mfu_fma_peak: against the cores' theoretical peak.
      record.add("mfu", stats.flops / stats.seconds / stats.peak_flops);
      if (!gpu) record.add("mfu_fma_peak", stats.flops / stats.seconds / stats.fma_peak_flops);
      record.add("peak_rss_mib", peak_rss_mib()).add("comm_fraction", comm_fraction);
      if (gpu) record.add("peak_device_mib", device_mib);
      record.add("pipeline_wait_fraction", bubble);
      // Time this rank's training thread spent in the dp gradient average (starts and waits):
      // with the overlap, the exposed part only (bench/grad_overlap.sh).
      record.add("dp_reduce_s", dist.grad.stats()[parallel::CommOp::all_reduce].seconds);
      record.add("rank_compute_cpu_s",
                 std::vector<float>(rank_compute.begin(), rank_compute.end()));
      record.add("tokens_seen", tokens_seen + global_batch() * T)
          .add("skipped", int64_t{stats.skipped});
      if (all_answers) record.add("recall", stats.recall_accuracy);
      const std::vector<std::vector<float>> mixing = model.mixing_weights();
      record.add("mixing_weights", mixing);
      metrics->write(record);
      if (tensorboard) {
        io::Scalars scalars = record_scalars("train", record);
        for (auto& scalar : mixing_scalars(cfg.model, model.part().first_layer, mixing))
          scalars.push_back(std::move(scalar));
        tensorboard->write(step, scalars);
      }
    }
    tokens_seen += global_batch() * T;
    if ((s.eval_every > 0 && step % s.eval_every == 0) || step == s.steps)
      last_eval = evaluate_now(step);
    // Every rank must agree to stop: a signal may reach only some of them.
    const bool budget_spent = s.stop_after > 0 && step - first_step + 1 >= s.stop_after;
    const bool preempt =
        dist.world.all_reduce_scalar(int64_t{preempt_requested}, ReduceOp::max) > 0 || budget_spent;
    const uint64_t next_sample = first + static_cast<uint64_t>(global_batch());
    if ((s.ckpt_every > 0 && step % s.ckpt_every == 0) || step == s.steps || preempt)
      checkpoint(step, next_sample, step == s.steps || preempt);
    if (preempt && step < s.steps) {
      if (rank0)
        fmt::print(
            "preempted after step {}: checkpoint written; exiting with status {} "
            "(resume with --train.resume=auto)\n",
            step, static_cast<int>(kTrainPreempted));
      return kTrainPreempted;
    }
  }
  join_checkpoint();  // none is in flight (the last step's was joined); HDF5 is free again
  const auto& L = dist.grid.layout();
  const std::string weights = (fs::path(cfg.run_dir) / "weights.h5").string();
  save_weights(weights, model, sync.gather_masters(model), config_ini,
               dist.grid.comm(parallel::GroupKind::world), dist.grid.coord());
  sync.release_gather_buffer();
  if (rank0) {
    fmt::print("done: {} steps in {} | final val loss {:.4f} (ppl {:.2f})\n", s.steps,
               format_duration(train_seconds), last_eval.loss, last_eval.perplexity);
    fmt::print(
        "run directory: {}\n  config:  {}/config.ini\n  metrics: {}/metrics.jsonl\n"
        "  weights: {} (written by all {} ranks, global shapes)\n",
        cfg.run_dir, cfg.run_dir, cfg.run_dir, weights, L.world_size());
  }
  return kTrainDone;
}

}  // namespace

int train(const TrainConfig& cfg, const std::string& config_ini) {
  const TrainSettings& s = cfg.train;
  if (s.threads > 0) omp_set_num_threads(static_cast<int>(s.threads));
  openblas_set_num_threads(s.threads > 0 ? static_cast<int>(s.threads) : omp_get_max_threads());
  // From the start: a preemption signal during set-up (a checkpoint load) is honoured after the
  // first step instead of killing the process.
  std::signal(SIGTERM, on_preempt_signal);
  std::signal(SIGUSR1, on_preempt_signal);
  const int rank = parallel::world_rank();
  // Set-up: every rank builds its part; the lowest failing rank reports, all stop together.
  std::unique_ptr<Run> run;
  std::string error;
  try {
    run = std::make_unique<Run>(cfg, config_ini);
  } catch (const std::exception& e) {
    error = e.what();
  }
  int failing = error.empty() ? INT32_MAX : rank, first_failing = 0;
  MPI_Allreduce(&failing, &first_failing, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (first_failing != INT32_MAX) {
    if (rank == first_failing) fmt::print(stderr, "pha train: error: {}\n", error);
    return kTrainFailed;
  }
  try {
    run->print_header();
    return run->loop();
  } catch (const ckpt::CommitError& e) {
    // Every rank has the same error (checkpoint.h): one prints, all stop in order.
    if (rank == 0) fmt::print(stderr, "pha train: error: {}\n", e.what());
    return kTrainFailed;
  } catch (const std::exception& e) {
    int world = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    if (world == 1) throw;
    parallel::abort_job(rank, e.what());
  }
}

}  // namespace pha::launch
