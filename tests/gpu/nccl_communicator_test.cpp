// NcclCommunicator on device tensors: every operation against values computed here, for each
// dtype it moves (bf16, f32, f64, i32) and each reduction (sum, max, avg), with the counters and
// the refusals. A group of one rank on GPU 0 always; when several GPUs are visible, also a group
// of all of them, one thread per GPU (NCCL needs no MPI: the id is shared in the process), which
// adds send/recv and a transfer that never completes, which must end in pha::Error, not a hang.
//
// The values are small integers (exact in bf16, and their sums too), so sum and max are compared
// exactly; avg divides (NCCL may scale each input by 1 / n first), compared within 5e-2 for bf16
// (values up to 5, two roundings of 2^-9) and 1e-6 otherwise.
//
// Without a GPU every test skips with the reason. The suite is named in lower case so that
// `ctest -R cuda` selects it.
#include "parallel/nccl_communicator.h"

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_device.h"
#include "tests/gpu/cuda_test_util.h"

namespace pha::parallel {
namespace {

using test::from_bf16;
using test::to_bf16;

constexpr DType all_dtypes[] = {DType::bf16, DType::f32, DType::f64, DType::i32};
constexpr int64_t kCount = 1001;

// Rank r's element i: an integer in [-5, 5].
double value(int rank, int64_t i) {
  return static_cast<double>((i * 7 + rank * 3) % 11) - 5.0;
}

// A device buffer of one dtype, filled and read back through the compute stream.
class DeviceTensor {
 public:
  DeviceTensor(DType dtype, int64_t n, cudaStream_t stream) : stream_(stream) {
    t_ = Tensor(nullptr, dtype, Device::cuda, Shape{n});
    PHA_CUDA_CHECK(cudaMalloc(&t_.data, std::max<size_t>(t_.bytes(), 1)));
  }
  ~DeviceTensor() { cudaFree(t_.data); }
  DeviceTensor(const DeviceTensor&) = delete;
  DeviceTensor& operator=(const DeviceTensor&) = delete;

  const Tensor& tensor() const { return t_; }
  void write(const std::vector<double>& v) {
    std::vector<char> host(t_.bytes());
    for (size_t i = 0; i < v.size(); ++i) {
      char* at = host.data() + i * dtype_size(t_.dtype);
      const float f = static_cast<float>(v[i]);
      const uint16_t h = to_bf16(f);
      const int32_t k = static_cast<int32_t>(v[i]);
      switch (t_.dtype) {
        case DType::f32:
          std::memcpy(at, &f, sizeof(f));
          break;
        case DType::f64:
          std::memcpy(at, &v[i], sizeof(double));
          break;
        case DType::bf16:
          std::memcpy(at, &h, sizeof(h));
          break;
        case DType::i32:
          std::memcpy(at, &k, sizeof(k));
          break;
      }
    }
    // Queued on the compute stream: the communicator must order its work after it.
    PHA_CUDA_CHECK(
        cudaMemcpyAsync(t_.data, host.data(), host.size(), cudaMemcpyHostToDevice, stream_));
    PHA_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  std::vector<double> read() const {
    std::vector<char> host(t_.bytes());
    PHA_CUDA_CHECK(
        cudaMemcpyAsync(host.data(), t_.data, host.size(), cudaMemcpyDeviceToHost, stream_));
    PHA_CUDA_CHECK(cudaStreamSynchronize(stream_));
    std::vector<double> v(static_cast<size_t>(t_.numel()));
    for (size_t i = 0; i < v.size(); ++i) {
      const char* at = host.data() + i * dtype_size(t_.dtype);
      float f;
      double d;
      uint16_t h;
      int32_t k;
      switch (t_.dtype) {
        case DType::f32:
          std::memcpy(&f, at, sizeof(f));
          v[i] = f;
          break;
        case DType::f64:
          std::memcpy(&d, at, sizeof(d));
          v[i] = d;
          break;
        case DType::bf16:
          std::memcpy(&h, at, sizeof(h));
          v[i] = from_bf16(h);
          break;
        case DType::i32:
          std::memcpy(&k, at, sizeof(k));
          v[i] = k;
          break;
      }
    }
    return v;
  }

 private:
  Tensor t_;
  cudaStream_t stream_;
};

void expect_values(const std::vector<double>& got, const std::vector<double>& want, double tol,
                   const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], tol) << what << " at " << i;
}

double avg_tolerance(DType dtype) {
  return dtype == DType::bf16 ? 5e-2 : 1e-6;
}

std::vector<double> rank_values(int rank, int64_t n) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = value(rank, i);
  return v;
}

// What every rank holds after reducing rank_values over `size` ranks.
std::vector<double> reduced(ReduceOp op, int size, int64_t n) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double sum = 0, max = value(0, i);
    for (int r = 0; r < size; ++r) {
      sum += value(r, i);
      max = std::max(max, value(r, i));
    }
    v[static_cast<size_t>(i)] = op == ReduceOp::max ? max : op == ReduceOp::avg ? sum / size : sum;
  }
  return v;
}

// Runs body(comm, compute stream) on GPUs 0..n-1 at once, one thread each, as one NCCL group
// named "test"; every thread's exception is reported as a failure naming its rank.
template <typename Body>
void on_gpus(int n, double timeout_s, Body body) {
  const ncclUniqueId id = NcclCommunicator::new_id();
  std::vector<std::string> errors(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r) {
    threads.emplace_back([&, r] {
      cudaStream_t compute = nullptr;
      try {
        PHA_CUDA_CHECK(cudaSetDevice(r));
        PHA_CUDA_CHECK(cudaStreamCreateWithFlags(&compute, cudaStreamNonBlocking));
        NcclCommunicator comm(id, r, n, "test", r, compute, timeout_s);
        body(comm, compute);
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(r)] = e.what();
      }
      if (compute) cudaStreamDestroy(compute);
    });
  }
  for (std::thread& t : threads) t.join();
  for (int r = 0; r < n; ++r) EXPECT_EQ(errors[static_cast<size_t>(r)], "") << "rank " << r;
}

// Every collective on every dtype, checked on each rank of the group.
void check_collectives(NcclCommunicator& comm, cudaStream_t stream) {
  const int n = comm.size(), rank = comm.rank();
  for (DType dtype : all_dtypes) {
    const std::string type(dtype_name(dtype));
    for (ReduceOp op : {ReduceOp::sum, ReduceOp::max, ReduceOp::avg}) {
      if (op == ReduceOp::avg && dtype == DType::i32) continue;
      DeviceTensor t(dtype, kCount, stream);
      t.write(rank_values(rank, kCount));
      comm.all_reduce(t.tensor(), op);
      expect_values(t.read(), reduced(op, n, kCount),
                    op == ReduceOp::avg ? avg_tolerance(dtype) : 0,
                    "all_reduce " + std::string(reduce_op_name(op)) + " " + type);
    }
    {  // reduce_scatter: chunk r of the sum
      DeviceTensor in(dtype, kCount * n, stream), out(dtype, kCount, stream);
      in.write(rank_values(rank, kCount * n));
      comm.reduce_scatter(in.tensor(), out.tensor(), ReduceOp::sum);
      const std::vector<double> sum = reduced(ReduceOp::sum, n, kCount * n);
      expect_values(
          out.read(),
          std::vector<double>(sum.begin() + rank * kCount, sum.begin() + (rank + 1) * kCount), 0,
          "reduce_scatter sum " + type);
    }
    {  // all_gather: chunk r is rank r's
      DeviceTensor in(dtype, kCount, stream), out(dtype, kCount * n, stream);
      in.write(rank_values(rank, kCount));
      comm.all_gather(in.tensor(), out.tensor());
      std::vector<double> want;
      for (int r = 0; r < n; ++r) {
        const std::vector<double> v = rank_values(r, kCount);
        want.insert(want.end(), v.begin(), v.end());
      }
      expect_values(out.read(), want, 0, "all_gather " + type);
    }
    {  // broadcast from the last rank
      DeviceTensor t(dtype, kCount, stream);
      t.write(rank_values(rank, kCount));
      comm.broadcast(t.tensor(), n - 1);
      expect_values(t.read(), rank_values(n - 1, kCount), 0, "broadcast " + type);
    }
  }
  comm.barrier();
}

// Two non-blocking reductions in flight at once, waited for in order; counted as two all_reduce
// calls with their bytes.
void check_started_reductions(NcclCommunicator& comm, cudaStream_t stream) {
  const int n = comm.size(), rank = comm.rank();
  DeviceTensor a(DType::f32, kCount, stream), b(DType::bf16, 3 * kCount, stream);
  a.write(rank_values(rank, kCount));
  b.write(rank_values(rank, 3 * kCount));
  comm.reset_stats();
  PendingReduce pa = comm.all_reduce_start(a.tensor(), ReduceOp::avg);
  PendingReduce pb = comm.all_reduce_start(b.tensor(), ReduceOp::sum);
  EXPECT_TRUE(pa.pending());
  comm.wait(pa);
  comm.wait(pb);
  EXPECT_FALSE(pa.pending());
  expect_values(a.read(), reduced(ReduceOp::avg, n, kCount), 1e-6, "started avg f32");
  expect_values(b.read(), reduced(ReduceOp::sum, n, 3 * kCount), 0, "started sum bf16");
  EXPECT_EQ(comm.stats()[CommOp::all_reduce].calls, 2);
  EXPECT_EQ(comm.stats()[CommOp::all_reduce].bytes, kCount * 4 + 3 * kCount * 2);
  EXPECT_THROW(comm.wait(pa), Error);  // waited for already
}

class NcclTest : public ::testing::Test {
 public:
  void SetUp() override {
    if (cuda_device_count() == 0) GTEST_SKIP() << cuda_unavailable_reason();
  }
  static int gpus() { return cuda_device_count(); }
};
using cuda_nccl = NcclTest;

TEST_F(cuda_nccl, EveryCollectiveOnOneGpu) {
  on_gpus(1, 60, check_collectives);
}

TEST_F(cuda_nccl, StartedReductionsOnOneGpu) {
  on_gpus(1, 60, check_started_reductions);
}

TEST_F(cuda_nccl, RefusesHostTensorsAndIntegerAverages) {
  on_gpus(1, 60, [](NcclCommunicator& comm, cudaStream_t stream) {
    std::vector<float> host(4);
    const Tensor on_host(host.data(), DType::f32, Device::cpu, Shape{4});
    test::expect_error([&] { comm.all_reduce(on_host, ReduceOp::sum); },
                       "the NCCL communicator moves device tensors");
    DeviceTensor ints(DType::i32, 4, stream);
    test::expect_error([&] { comm.all_reduce(ints.tensor(), ReduceOp::avg); },
                       "avg of i32 values is refused");
  });
}

TEST_F(cuda_nccl, EveryCollectiveOnAllGpus) {
  if (gpus() < 2) GTEST_SKIP() << "one GPU visible: the multi-GPU group needs two or more";
  on_gpus(gpus(), 60, check_collectives);
  on_gpus(gpus(), 60, check_started_reductions);
}

TEST_F(cuda_nccl, SendRecvAroundARing) {
  if (gpus() < 2) GTEST_SKIP() << "one GPU visible: send/recv needs two or more";
  on_gpus(gpus(), 60, [](NcclCommunicator& comm, cudaStream_t stream) {
    const int n = comm.size(), rank = comm.rank();
    const int next = (rank + 1) % n, prev = (rank + n - 1) % n;
    for (DType dtype : all_dtypes) {
      DeviceTensor out(dtype, kCount, stream), in(dtype, kCount, stream);
      out.write(rank_values(rank, kCount));
      // Even ranks send first, odd ranks receive first: no two blocking sends face each other.
      if (rank % 2 == 0) {
        comm.send(out.tensor(), next);
        comm.recv(in.tensor(), prev);
      } else {
        comm.recv(in.tensor(), prev);
        comm.send(out.tensor(), next);
      }
      expect_values(in.read(), rank_values(prev, kCount), 0,
                    "recv from " + std::to_string(prev) + " " + std::string(dtype_name(dtype)));
    }
  });
}

TEST_F(cuda_nccl, TransferThatNeverCompletesEndsInAnError) {
  if (gpus() < 2) GTEST_SKIP() << "one GPU visible: a stuck transfer needs two";
  on_gpus(2, 1.0, [](NcclCommunicator& comm, cudaStream_t stream) {
    if (comm.rank() == 0) return;  // never sends
    DeviceTensor in(DType::f32, kCount, stream);
    test::expect_error([&] { comm.recv(in.tensor(), 0); },
                       "recv from 0 on the test group (rank 1 of 2) did not complete within 1 s");
    test::expect_error([&] { comm.barrier(); }, "was aborted after an earlier failure");
  });
}

}  // namespace
}  // namespace pha::parallel
