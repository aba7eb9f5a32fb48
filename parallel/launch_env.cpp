#include "parallel/launch_env.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

#include "core/error.h"
#include "parallel/abort.h"

namespace pha::parallel {

namespace {

template <size_t N>
void put(char (&dst)[N], const std::string& s) {
  std::snprintf(dst, N, "%s", s.c_str());
}

// Every rank's record on rank 0 (fixed-size: one MPI_Gather of bytes, O(ranks) on rank 0 only);
// empty on the other ranks.
template <typename T>
std::vector<T> gather_to_root(MPI_Comm world, const T& mine) {
  int rank = 0, size = 1;
  MPI_Comm_rank(world, &rank);
  MPI_Comm_size(world, &size);
  std::vector<T> all(rank == 0 ? static_cast<size_t>(size) : 0);
  check_mpi(MPI_Gather(&mine, sizeof(T), MPI_BYTE, all.data(), sizeof(T), MPI_BYTE, 0, world),
            "MPI_Gather (launch environment)");
  return all;
}

// Rank 0's text on every rank.
std::string broadcast_from_root(MPI_Comm world, std::string text) {
  int length = static_cast<int>(text.size());
  check_mpi(MPI_Bcast(&length, 1, MPI_INT, 0, world), "MPI_Bcast (launch environment)");
  text.resize(static_cast<size_t>(length));
  check_mpi(MPI_Bcast(text.data(), length, MPI_CHAR, 0, world), "MPI_Bcast (launch environment)");
  return text;
}

// Reads launcher variables; the first malformed or missing one becomes this rank's problem, which
// travels to every rank with the others' records (a rank must not throw alone in a collective).
struct EnvReader {
  std::string problem;
  void note(const std::string& what) {
    if (problem.empty()) problem = what;
  }
  int integer(const char* name) {
    const char* text = std::getenv(name);
    if (text == nullptr) {
      note(fmt::format("{} is not set", name));
      return -1;
    }
    int value = -1;
    const char* end = text + std::strlen(text);
    const auto [ptr, ec] = std::from_chars(text, end, value);
    if (ec != std::errc() || ptr != end || value < 0) {
      note(fmt::format("{} = '{}' is not a non-negative integer", name, text));
      return -1;
    }
    return value;
  }
  // The step's tasks on this node: the per-node lists are exact for the step (uneven nodes too);
  // SLURM_NTASKS_PER_NODE is only the requested maximum.
  int slurm_local_size() {
    for (const char* name : {"SLURM_STEP_TASKS_PER_NODE", "SLURM_TASKS_PER_NODE"}) {
      const char* list = std::getenv(name);
      if (list == nullptr) continue;
      const int node = integer("SLURM_NODEID");
      const int n = node < 0 ? -1 : slurm_tasks_on_node(list, node);
      if (n < 0 && node >= 0) note(fmt::format("{} = '{}' has no node {}", name, list, node));
      return n;
    }
    if (std::getenv("SLURM_NTASKS_PER_NODE") != nullptr) return integer("SLURM_NTASKS_PER_NODE");
    note("none of SLURM_STEP_TASKS_PER_NODE, SLURM_TASKS_PER_NODE, SLURM_NTASKS_PER_NODE is set");
    return -1;
  }
};

struct Record {
  int rank, size, local_rank, local_size;  // as the launcher says
  char host[128];
  char source[24];
  char problem[200];
};

// What is wrong with the launcher's numbers of every rank (checked on rank 0): "" when nothing.
std::string launch_problems(const std::vector<Record>& all) {
  const int size = static_cast<int>(all.size());
  std::vector<std::string> problems;
  std::map<std::string, std::vector<int>> ranks_by_host;
  for (int i = 0; i < size; ++i) {
    const Record& r = all[static_cast<size_t>(i)];
    ranks_by_host[r.host].push_back(i);
    if (r.problem[0] != '\0')
      problems.push_back(fmt::format("rank {} ({}): {}", i, r.source, r.problem));
    else if (r.rank != i || r.size != size)
      problems.push_back(
          fmt::format("rank {} ({}): the launcher says rank {} of {}, MPI rank {} of {}", i,
                      r.source, r.rank, r.size, i, size));
  }
  for (const auto& [host, ranks] : ranks_by_host) {
    std::vector<int> local, local_sizes;
    for (int i : ranks) {
      local.push_back(all[static_cast<size_t>(i)].local_rank);
      local_sizes.push_back(all[static_cast<size_t>(i)].local_size);
    }
    const int n = static_cast<int>(ranks.size());
    std::vector<int> sorted = local;
    std::sort(sorted.begin(), sorted.end());
    bool numbered = true;
    for (int k = 0; k < n; ++k) numbered = numbered && sorted[static_cast<size_t>(k)] == k;
    const bool sized =
        std::all_of(local_sizes.begin(), local_sizes.end(), [n](int m) { return m == n; });
    if (!numbered || !sized)
      problems.push_back(fmt::format(
          "host {} runs MPI ranks {} ({} of them), but the launcher gives them local ranks {} of "
          "local sizes {}",
          host, fmt::join(ranks, ","), n, fmt::join(local, ","), fmt::join(local_sizes, ",")));
  }
  constexpr size_t shown = 4;
  std::string text = fmt::format(
      "{}", fmt::join(problems.begin(), problems.begin() + std::min(shown, problems.size()), "; "));
  if (problems.size() > shown) text += fmt::format("; and {} more", problems.size() - shown);
  return text;
}

}  // namespace

int slurm_tasks_on_node(const std::string& list, int node) {
  // Comma-separated entries "N" or "N(xR)": N tasks on each of the next R nodes.
  const char* p = list.data();
  const char* const end = p + list.size();
  int first = 0;
  while (p < end) {
    int tasks = -1, repeat = 1;
    auto [after, ec] = std::from_chars(p, end, tasks);
    if (ec != std::errc() || tasks < 0) return -1;
    p = after;
    if (p < end && *p == '(') {
      if (end - p < 3 || p[1] != 'x') return -1;
      const auto [close, ec2] = std::from_chars(p + 2, end, repeat);
      if (ec2 != std::errc() || close == end || *close != ')' || repeat < 1) return -1;
      p = close + 1;
    }
    if (p < end && *p++ != ',') return -1;
    if (node >= first && node < first + repeat) return tasks;
    first += repeat;
  }
  return -1;
}

LaunchEnv detect_launch_env(MPI_Comm world) {
  int rank = 0, size = 1;
  MPI_Comm_rank(world, &rank);
  MPI_Comm_size(world, &size);
  // Split on every rank, whatever its source, so the collective never waits for a rank that
  // chose another way.
  MPI_Comm node = MPI_COMM_NULL;
  check_mpi(MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node),
            "MPI_Comm_split_type");
  LaunchEnv env;
  MPI_Comm_rank(node, &env.local_rank);
  MPI_Comm_size(node, &env.local_size);
  MPI_Comm_free(&node);
  env.world_rank = rank;
  env.world_size = size;
  env.source = "mpi-shared-memory";
  char name[MPI_MAX_PROCESSOR_NAME] = {};
  int length = 0;
  MPI_Get_processor_name(name, &length);
  env.host.assign(name, static_cast<size_t>(length));

  EnvReader read;
  const bool mpirun = std::getenv("OMPI_COMM_WORLD_RANK") != nullptr;
  if (std::getenv("SLURM_STEP_ID") != nullptr && !mpirun) {
    env.source = "slurm";
    env.world_rank = read.integer("SLURM_PROCID");
    env.world_size = read.integer("SLURM_NTASKS");
    env.local_rank = read.integer("SLURM_LOCALID");
    env.local_size = read.slurm_local_size();
  } else if (mpirun) {
    env.source = "open-mpi";
    env.world_rank = read.integer("OMPI_COMM_WORLD_RANK");
    env.world_size = read.integer("OMPI_COMM_WORLD_SIZE");
    env.local_rank = read.integer("OMPI_COMM_WORLD_LOCAL_RANK");
    env.local_size = read.integer("OMPI_COMM_WORLD_LOCAL_SIZE");
  }

  Record mine{env.world_rank, env.world_size, env.local_rank, env.local_size, {}, {}, {}};
  put(mine.host, env.host);
  put(mine.source, env.source);
  put(mine.problem, read.problem);
  const std::vector<Record> all = gather_to_root(world, mine);
  const std::string problems = broadcast_from_root(world, rank == 0 ? launch_problems(all) : "");
  PHA_REQUIRE(problems.empty(),
              "the launcher's ranks do not match MPI's: {}. Launch with one launcher (srun "
              "--mpi=pmix, or mpirun inside the allocation) and one task per rank",
              problems);
  return env;
}

std::string rank_host_table(MPI_Comm world, const LaunchEnv& env) {
  struct Row {
    int local_rank, local_size;
    char host[128];
    char devices[96];
  };
  const char* devices = std::getenv("CUDA_VISIBLE_DEVICES");
  Row mine{env.local_rank, env.local_size, {}, {}};
  put(mine.host, env.host);
  put(mine.devices, devices != nullptr ? devices : "(unset)");
  const std::vector<Row> rows = gather_to_root(world, mine);
  if (rows.empty()) return "";  // not rank 0
  std::string out =
      fmt::format("rank-to-host table ({} ranks, from {}):\n", rows.size(), env.source);
  out +=
      fmt::format("  {:>5}  {:<24} {:>9}  {}\n", "rank", "host", "local", "CUDA_VISIBLE_DEVICES");
  for (size_t i = 0; i < rows.size(); ++i)
    out +=
        fmt::format("  {:>5}  {:<24} {:>9}  {}\n", i, rows[i].host,
                    fmt::format("{}/{}", rows[i].local_rank, rows[i].local_size), rows[i].devices);
  return out;
}

}  // namespace pha::parallel
