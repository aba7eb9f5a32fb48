#pragma once
// The PHA model on one rank: embedding, L blocks, final norm, head and loss, with every buffer
// planned up front. No autograd: backward calls each layer's backward in reverse.
//
// Under 3D parallelism a Model is one (tp rank, pipeline stage) part of the whole: its blocks are
// the stage's contiguous range, the embedding lives on the first stage, the final norm and head on
// the last (which holds its own copy of E when the embedding is tied), and every split parameter
// holds this tp rank's block. The pipeline keeps several micro-batches in flight, so activations
// come in `slots`: one activation arena each, sharing parameters, gradients and scratch.
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "core/element_range.h"
#include "layers/block.h"
#include "layers/embedding.h"
#include "layers/grad_window.h"
#include "layers/head.h"

namespace pha {

// Called during a backward as parameter gradients become complete for this call: the
// parameters [first, end) of param_specs() (table order, so one contiguous range of the gradient
// arena) will not be written again by this backward. Used to start their data-parallel reduction
// while backward goes on.
using GradsReadyHook = std::function<void(size_t first, size_t end)>;

struct MemoryFigures {
  size_t parameter_bytes = 0;  // parameters + gradients (+ compute copies under mixed precision)
  // Forward activations kept for backward, all slots, plus the recompute buffer (one layer's
  // recomputed activations, shared by all layers and slots).
  size_t activation_bytes = 0;
  size_t scratch_bytes = 0;  // backward temporaries shared by all layers
};

// Which part of the model this rank computes.
struct ModelPart {
  TpPosition tp;
  Communicator* tp_comm = nullptr;  // required when tp.size > 1
  int64_t first_layer = 0;
  int64_t n_layers = -1;  // -1: every layer (one stage)
  bool has_embedding = true, has_head = true;
  int slots = 1;  // micro-batches in flight
  // Context parallelism: this rank holds chunks cp.chunk(0) and cp.chunk(1) of every sequence
  // (parallel/context_split.h); cp_comm (required when cp.size > 1) links the ranks of the split.
  parallel::ContextSplit cp;
  Communicator* cp_comm = nullptr;
  // The parameter and gradient arenas are padded to this many equal chunks of whole elements
  // (the dp size: ZeRO all-gathers and reduce-scatters them in place, one chunk per dp rank);
  // this rank owns chunk flat_chunk (its rank among the dp x cp ranks reducing its gradients).
  int flat_chunks = 1, flat_chunk = 0;
  // ZeRO-2: gradients live in a reusable window (layers/grad_window.h), not one arena for the
  // step; every backward then reports its groups as they complete (including the tied
  // embedding's half from the head, with pp = 1), and someone must move them out (GradientSync).
  bool grad_window = false;
  // ZeRO with compute copies (Precision::compute_copies; ignored without): the compute arena is
  // laid out like the parameter arena, element for element in the compute type, padded to
  // flat_chunks chunks, so that each dp rank converts its chunk of the masters into its chunk of
  // the copies and the copies are all-gathered in place (bf16: half the bytes of the masters).
  // The masters are sharded: this rank holds only chunk flat_chunk of the flat parameter arena
  // (the master shard, where the matmul weights' masters live) and the parameters without a
  // compute copy whole (Model::params()).
  bool compute_in_chunks = false;
  // Which block activations are dropped after the forward and recomputed in the block's
  // backward (planner.h); the pipeline needs nothing else: each slot keeps its block inputs.
  Recompute recompute = Recompute::none;
  // The head's logits (layers/head.h): 0 keeps [B*T, V_pad/tp] from the forward for the
  // backward; > 0 computes them in chunks of this many rows, and a forward with
  // ForwardOptions::head_gradient takes the loss's gradient chunk by chunk (the trainer's way:
  // no B*T*V_pad/tp floats kept; logits() is then unavailable).
  int64_t head_chunk_rows = 0;
};

// What a forward computes besides the loss (last stage).
struct ForwardOptions {
  // A head in chunks (ModelPart::head_chunk_rows) takes the loss's gradient in the forward, so a
  // backward may follow; required before that backward, ignored by a whole head.
  bool head_gradient = false;
  // Each row's most likely token (predictions()): recall scoring.
  bool predict = false;
};

// What a model part allocates, from its size tables (the declare pass alone: nothing is
// allocated). `pha plan` and the trainer's memory lines read it.
struct PlannedTables {
  SizeTable params, compute, acts, scratch;  // acts: one slot's
  SizeTable recompute;                       // the recompute buffer (one for all slots)
  size_t param_bytes = 0;  // the flat parameter (and gradient) arena, chunk-padded
  // The masters this rank holds: param_bytes, or (compute_in_chunks) the master shard (one chunk
  // of param_bytes) and the parameters without a compute copy, whole.
  size_t master_bytes = 0;
  size_t grad_bytes = 0;     // the gradient arena: param_bytes, or the window's (grad_window)
  size_t compute_bytes = 0;  // the compute arena: compute's, or chunked (compute_in_chunks)
  std::optional<GradWindow> window;  // part.grad_window: the window the model would bind
  int slots = 1;
  std::vector<ParamSpec> specs;
};

class Model {
 public:
  // A model part for micro-batches of `batch` sequences of `seq_len` tokens (the whole sequences,
  // also under context parallelism: the part then computes its two chunks), in `precision` (all
  // f32; all f64 for whole-model gradient checks; bf16 activations over f32 masters on the GPU).
  Model(Backend& backend, const ModelConfig& cfg, int64_t batch, int64_t seq_len,
        Precision precision = {}, ModelPart part = {});

  // Initialises the masters (and their compute copies).
  void init_parameters(uint64_t seed);
  // Parameter i of param_specs() from host values of the whole tensor, f32 [its numel] (an
  // initialisation, a checkpoint or weights load): writes the master's elements this rank holds
  // (with sharded masters: its chunk of a matmul weight) and casts the whole tensor into its
  // compute copy, so every rank's copies are the same.
  void write_master(size_t i, const float* whole);
  // The declare pass of the Model this would build (same checks), without allocating anything.
  static PlannedTables plan_tables(Backend& backend, const ModelConfig& cfg, int64_t batch,
                                   int64_t seq_len, Precision precision = {}, ModelPart part = {});
  // Rewrites the compute copies of the matmul weights from the whole masters: after an optimiser
  // step (write_master keeps them itself). Not with sharded masters (GradientSync::step casts
  // the master shard instead).
  void refresh_compute_weights();
  // The compute copies (empty without mixed precision), and whether they are laid out like the
  // parameter arena in dp chunks with the masters sharded (ModelPart::compute_in_chunks with
  // compute copies).
  const Arena& compute_copies() const { return compute_; }
  bool compute_in_chunks() const { return part_.compute_in_chunks && precision_.compute_copies(); }
  // compute_in_chunks: this rank's chunk [S] of the flat f32 masters, laid out like chunk
  // part().flat_chunk of the chunk-padded param_table() (the slots of the parameters without a
  // copy are unused: those live in params()); empty otherwise.
  const Arena& master_shard() const { return master_shard_; }
  // compute_in_chunks: per parameter of param_table(), the flat view of its elements in this
  // rank's chunk, where this rank keeps them (the master shard for the matmul weights, params()
  // for the others): what the optimiser updates. Empty otherwise.
  const std::vector<Tensor>& owned_masters() const { return owned_masters_; }

  // One stage, one slot: tokens host [B * T] ids in [0, V). Returns the mean loss over
  // (b, t < T-1) (under context parallelism summed over the cp ranks: every one returns it).
  double forward(const int32_t* tokens, ForwardOptions options = {}) {
    return stage_forward(0, tokens, options);
  }
  // Gradients of the last forward's loss, accumulated (+=) into the gradient arena.
  void backward() { stage_backward(0); }

  // Pipeline steps. stage_forward reads the tokens on every stage (the first embeds them, the
  // last takes its targets from them); a later stage's input must be in stage_input(slot). Returns
  // the mean loss on the last stage, NaN elsewhere. stage_backward starts from the loss on the
  // last stage, else from stage_grad() (the gradient of the stage's output); on return
  // stage_grad() holds the gradient of the stage's input (unless this is the first stage).
  double stage_forward(int slot, const int32_t* tokens, ForwardOptions options = {});
  // `ready` (optional) hears of each group of parameters whose gradients are complete: the head's
  // (untied weight, final norm), each block's in reverse order, then the embedding's. With a
  // gradient window and a tied embedding on one stage it also hears of the embedding right after
  // the head (the head's half of its gradient; the embedding's half follows at the end).
  void stage_backward(int slot, const GradsReadyHook& ready = {});
  const Tensor& stage_input(int slot) const { return slots_[static_cast<size_t>(slot)].x.front(); }
  const Tensor& stage_output(int slot) const { return slots_[static_cast<size_t>(slot)].x.back(); }
  const Tensor& stage_grad() const { return d_res_; }

  void zero_grads() { grads_.zero(); }

  const ModelConfig& config() const { return cfg_; }
  const ModelPart& part() const { return part_; }
  int64_t batch() const { return batch_; }
  int64_t seq_len() const { return seq_len_; }
  const std::vector<ParamSpec>& param_specs() const { return param_specs_; }
  // Every parameter, in order: the layout of the gradients, the optimiser, checkpoints.
  const SizeTable& param_table() const { return param_table_; }
  // The masters held whole: every parameter, or with sharded masters (compute_in_chunks) only
  // those without a compute copy (norm gains, D, alpha, the DSS lambda and C, mixing weights).
  const Arena& params() const { return params_; }
  // Bytes of the masters this rank holds (params() and the master shard).
  size_t master_bytes() const { return params_.bytes() + master_shard_.bytes(); }
  // The gradients: one per parameter, or (part().grad_window) views into the window, valid for
  // one group at a time (grad_window()).
  const Arena& grads() const { return grads_; }
  const GradWindow* grad_window() const { return window_ ? &*window_ : nullptr; }
  const Precision& precision() const { return precision_; }
  // Forward activations of slot 0, in forward order (to name the first non-finite one).
  const Arena& activations() const { return acts_.front(); }
  int64_t parameter_count() const { return param_table_.total_elements(); }
  MemoryFigures memory() const;
  // Logits of the last forward of slot 0, this rank's columns [B*T, V_pad/tp] (valid until
  // backward; under context parallelism this rank's rows, slot-major: [2B * C, V_pad/tp]).
  // Refused for a head in chunks (ModelPart::head_chunk_rows).
  const Tensor& logits(int slot = 0) const;
  // Per row of the last forward of `slot` with ForwardOptions::predict: the global id of the
  // most likely next token (the first maximum over the whole vocabulary), in the rows' order
  // (this rank's rows under context parallelism); the same on every tp rank.
  const std::vector<int32_t>& predictions(int slot = 0) const;
  // Per local layer: the mixing weights w ([n] or [n * d]); empty for serial blocks.
  std::vector<std::vector<float>> mixing_weights();
  // The embedding (first stage) or the tied head copy (last stage); nullopt when neither.
  std::optional<Param> embedding_param() const;
  Backend& backend() { return backend_; }

 private:
  struct Slot {
    Tensor tokens, local_tokens, targets;  // [B*T] i32
    std::vector<Tensor> x;                 // residual stream [local L + 1] x [B, T, d]
    std::vector<BlockLayer> blocks;
    HeadLayer head;
    bool head_gradient_taken = false;  // a head in chunks: by the last forward (backward's due)
    std::vector<int32_t> predictions;  // of the last forward with ForwardOptions::predict
  };
  struct DeclareOnly {};
  Model(DeclareOnly, Backend& backend, const ModelConfig& cfg, int64_t batch, int64_t seq_len,
        Precision precision, ModelPart part);
  // Validates, then runs the declare pass into `declare`.
  Planner declare_pass();
  // The gradient window of the declared parameters (part_.grad_window).
  GradWindow plan_window(const SizeTable& params) const;
  // compute_in_chunks: each compute copy at its master's element offset in the compute type;
  // the allocation is the chunk-padded parameter arena's elements in that type.
  struct ComputeLayout {
    std::vector<size_t> offsets;
    size_t bytes = 0;
  };
  ComputeLayout chunked_compute_layout(const SizeTable& params, const SizeTable& compute) const;
  // compute_in_chunks: the parameters held whole (those of `params` without a compute copy) and
  // the master shard's table.
  static SizeTable whole_master_table(const SizeTable& params, const SizeTable& compute);
  SizeTable master_shard_table(const SizeTable& params) const;
  void plan(Planner& planner, Slot& slot);
  const Tensor& head_weight() const;
  const Tensor& head_weight_grad() const;
  // What the loss's gradient is scaled by: cp / the counted rows (the mean).
  double loss_gradient_scale() const;

  Backend& backend_;
  ModelConfig cfg_;
  int64_t batch_, seq_len_;
  // The micro-batch as this rank holds it: B x T, or 2B x C under context parallelism.
  int64_t local_batch_ = 0, local_seq_ = 0;
  Precision precision_;
  ModelPart part_;
  std::vector<ParamSpec> param_specs_;
  SizeTable param_table_;
  Arena params_, master_shard_, grads_, compute_, scratch_, recompute_;
  // compute_in_chunks: per parameter, the elements in this rank's chunk, and where it keeps them.
  std::vector<ElementRange> owned_;
  std::vector<Tensor> owned_masters_;
  std::optional<GradWindow> window_;
  std::vector<Arena> acts_;  // one per slot
  std::vector<Slot> slots_;
  // [first, end) of param_specs_ per local block, and the head's and the embedding's.
  std::vector<std::pair<size_t, size_t>> block_params_;
  std::pair<size_t, size_t> head_params_{0, 0}, embedding_params_{0, 0};
  std::optional<EmbeddingLayer> embedding_;
  Tensor rope_;   // [T, d_h/2, 2], in slot 0's arena, shared
  Tensor d_res_;  // scratch [B, T, d]
  std::vector<int32_t> host_targets_, host_local_tokens_;
  std::vector<int32_t> host_tokens_;  // this rank's tokens (its chunks under context parallelism)
  int64_t counted_rows_ = 0;
};

// Every parameter of the whole model (one rank, one stage), in table order: names and global
// shapes.
std::vector<ParamSpec> model_param_specs(const ModelConfig& cfg);
// Parameter count of a configuration (from the same size table that allocates the model).
int64_t count_parameters(const ModelConfig& cfg);

}  // namespace pha
