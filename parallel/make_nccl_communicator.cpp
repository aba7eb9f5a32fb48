#include "parallel/make_nccl_communicator.h"

#include <cstdlib>

#include "core/cuda/cuda_backend.h"
#include "parallel/nccl_communicator.h"

namespace pha::parallel {

std::unique_ptr<Communicator> make_nccl_communicator(MpiCommunicator& group, Backend& backend) {
  auto* cuda = dynamic_cast<CudaBackend*>(&backend);
  PHA_REQUIRE(cuda != nullptr,
              "the {} group's NCCL communicator needs the CUDA backend, got the {} backend",
              group.name(), backend.name());
  // The dp average runs on its own stream while backward issues tp and pp collectives on theirs:
  // NCCL kernels of different communicators on one GPU may then deadlock unless the GPU runs them
  // in the order the host issued them, which every rank issues alike. NCCL (>= 2.26) does so with
  // this variable; a value the user set wins.
  setenv("NCCL_LAUNCH_ORDER_IMPLICIT", "1", 0);
  ncclUniqueId id{};
  if (group.rank() == 0) id = NcclCommunicator::new_id();
  group.broadcast_bytes(&id, sizeof(id), 0);
  return std::make_unique<NcclCommunicator>(id, group.rank(), group.size(), group.name(),
                                            cuda->device_index(), cuda->stream(), group.timeout());
}

}  // namespace pha::parallel
