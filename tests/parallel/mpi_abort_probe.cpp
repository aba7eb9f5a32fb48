// A job that must abort (run by expect_abort.sh, never on its own): one rank breaks the protocol
// and the communicator's 2 s timeout, or its size check, must end every rank with a message.
//   mpi_abort_probe skipped_all_reduce | missing_send | short_message
// Exits 0 only when nothing aborted, which the wrapper reports as a failure.
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "parallel/rank_grid.h"

namespace {

using pha::parallel::GroupKind;
using pha::parallel::ReduceOp;

// A rank that does not take part waits long past the timeout; the abort ends it.
void wait_for_the_abort() {
  std::this_thread::sleep_for(std::chrono::seconds(60));
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const std::string scenario = argc > 1 ? argv[1] : "";
  {
    pha::parallel::RankGrid grid(MPI_COMM_WORLD, pha::parallel::Layout{0, 1, 1});
    pha::parallel::MpiCommunicator world = grid.communicator(GroupKind::world, 2.0);
    float values[5] = {1, 2, 3, 4, 5};
    const pha::Tensor three(values, pha::DType::f32, pha::Device::cpu, pha::Shape{3});
    const pha::Tensor five(values, pha::DType::f32, pha::Device::cpu, pha::Shape{5});
    if (scenario == "skipped_all_reduce") {
      if (world.rank() == 0) wait_for_the_abort();
      world.all_reduce(five, ReduceOp::sum);
    } else if (scenario == "missing_send") {
      if (world.rank() == 1) world.recv(five, 0);
      wait_for_the_abort();
    } else if (scenario == "short_message") {
      if (world.rank() == 0) world.send(three, 1);
      if (world.rank() == 1) world.recv(five, 0);
      wait_for_the_abort();
    } else {
      std::fprintf(stderr, "unknown scenario '%s'\n", scenario.c_str());
      MPI_Abort(MPI_COMM_WORLD, 2);
    }
  }
  MPI_Finalize();
  return 0;
}
