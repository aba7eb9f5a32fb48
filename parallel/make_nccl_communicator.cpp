#include "parallel/make_nccl_communicator.h"

#include "core/cuda/cuda_backend.h"
#include "parallel/nccl_communicator.h"

namespace pha::parallel {

std::unique_ptr<Communicator> make_nccl_communicator(MpiCommunicator& group, Backend& backend) {
  auto* cuda = dynamic_cast<CudaBackend*>(&backend);
  PHA_REQUIRE(cuda != nullptr,
              "the {} group's NCCL communicator needs the CUDA backend, got the {} backend",
              group.name(), backend.name());
  ncclUniqueId id{};
  if (group.rank() == 0) id = NcclCommunicator::new_id();
  group.broadcast_bytes(&id, sizeof(id), 0);
  return std::make_unique<NcclCommunicator>(id, group.rank(), group.size(), group.name(),
                                            cuda->device_index(), cuda->stream(), group.timeout());
}

}  // namespace pha::parallel
