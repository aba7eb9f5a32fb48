#include "layers/context_exchange.h"

namespace pha {

namespace {
// Tags keep the data and the returned gradients of one pair of ranks apart (both flow between
// the same two ranks in one backward, in an order that differs between the two sides).
constexpr int kDataTag = 10, kGradTag = 40;
}  // namespace

void exchange_with_peers(const ContextExchange& x, const std::function<void(const Poll&)>& local,
                         const PeerVisit& visit,
                         const std::function<void(const std::vector<Tensor>&)>& accept) {
  parallel::Communicator& comm = x.comm;
  const int cp = comm.size(), r = comm.rank();
  const bool returns = !x.grads_out.empty();
  std::vector<parallel::PendingTransfer> sends;
  for (int s = 1; s < cp; ++s) {
    const int dst = (r + s) % cp;
    if (!x.needs(dst, r)) continue;
    for (size_t i = 0; i < x.mine.size(); ++i)
      sends.push_back(comm.send_start(x.mine[i], dst, kDataTag + static_cast<int>(i)));
  }
  // The peers this rank receives from, in step order (-1: nothing from this step's source).
  std::vector<int> sources;
  for (int s = 1; s < cp; ++s) {
    const int src = (r - s + cp) % cp;
    sources.push_back(x.needs(r, src) ? src : -1);
  }
  std::vector<int> receive_steps;
  for (size_t i = 0; i < sources.size(); ++i)
    if (sources[i] >= 0) receive_steps.push_back(static_cast<int>(i));
  std::vector<parallel::PendingTransfer> inflight[2];
  auto post = [&](size_t k) {
    if (k >= receive_steps.size()) return;
    const int src = sources[static_cast<size_t>(receive_steps[k])];
    for (size_t i = 0; i < x.mine.size(); ++i)
      inflight[k % 2].push_back(
          comm.recv_start(x.inbox[k % 2][i], src, kDataTag + static_cast<int>(i)));
  };
  const Poll poll = [&] {
    for (auto& p : sends) comm.progress(p);
    for (auto& set : inflight)
      for (auto& p : set) comm.progress(p);
  };
  post(0);
  post(1);
  local(poll);
  size_t k = 0;  // receives consumed
  for (int s = 1; s < cp; ++s) {
    const int src = sources[static_cast<size_t>(s - 1)];
    if (src >= 0) {
      for (auto& p : inflight[k % 2]) comm.wait(p);
      inflight[k % 2].clear();
      visit(src, x.inbox[k % 2], poll);
      post(k + 2);  // into the buffer just used; the other one is already on its way
      ++k;
    }
    if (!returns) continue;
    std::vector<parallel::PendingTransfer> step;
    const int dst = (r + s) % cp;
    const bool back_in = x.needs(dst, r);
    if (back_in)
      for (size_t i = 0; i < x.grads_in.size(); ++i)
        step.push_back(comm.recv_start(x.grads_in[i], dst, kGradTag + static_cast<int>(i)));
    if (src >= 0)
      for (size_t i = 0; i < x.grads_out.size(); ++i)
        step.push_back(comm.send_start(x.grads_out[i], src, kGradTag + static_cast<int>(i)));
    for (auto& p : step) comm.wait(p);
    if (back_in) accept(x.grads_in);
  }
  for (auto& p : sends) comm.wait(p);
}

}  // namespace pha
