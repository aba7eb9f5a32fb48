#pragma once
// Sharded checkpoints (../shared/spec/checkpoint.md): one directory per checkpoint holding one
// HDF5 file written by every rank together, every tensor a dataset in its GLOBAL shape
// (/model/<name>, /optim/exp_avg/<name>, /optim/exp_avg_sq/<name>), each rank writing the block
// it owns; a checksum attribute per dataset; an atomic commit (temporary name, verify, rename,
// COMMITTED, `latest` replaced atomically). Loading is a read of the blocks a rank needs, so a
// checkpoint of any layout loads into any other. docs/checkpoint-format.md documents the file.
#include <mpi.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "layers/model.h"
#include "optim/adamw.h"
#include "parallel/grid.h"

namespace pha::ckpt {

inline constexpr int kFormatVersion = 1;

// Everything a continuation needs besides the tensors. There is no RNG state to store: every
// random choice of pha is Philox(seed, stream, index), and the data order is a function of the
// seed and the global sample index.
struct TrainingState {
  int64_t step = 0;  // optimizer steps completed (also the schedule position)
  int64_t tokens_seen = 0;
  uint64_t next_sample = 0;  // global sample index of the next batch (layout-independent)
  uint64_t seed = 0;
  std::string config_ini;  // the whole configuration as text
  std::string layout;      // "dp 2 x tp 2 x pp 1" of the writer
  std::string program_version;
};

struct SaveResult {
  std::string dir;
  double seconds = 0;    // from the start of the write to the commit
  double megabytes = 0;  // tensor bytes written (all ranks)
};

// A checkpoint that failed in the commit stage (checksums, verification, rename, `latest`,
// pruning: rank 0's part). Every rank of the writing communicator throws it with the same message,
// so the caller can stop all ranks cleanly instead of aborting.
class CommitError : public Error {
 public:
  using Error::Error;
};

// A host copy of what this rank writes into one checkpoint, taken between two steps. Writing it
// needs no Model, Backend or optimizer, so the write may run on another thread while training
// goes on (checkpoint_writer.h).
struct Snapshot {
  struct Block {
    std::string dataset;        // "model/<name>", "optim/exp_avg/<name>", ...
    Shape shape;                // this rank's block
    int dim = -1;               // the split dim of the global dataset; -1: the whole tensor
    int64_t offset = 0;         // where the block starts along `dim`
    std::vector<float> values;  // [shape] row-major, f32 (the masters, not compute copies)
  };
  TrainingState state;
  std::vector<ParamSpec> file_specs;  // every parameter of the model: the file's datasets
  std::vector<Block> blocks;          // the blocks this rank writes (none on dp ranks > 0)
  double bytes() const;               // tensor bytes of the whole file (all ranks)
};

// ZeRO: the optimiser holds only its dp rank's chunk of each moment and, with compute copies, the
// model only its chunk of the matmul weights' masters. Collective over dp, called on every rank
// in the same order, once per kind of dataset (0: the masters, 1: exp_avg, 2: exp_avg_sq):
// returns an arena laid out like the parameters that holds the whole tensors of that kind,
// valid until the next call. Empty: the model and the optimiser hold them whole.
using WholeGather = std::function<const Arena&(int kind)>;

// This rank's blocks copied to host memory (a device-to-host copy on CUDA), through the backend.
// `recycled`: a snapshot written before, whose buffers are reused (none: fresh ones). Collective
// over dp when `gather` is set.
Snapshot take_snapshot(Model& model, const AdamW& optimizer, const TrainingState& state,
                       const parallel::GridCoord& coord, Snapshot recycled = {},
                       const WholeGather& gather = {});

// Collective over `comm` (any thread, as long as no other thread uses `comm` or HDF5 meanwhile).
// Each rank checksums its blocks from memory, writes them, and after the file is synced reads
// them back to compare; a block that reads back differently fails the write (CommitError, the
// checkpoint not committed). Writes RUN/checkpoints/step_%08d atomically, then prunes committed
// checkpoints beyond the newest `keep_last`, keeping steps divisible by `keep_every` (0: none). A
// failure of the commit stage throws CommitError on every rank. Test hooks:
// PHA_CKPT_CORRUPT_BLOCK=DATASET writes that dataset's block(s) with a value changed after
// checksumming (the read-back must refuse it);
// PHA_CKPT_CRASH_AT=after_datasets|before_rename|before_committed makes rank 0 exit with status 137
// at that point, as if killed; PHA_CKPT_WRITER_DELAY_S=S (and optionally
// PHA_CKPT_WRITER_DELAY_STEP=N) pauses rank 0 for S seconds after the datasets are written.
SaveResult write_snapshot(const std::string& run_dir, const Snapshot& snapshot, MPI_Comm comm,
                          int keep_last, int keep_every);

// take_snapshot + write_snapshot: a blocking checkpoint.
SaveResult save(const std::string& run_dir, Model& model, const AdamW& optimizer,
                const TrainingState& state, MPI_Comm comm, const parallel::GridCoord& coord,
                int keep_last, int keep_every, const WholeGather& gather = {});

// `spec`: none | auto | PATH (a checkpoint directory or its state.h5). auto takes the newest
// committed, verified checkpoint of RUN/checkpoints and falls back past damaged ones with a
// message. Collective: rank 0 decides, every rank returns the same answer or throws the same
// error.
std::optional<std::string> resolve_resume(const std::string& run_dir, const std::string& spec,
                                          MPI_Comm comm);

// Collective: fills this rank's parameters and AdamW moments (the elements its optimiser owns)
// from `checkpoint_dir`.
TrainingState load(const std::string& checkpoint_dir, Model& model, AdamW& optimizer,
                   MPI_Comm comm);

// One rank, serial: the checkpoint's contents and the status of every checksum.
struct DatasetReport {
  std::string name;
  Shape shape;
  size_t bytes = 0;
  bool checksum_ok = false;
  std::string problem;  // empty when the checksum matches
};
struct Inspection {
  std::string file;
  bool committed = false;
  TrainingState state;
  int format_version = 0;
  std::string created;
  std::vector<DatasetReport> datasets;
  bool intact() const;
  std::string first_problem() const;
};
Inspection inspect(const std::string& path);

}  // namespace pha::ckpt
