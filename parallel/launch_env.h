#pragma once
// Where this process sits in its launch: its rank, and its rank among the ranks of its node (which
// picks its GPU), read from what the launcher set and checked against MPI, so that a job step whose
// tasks and MPI ranks do not line up fails at start-up instead of sharing GPUs.
#include <mpi.h>

#include <string>

namespace pha::parallel {

struct LaunchEnv {
  int world_rank = 0, world_size = 1;
  int local_rank = 0, local_size = 1;  // among the ranks on this node
  std::string host;                    // this node's name (MPI_Get_processor_name)
  std::string source;                  // "slurm", "open-mpi" or "mpi-shared-memory"
};

// Collective over `world`. Reads, in this order:
// - slurm: a task srun started (SLURM_STEP_ID set, no OMPI_COMM_WORLD_RANK): SLURM_PROCID,
//   SLURM_NTASKS, SLURM_LOCALID and the tasks on this node from SLURM_STEP_TASKS_PER_NODE,
//   SLURM_TASKS_PER_NODE (indexed by SLURM_NODEID) or SLURM_NTASKS_PER_NODE;
// - open-mpi: a rank mpirun started: OMPI_COMM_WORLD_RANK/SIZE/LOCAL_RANK/LOCAL_SIZE. mpirun's
//   ranks inherit the batch shell's SLURM_PROCID (0 everywhere), so Slurm's variables are not
//   theirs;
// - mpi-shared-memory: otherwise, MPI_Comm_split_type(MPI_COMM_TYPE_SHARED).
// Throws pha::Error with the same text on every rank when a launcher's numbers are malformed,
// disagree with MPI's rank or size, or do not number each host's ranks 0..n-1.
LaunchEnv detect_launch_env(MPI_Comm world);

// Collective over `world`: a header and one line per rank (rank, host, local rank of local size,
// CUDA_VISIBLE_DEVICES), gathered on rank 0: the text there, empty on the other ranks.
std::string rank_host_table(MPI_Comm world, const LaunchEnv& env);

// The task count of node `node` in Slurm's compressed per-node list ("4", "2(x3),1"); -1 when the
// list is malformed or has no such node.
int slurm_tasks_on_node(const std::string& list, int node);

}  // namespace pha::parallel
