#pragma once
// Exported weights: one HDF5 file with /model/<name> datasets in their GLOBAL shapes (names of
// model.md), written together by every rank of any layout, each writing the block it owns
// (split parameters by their tp rank, replicated ones by tp rank 0, only dp rank 0, the tied
// embedding by the first stage). Root attributes: the reference's configuration keys (d, n_q,
// ..., block, mixer) and the whole run configuration as text ("config"). Readable by h5py and by
// tests/reference/pha_ref.py; loading reads each rank's blocks, so any layout loads any file.
#include <mpi.h>

#include <string>

#include "layers/model.h"
#include "parallel/grid.h"

namespace pha::launch {

// Collective over `comm` (all ranks of the layout `coord` belongs to). `masters`: the model's
// whole masters, laid out like its parameters (model.params(), or GradientSync::gather_masters
// under ZeRO with compute copies).
void save_weights(const std::string& path, Model& model, const Arena& masters,
                  const std::string& config_ini, MPI_Comm comm, const parallel::GridCoord& coord);
// Each rank reads what its model part holds. Collective over `comm`.
void load_weights(const std::string& path, Model& model, MPI_Comm comm);
// The "config" attribute of a weights file (the INI text of the run that wrote it).
std::string weights_config_text(const std::string& path);

}  // namespace pha::launch
