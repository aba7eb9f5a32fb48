#pragma once
// The MPI side of the grid: one communicator per group kind (grid.h), built once at start-up.
// In each, a rank's local rank equals its coordinate along the group (tp_rank in the tp group,
// pp_rank — its pipeline stage — in the pp group, ...).
#include <mpi.h>

#include <array>

#include "parallel/grid.h"
#include "parallel/mpi_communicator.h"

namespace pha::parallel {

class RankGrid {
 public:
  // Collective over `world`: every rank passes the same requested layout. Refuses a layout that
  // does not fit the world's size (pha::Error, the same on every rank). `world` is duplicated,
  // so the grid's traffic never mixes with other users of it.
  RankGrid(MPI_Comm world, Layout requested);
  ~RankGrid();
  RankGrid(const RankGrid&) = delete;
  RankGrid& operator=(const RankGrid&) = delete;

  const Layout& layout() const { return layout_; }
  int rank() const { return rank_; }  // in the world communicator
  GridCoord coord() const { return coord_of(layout_, rank_); }
  MPI_Comm comm(GroupKind kind) const { return comms_[static_cast<size_t>(kind)]; }

  // A Communicator over one group, named after it; valid while this grid lives.
  MpiCommunicator communicator(GroupKind kind,
                               double timeout_s = MpiCommunicator::default_timeout_s) const;

 private:
  Layout layout_;
  int rank_ = 0;
  std::array<MPI_Comm, std::size(all_group_kinds)> comms_{};
};

}  // namespace pha::parallel
