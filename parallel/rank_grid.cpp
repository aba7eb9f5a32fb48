#include "parallel/rank_grid.h"

#include <fmt/format.h>

#include "parallel/abort.h"

namespace pha::parallel {

namespace {

int checked_rank(MPI_Comm comm, const char* what) {
  int rank = 0;
  check_mpi(MPI_Comm_rank(comm, &rank), fmt::format("MPI_Comm_rank of {}", what));
  return rank;
}

}  // namespace

RankGrid::RankGrid(MPI_Comm world, Layout requested) {
  int world_size = 0;
  check_mpi(MPI_Comm_size(world, &world_size), "MPI_Comm_size of the world communicator");
  layout_ = resolve_layout(requested, world_size);
  rank_ = checked_rank(world, "the world communicator");
  comms_.fill(MPI_COMM_NULL);
  for (const GroupKind kind : all_group_kinds) {
    MPI_Comm& comm = comms_[static_cast<size_t>(kind)];
    const std::string what = fmt::format("the {} group", group_name(kind));
    if (kind == GroupKind::world) {
      check_mpi(MPI_Comm_dup(world, &comm), fmt::format("MPI_Comm_dup for {}", what));
    } else {
      // The color picks the group, the key orders it so the local rank is the coordinate.
      const GroupPosition p = group_position(layout_, kind, rank_);
      check_mpi(MPI_Comm_split(world, p.group, p.local_rank, &comm),
                fmt::format("MPI_Comm_split for {}", what));
    }
    int size = 0;
    check_mpi(MPI_Comm_size(comm, &size), fmt::format("MPI_Comm_size of {}", what));
    const int local_rank = checked_rank(comm, what.c_str());
    const GroupPosition expected = group_position(layout_, kind, rank_);
    if (size != group_size(layout_, kind) || local_rank != expected.local_rank)
      abort_job(rank_,
                fmt::format("{} has {} ranks with this one at {}; the grid {} expects {} at {}",
                            what, size, local_rank, layout_.str(), group_size(layout_, kind),
                            expected.local_rank));
  }
}

RankGrid::~RankGrid() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;  // MPI_Finalize already released every communicator
  for (MPI_Comm& comm : comms_)
    if (comm != MPI_COMM_NULL) MPI_Comm_free(&comm);
}

MpiCommunicator RankGrid::communicator(GroupKind kind, double timeout_s) const {
  return MpiCommunicator(comm(kind), std::string(group_name(kind)), timeout_s);
}

}  // namespace pha::parallel
