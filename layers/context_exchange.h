#pragma once
// The point-to-point pattern of context parallelism (ring attention, the block-Toeplitz GSS
// convolution): every cp rank hands its local tensors to the ranks that need them, one peer per
// step, double-buffered so the next peer's data arrives while the current one is used.
//
// Step s = 1 .. cp-1: rank r receives from src = r - s and sends to dst = r + s (mod cp), each
// only when `needs(receiver, owner)` says so (windowed attention skips the ranks it does not see).
// All sends of `mine` start up front (mine is not written during the exchange); the receive of
// step s+1 starts before step s is used. With gradient returns (backward), `visit` also writes
// gradients for src's tensors into `grads_out`, which go back to src at the end of step s, while
// the gradients dst computed for this rank's tensors arrive in `grads_in` and `accept` adds them:
//
//   rank r, step s:   recv data[src] ... visit(src) -> grads_out --send--> src
//                     send mine (up front) --> dst,             grads_in <--recv-- dst
//
// Every rank posts both transfers of a step's return before waiting for either, so no rank
// waits for a peer that is itself waiting (matched pairs, as MPI_Sendrecv). MPI moves a started
// transfer only inside MPI calls: `visit` gets a `poll` to call between its blocks of compute
// (MPI_Test on every transfer in flight), so the next peer's data arrives during this one's.
#include <functional>
#include <vector>

#include "parallel/communicator.h"

namespace pha {

struct ContextExchange {
  parallel::Communicator& comm;
  std::function<bool(int receiver, int owner)> needs;
  std::vector<Tensor> mine;         // this rank's tensors, sent to whoever needs them
  std::vector<Tensor> inbox[2];     // two sets shaped like `mine`: the double buffer
  std::vector<Tensor> grads_out{};  // backward: gradients for the visited peer's tensors
  std::vector<Tensor> grads_in{};   // backward: gradients for this rank's tensors from a peer
};

// local(poll) runs once, right after the first transfers start (this rank's own work, under
// which they travel); visit(peer, data, poll) once per peer whose tensors this rank needs;
// accept(grads_in) once per peer that needed this rank's tensors (only when grads_out is not
// empty).
using Poll = std::function<void()>;
using PeerVisit = std::function<void(int peer, const std::vector<Tensor>& data, const Poll& poll)>;
void exchange_with_peers(const ContextExchange& x, const std::function<void(const Poll&)>& local,
                         const PeerVisit& visit,
                         const std::function<void(const std::vector<Tensor>& grads)>& accept = {});

}  // namespace pha
