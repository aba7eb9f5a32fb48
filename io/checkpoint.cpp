#include "io/checkpoint.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <thread>

#include "io/checkpoint_checksum.h"
#include "io/h5_file.h"

namespace pha::ckpt {

namespace fs = std::filesystem;

namespace {

constexpr const char* kStateFile = "state.h5";

void crash_hook(const char* point) {
  const char* at = std::getenv("PHA_CKPT_CRASH_AT");
  if (at && std::string(at) == point) std::_Exit(137);
}

std::string step_name(int64_t step) {
  return fmt::format("step_{:08d}", step);
}

// The three datasets of a parameter and how to find this rank's tensor for each.
struct Kind {
  std::string prefix;  // "model/", "optim/exp_avg/", "optim/exp_avg_sq/"
  int which;           // 0 parameter, 1 exp_avg, 2 exp_avg_sq
};
const Kind kKinds[] = {{"model/", 0}, {"optim/exp_avg/", 1}, {"optim/exp_avg_sq/", 2}};

Tensor tensor_of(const Kind& k, Model& model, const AdamW& optimizer, const std::string& name) {
  if (k.which == 0) return model.params().get(name);
  return k.which == 1 ? optimizer.exp_avg(name) : optimizer.exp_avg_sq(name);
}

// This rank's block of a parameter in the file: (dim, offset); dim -1 is the whole tensor.
std::pair<int, int64_t> block_of(const ParamSpec& spec) {
  if (spec.split == TpSplit::rows) return {0, spec.offset};
  if (spec.split == TpSplit::cols) return {1, spec.offset};
  return {-1, 0};
}

// `t` as f32 in `out` (resized; its memory is reused when it is large enough already).
void copy_f32(Backend& be, const Tensor& t, std::vector<float>& out) {
  out.resize(static_cast<size_t>(t.numel()));
  if (t.dtype == DType::f32) {
    be.copy_to_host(t, out.data());
  } else {
    std::vector<double> d(out.size());
    be.copy_to_host(t, d.data());
    for (size_t i = 0; i < d.size(); ++i) out[i] = static_cast<float>(d[i]);
  }
}

void write_text_file(const fs::path& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  PHA_REQUIRE(fd >= 0, "cannot create '{}': check the run directory's permissions and space",
              path.string());
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  PHA_REQUIRE(ok, "writing '{}' failed (disk full?)", path.string());
}

int64_t step_of(const fs::path& dir) {
  const std::string name = dir.filename().string();
  if (name.rfind("step_", 0) != 0 || name.size() != 13) return -1;
  for (size_t i = 5; i < name.size(); ++i)
    if (name[i] < '0' || name[i] > '9') return -1;
  return std::stoll(name.substr(5));
}

// Committed checkpoints of `root`, newest first.
std::vector<fs::path> committed(const fs::path& root) {
  std::vector<fs::path> dirs;
  if (!fs::is_directory(root)) return dirs;
  for (const auto& entry : fs::directory_iterator(root))
    if (entry.is_directory() && step_of(entry.path()) >= 0 &&
        fs::exists(entry.path() / "COMMITTED"))
      dirs.push_back(entry.path());
  std::sort(dirs.begin(), dirs.end(),
            [](const fs::path& a, const fs::path& b) { return step_of(a) > step_of(b); });
  return dirs;
}

void prune(const fs::path& root, int keep_last, int keep_every) {
  const auto dirs = committed(root);
  for (size_t i = static_cast<size_t>(keep_last); i < dirs.size(); ++i) {
    const int64_t step = step_of(dirs[i]);
    if (keep_every > 0 && step % keep_every == 0) continue;
    fs::remove_all(dirs[i]);
  }
}

// Rank 0 decides, everyone learns the outcome: (ok, text) where text is the answer or the error.
std::pair<bool, std::string> share(MPI_Comm comm, bool ok, std::string text) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  int header[2] = {ok ? 1 : 0, static_cast<int>(text.size())};
  MPI_Bcast(header, 2, MPI_INT, 0, comm);
  text.resize(static_cast<size_t>(header[1]));
  MPI_Bcast(text.data(), header[1], MPI_CHAR, 0, comm);
  return {header[0] == 1, text};
}

// Every rank learns whether every rank succeeded and, if not, the lowest failing rank's problem.
std::pair<bool, std::string> agree(MPI_Comm comm, bool ok, std::string problem) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const int mine = ok ? size : rank;
  int first = size;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
  if (first == size) return {true, ""};
  int length = static_cast<int>(problem.size());
  MPI_Bcast(&length, 1, MPI_INT, first, comm);
  problem.resize(static_cast<size_t>(length));
  MPI_Bcast(problem.data(), length, MPI_CHAR, first, comm);
  return {false, problem};
}

// Rank 0, after every rank's blocks are in temp_dir, checksummed and verified: the commit
// (rename, COMMITTED, `latest`) and pruning.
void commit(const fs::path& root, const fs::path& temp_dir, const fs::path& final_dir, int64_t step,
            int keep_last, int keep_every) {
  crash_hook("before_rename");
  fs::remove_all(final_dir);
  fs::rename(temp_dir, final_dir);
  crash_hook("before_committed");
  write_text_file(final_dir / "COMMITTED", step_name(step) + "\n");
  write_text_file(root / "latest.tmp", step_name(step) + "\n");
  fs::rename(root / "latest.tmp", root / "latest");
  prune(root, keep_last, keep_every);
}

// Test hook: PHA_CKPT_CORRUPT_BLOCK=DATASET makes the rank(s) writing a block of DATASET write it
// with its first value changed, after its checksum was taken from memory: a write gone wrong,
// which the read-back must catch. Returns the block to write (`values`, or the altered copy).
const std::vector<float>& corrupt_hook(const Snapshot::Block& b, std::vector<float>& altered) {
  const char* target = std::getenv("PHA_CKPT_CORRUPT_BLOCK");
  if (!target || b.dataset != target || b.values.empty()) return b.values;
  fmt::print(stderr, "pha: test hook: writing a corrupted block of {}\n", b.dataset);
  altered = b.values;
  altered[0] += 1.0f;
  return altered;
}

void write_block(h5::File& file, const Snapshot::Block& b, const std::vector<float>& values) {
  const Tensor t(const_cast<float*>(values.data()), DType::f32, Device::cpu, b.shape);
  if (b.dim < 0)
    file.write(b.dataset, t);
  else
    file.write_block(b.dataset, t, b.dim, b.offset);
}

void read_block(const h5::File& file, const Snapshot::Block& b, std::vector<float>& values) {
  values.resize(b.values.size());
  const Tensor t(values.data(), DType::f32, Device::cpu, b.shape);
  if (b.dim < 0)
    file.read(b.dataset, t);
  else
    file.read_block(b.dataset, t, b.dim, b.offset);
}

// Test hook: PHA_CKPT_WRITER_DELAY_S=S pauses rank 0's writer S seconds after the datasets are
// written (the checkpoint is then in flight, not committed), at every step or only at
// PHA_CKPT_WRITER_DELAY_STEP. It announces the pause on stderr so a test can act during it.
void writer_delay_hook(int64_t step) {
  const char* delay = std::getenv("PHA_CKPT_WRITER_DELAY_S");
  if (!delay) return;
  const char* only = std::getenv("PHA_CKPT_WRITER_DELAY_STEP");
  if (only && std::stoll(only) != step) return;
  const double seconds = std::stod(delay);
  fmt::print(stderr, "pha: test hook: checkpoint writer pausing {} s in {}\n", seconds,
             step_name(step));
  std::fflush(stderr);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

// Datasets split by columns (dim >= 1) are stored in chunks of one block, so each block is one
// contiguous run in the file: written row by row they took one small write per row. The chunk is
// a storage detail (any reader sees the global shape); every rank must create the dataset with
// the same one, hence the agreement on the block widths. Shapes of rank 0: contiguous.
std::vector<Shape> chunk_shapes(const Snapshot& snap, const std::map<std::string, size_t>& index,
                                const std::vector<Shape>& shapes, MPI_Comm comm) {
  std::vector<int64_t> widths(shapes.size(), std::numeric_limits<int64_t>::max());
  std::vector<int> split_dims(shapes.size(), -1);
  for (const Snapshot::Block& b : snap.blocks) {
    const size_t i = index.at(b.dataset);
    if (b.dim >= 1) widths[i] = b.shape[b.dim];
    split_dims[i] = b.dim;
  }
  MPI_Allreduce(MPI_IN_PLACE, widths.data(), static_cast<int>(widths.size()), MPI_INT64_T, MPI_MIN,
                comm);
  MPI_Allreduce(MPI_IN_PLACE, split_dims.data(), static_cast<int>(split_dims.size()), MPI_INT,
                MPI_MAX, comm);
  std::vector<Shape> chunks(shapes.size());
  for (size_t i = 0; i < shapes.size(); ++i)
    if (split_dims[i] >= 1 && widths[i] < shapes[i][split_dims[i]]) {
      chunks[i] = shapes[i];
      chunks[i].dims[static_cast<size_t>(split_dims[i])] = widths[i];
    }
  return chunks;
}

}  // namespace

bool Inspection::intact() const {
  return first_problem().empty();
}

std::string Inspection::first_problem() const {
  if (!committed) return "no COMMITTED marker";
  for (const auto& d : datasets)
    if (!d.checksum_ok) return fmt::format("dataset '{}': {}", d.name, d.problem);
  return "";
}

double Snapshot::bytes() const {
  double total = 0;
  for (const ParamSpec& spec : file_specs) total += static_cast<double>(spec.global_shape.numel());
  return 4 * total * static_cast<double>(std::size(kKinds));
}

Snapshot take_snapshot(Model& model, const AdamW& optimizer, const TrainingState& state,
                       const parallel::GridCoord& coord, Snapshot recycled,
                       const WholeGather& gather) {
  Snapshot snap;
  snap.state = state;
  snap.file_specs = model_param_specs(model.config());
  // Blocks: dp (and cp) rank 0 writes; replicated tensors from tp rank 0; the tied embedding's copy
  // on the last stage is the first stage's. The recycled snapshot's buffers are the same blocks in
  // the same order: reusing them spares allocating (and page-faulting) the copy every time.
  size_t i = 0;
  for (const Kind& k : kKinds) {
    // ZeRO: every dp rank takes part in assembling the whole tensors, before the next kind's
    // gather overwrites them.
    const Arena* whole = gather ? &gather(k.which) : nullptr;
    if (coord.dp != 0 || coord.cp != 0) continue;
    for (const ParamSpec& spec : model.param_specs()) {
      const bool tied_copy = spec.name == "embedding.weight" && !model.part().has_embedding;
      if (tied_copy || (spec.split == TpSplit::replicated && coord.tp != 0)) continue;
      const auto [dim, offset] = block_of(spec);
      Snapshot::Block b{k.prefix + spec.name, spec.shape, dim, offset, {}};
      if (i < recycled.blocks.size()) b.values = std::move(recycled.blocks[i].values);
      ++i;
      const Tensor t = whole ? whole->get(spec.name) : tensor_of(k, model, optimizer, spec.name);
      copy_f32(model.backend(), t, b.values);
      snap.blocks.push_back(std::move(b));
    }
  }
  return snap;
}

SaveResult write_snapshot(const std::string& run_dir, const Snapshot& snap, MPI_Comm comm,
                          int keep_last, int keep_every) {
  const auto start = std::chrono::steady_clock::now();
  const TrainingState& state = snap.state;
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  const fs::path root = fs::path(run_dir) / "checkpoints";
  const fs::path final_dir = root / step_name(state.step);
  const fs::path temp_dir = root / (step_name(state.step) + ".tmp");
  const std::string path = (temp_dir / kStateFile).string();
  if (rank == 0) {
    fs::create_directories(root);
    fs::remove_all(temp_dir);  // a leftover of a writer that died
    fs::create_directory(temp_dir);
  }
  MPI_Barrier(comm);
  // The file's datasets in a fixed order; per dataset, the sum of the checksum terms and the
  // number of elements this rank writes (summed over the ranks below).
  std::vector<std::string> names;
  std::vector<Shape> shapes;  // global
  for (const Kind& k : kKinds)
    for (const ParamSpec& spec : snap.file_specs) {
      names.push_back(k.prefix + spec.name);
      shapes.push_back(spec.global_shape);
    }
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < names.size(); ++i) index[names[i]] = i;
  std::vector<uint64_t> sums(names.size(), 0);
  std::vector<int64_t> counts(names.size(), 0);
  std::vector<uint64_t> block_sums;  // per block of this rank, from memory before the write
  const std::vector<Shape> chunks = chunk_shapes(snap, index, shapes, comm);
  std::string problem;
  {
    h5::File file = h5::File::create(path, comm);
    // Structure and attributes: identical calls on every rank (HDF5 wants them collective).
    for (size_t i = 0; i < names.size(); ++i)
      file.create_dataset(names[i], DType::f32, shapes[i], chunks[i]);
    file.set_int_attribute("", "format_version", kFormatVersion);
    file.set_int_attribute("", "step", state.step);
    file.set_int_attribute("", "schedule_step", state.step);
    file.set_int_attribute("", "tokens_seen", state.tokens_seen);
    file.set_string_attribute("", "next_sample", std::to_string(state.next_sample));
    file.set_string_attribute("", "seed", std::to_string(state.seed));
    file.set_string_attribute("", "config", state.config_ini);
    file.set_string_attribute("", "layout", state.layout);
    file.set_string_attribute("", "program_version", state.program_version);
    const std::time_t now = std::time(nullptr);
    char created[32];
    std::strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    file.set_string_attribute("", "created", created);
    // Each block: its checksum terms from memory, then the write. Independent transfers: the
    // ranks own different datasets and each block is one contiguous run in the file (collective
    // ones, every rank calling for every dataset, took twice as long here).
    std::vector<float> altered;
    for (const Snapshot::Block& b : snap.blocks) {
      const size_t i = index.at(b.dataset);
      block_sums.push_back(partial_checksum(b.values.data(), b.shape, shapes[i], b.dim, b.offset));
      sums[i] += block_sums.back();
      counts[i] += b.shape.numel();
      write_block(file, b, corrupt_hook(b, altered));
    }
    // Rank 0 does not read the data: the checksums are the sums of every rank's terms.
    MPI_Allreduce(MPI_IN_PLACE, sums.data(), static_cast<int>(sums.size()), MPI_UINT64_T, MPI_SUM,
                  comm);
    MPI_Allreduce(MPI_IN_PLACE, counts.data(), static_cast<int>(counts.size()), MPI_INT64_T,
                  MPI_SUM, comm);
    for (size_t i = 0; i < names.size(); ++i) {
      if (counts[i] != shapes[i].numel() && problem.empty())
        problem = fmt::format(
            "checkpoint step {}: the ranks wrote {} of the {} elements of dataset '{}' "
            "(layout {}): a block is missing or written twice",
            state.step, counts[i], shapes[i].numel(), names[i], state.layout);
      file.set_string_attribute(names[i], "checksum", checksum_text(sums[i]));
    }
    file.flush();  // MPI_File_sync: on disk before it is verified and committed
    file.close();
  }
  // Each rank reads its own blocks back and compares them with the checksums of its memory.
  if (problem.empty()) {
    h5::File file = h5::File::open(path, comm);
    std::vector<float> back;
    for (size_t j = 0; j < snap.blocks.size() && problem.empty(); ++j) {
      const Snapshot::Block& b = snap.blocks[j];
      read_block(file, b, back);
      const uint64_t read_sum =
          partial_checksum(back.data(), b.shape, shapes[index.at(b.dataset)], b.dim, b.offset);
      if (read_sum != block_sums[j])
        problem = fmt::format(
            "checkpoint step {}: rank {}'s block of dataset '{}' reads back differently from what "
            "was written (checksum terms {:016x} read, {:016x} in memory): the write went wrong, "
            "so the checkpoint is not committed; check the file system (disk errors, space)",
            state.step, rank, b.dataset, read_sum, block_sums[j]);
    }
    file.close();
  }
  const auto [written, why] = agree(comm, problem.empty(), problem);
  if (!written) throw CommitError(why);
  // Rank 0 alone commits; its outcome is shared, so every rank returns or throws the same
  // (CommitError) and no rank is left waiting for a rank that failed.
  bool ok = true;
  if (rank == 0) {
    try {
      crash_hook("after_datasets");
      writer_delay_hook(state.step);
      commit(root, temp_dir, final_dir, state.step, keep_last, keep_every);
    } catch (const std::exception& e) {
      ok = false;
      problem = e.what();
    }
  }
  const auto [shared_ok, text] = share(comm, ok, problem);
  if (!shared_ok) throw CommitError(text);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return SaveResult{final_dir.string(), seconds, snap.bytes() / 1e6};
}

SaveResult save(const std::string& run_dir, Model& model, const AdamW& optimizer,
                const TrainingState& state, MPI_Comm comm, const parallel::GridCoord& coord,
                int keep_last, int keep_every, const WholeGather& gather) {
  return write_snapshot(run_dir, take_snapshot(model, optimizer, state, coord, {}, gather), comm,
                        keep_last, keep_every);
}

Inspection inspect(const std::string& path) {
  Inspection r;
  fs::path file_path = path;
  if (fs::is_directory(file_path)) file_path /= kStateFile;
  r.file = file_path.string();
  r.committed = fs::exists(file_path.parent_path() / "COMMITTED");
  PHA_REQUIRE(fs::exists(file_path), "checkpoint file '{}' does not exist", r.file);
  h5::File file = h5::File::open(r.file);
  PHA_REQUIRE(file.has_attribute("", "format_version"),
              "'{}' is not a pha checkpoint (no format_version attribute)", r.file);
  r.format_version = static_cast<int>(file.int_attribute("", "format_version"));
  r.state.step = file.int_attribute("", "step");
  r.state.tokens_seen = file.int_attribute("", "tokens_seen");
  r.state.next_sample = std::stoull(file.string_attribute("", "next_sample"));
  r.state.seed = std::stoull(file.string_attribute("", "seed"));
  r.state.config_ini = file.string_attribute("", "config");
  r.state.layout = file.string_attribute("", "layout");
  r.state.program_version = file.string_attribute("", "program_version");
  r.created = file.string_attribute("", "created");
  for (const std::string& name : file.list_datasets("/")) {
    DatasetReport d;
    d.name = name;
    d.shape = file.shape(name);
    d.bytes = static_cast<size_t>(d.shape.numel()) * 4;
    try {
      std::vector<float> values(static_cast<size_t>(d.shape.numel()));
      file.read(name, Tensor(values.data(), DType::f32, Device::cpu, d.shape));
      if (!file.has_attribute(name, "checksum"))
        d.problem = "no checksum attribute";
      else
        d.problem = checksum_problem(file.string_attribute(name, "checksum"), values);
    } catch (const Error& e) {
      d.problem = e.what();
    }
    d.checksum_ok = d.problem.empty();
    r.datasets.push_back(d);
  }
  return r;
}

std::optional<std::string> resolve_resume(const std::string& run_dir, const std::string& spec,
                                          MPI_Comm comm) {
  if (spec == "none") return std::nullopt;
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  bool ok = true;
  std::string answer;
  if (rank == 0) {
    try {
      if (spec == "auto") {
        const auto candidates = committed(fs::path(run_dir) / "checkpoints");
        for (const fs::path& dir : candidates) {
          std::string problem;
          try {
            problem = inspect(dir.string()).first_problem();
          } catch (const Error& e) {
            problem = e.what();
          }
          if (problem.empty()) {
            answer = dir.string();
            break;
          }
          fmt::print(stderr,
                     "pha: checkpoint {} is damaged ({}); falling back to the previous one\n",
                     dir.string(), problem);
        }
        // Never start over silently when checkpoints exist but none can be read.
        PHA_REQUIRE(!answer.empty() || candidates.empty(),
                    "every committed checkpoint in '{}/checkpoints' is damaged: repair or remove "
                    "them, or start over with --train.resume=none",
                    run_dir);
      } else {
        fs::path dir = spec;
        if (dir.filename() == kStateFile) dir = dir.parent_path();
        std::string problem;
        try {
          problem = inspect(dir.string()).first_problem();
        } catch (const Error& e) {
          problem = e.what();
        }
        PHA_REQUIRE(problem.empty(), "checkpoint '{}' cannot be resumed: {}", dir.string(),
                    problem);
        answer = dir.string();
      }
    } catch (const std::exception& e) {
      ok = false;
      answer = e.what();
    }
  }
  const auto [shared_ok, text] = share(comm, ok, answer);
  PHA_REQUIRE(shared_ok, "{}", text);
  if (text.empty()) return std::nullopt;
  return text;
}

TrainingState load(const std::string& checkpoint_dir, Model& model, AdamW& optimizer,
                   MPI_Comm comm) {
  const std::string path = (fs::path(checkpoint_dir) / kStateFile).string();
  h5::File file = h5::File::open(path, comm);
  std::vector<float> host;
  for (const Kind& k : kKinds)
    for (size_t i = 0; i < model.param_specs().size(); ++i) {
      const ParamSpec& spec = model.param_specs()[i];
      const std::string name = k.prefix + spec.name;
      PHA_REQUIRE(file.is_dataset(name),
                  "checkpoint '{}' has no dataset '{}': it was written for another model "
                  "configuration",
                  path, name);
      const Shape stored = file.shape(name);
      PHA_REQUIRE(stored == spec.global_shape,
                  "checkpoint '{}': dataset '{}' has shape {} but this model's is {}: it was "
                  "written for another model configuration",
                  path, name, stored.str(), spec.global_shape.str());
      host.resize(static_cast<size_t>(spec.shape.numel()));
      const Tensor t(host.data(), DType::f32, Device::cpu, spec.shape);
      const auto [dim, offset] = block_of(spec);
      if (dim < 0)
        file.read(name, t);
      else
        file.read_block(name, t, dim, offset);
      if (k.which != 0) {  // the optimiser keeps the elements it owns (ZeRO: its chunk)
        optimizer.load_moment(k.which == 2, spec.name, host);
        continue;
      }
      // The masters this rank holds (ZeRO with compute copies: its chunk) and the whole compute
      // copy.
      model.write_master(i, host.data());
    }
  TrainingState s;
  s.step = file.int_attribute("", "step");
  s.tokens_seen = file.int_attribute("", "tokens_seen");
  s.next_sample = std::stoull(file.string_attribute("", "next_sample"));
  s.seed = std::stoull(file.string_attribute("", "seed"));
  s.config_ini = file.string_attribute("", "config");
  s.layout = file.string_attribute("", "layout");
  s.program_version = file.string_attribute("", "program_version");
  file.close();
  return s;
}

}  // namespace pha::ckpt
