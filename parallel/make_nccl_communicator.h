#pragma once
// Creating an NCCL communicator for one group of the rank grid; kept free of CUDA and NCCL headers
// so the launcher can include it. Only exists in builds with PHA_WITH_NCCL.
#include <memory>

#include "core/backend.h"
#include "parallel/mpi_communicator.h"

namespace pha::parallel {

// Collective over `group`: its rank 0 makes the NCCL id and broadcasts it over `group` (MPI);
// every rank then joins on the GPU of `backend` (the CUDA backend), ordered against its stream.
// The result has `group`'s name, ranks and timeout.
std::unique_ptr<Communicator> make_nccl_communicator(MpiCommunicator& group, Backend& backend);

// Whether NCCL runs the kernels of this process's communicators in host issue order
// (NCCL_LAUNCH_ORDER_IMPLICIT, which make_nccl_communicator sets to 1 unless the user set it): the
// loaded NCCL is 2.26 or newer and the variable is not 0. Without it, collectives of different
// communicators must not be in flight at once (see GradientSync's overlap).
bool nccl_orders_communicators();

}  // namespace pha::parallel
