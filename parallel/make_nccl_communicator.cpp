#include "parallel/make_nccl_communicator.h"

#include <cstdlib>

#include "core/cuda/cuda_backend.h"
#include "core/cuda_plugin.h"
#include "parallel/nccl_communicator.h"

namespace pha::parallel {

namespace {
// NCCL_LAUNCH_ORDER_IMPLICIT appeared in NCCL 2.26; NCCL reads it once, at its first launch.
constexpr int kLaunchOrderVersion = 22600;  // NCCL_VERSION(2, 26, 0)

void default_launch_order() {
  setenv("NCCL_LAUNCH_ORDER_IMPLICIT", "1", 0);
}
}  // namespace

bool nccl_orders_communicators() {
  default_launch_order();
  int version = 0;
  if (ncclGetVersion(&version) != ncclSuccess || version < kLaunchOrderVersion) return false;
  const char* value = std::getenv("NCCL_LAUNCH_ORDER_IMPLICIT");
  return value != nullptr && std::strtol(value, nullptr, 10) != 0;
}

std::unique_ptr<Communicator> make_nccl_communicator(MpiCommunicator& group, Backend& backend) {
  auto* cuda = dynamic_cast<CudaBackend*>(&backend);
  PHA_REQUIRE(cuda != nullptr,
              "the {} group's NCCL communicator needs the CUDA backend, got the {} backend",
              group.name(), backend.name());
  // The dp average runs on its own stream while backward issues tp and pp collectives on theirs:
  // NCCL kernels of different communicators on one GPU may then deadlock unless the GPU runs them
  // in the order the host issued them, which every rank issues alike. NCCL (>= 2.26) does so with
  // this variable; a value the user set wins. With an older NCCL, or the variable set to 0,
  // nccl_orders_communicators() says so and GradientSync does not overlap (tp or pp > 1).
  default_launch_order();
  ncclUniqueId id{};
  if (group.rank() == 0) id = NcclCommunicator::new_id();
  group.broadcast_bytes(&id, sizeof(id), 0);
  return std::make_unique<NcclCommunicator>(id, group.rank(), group.size(), group.name(),
                                            cuda->device_index(), cuda->stream(), group.timeout());
}

}  // namespace pha::parallel

// core/cuda_plugin.h's NCCL table: exported by the CUDA plugin, or found statically where this
// file is linked in (the NCCL tests).
extern "C" __attribute__((visibility("default"))) const pha::NcclPlugin* pha_nccl_plugin() {
  static const pha::NcclPlugin table{pha::kCudaPluginVersion,
                                     &pha::parallel::make_nccl_communicator,
                                     &pha::parallel::nccl_orders_communicators};
  return &table;
}
