// CudaBackend branch mixer: checks, then the kernels of cuda_mixer.cu. alpha, w, dw, dalpha
// [n, C] with C = 1 or d (parameters); branches, out, dout, dbranches [rows, d] (activations).
#include "core/cuda/cuda_backend.h"
#include "core/cuda/launch_plan.h"

namespace pha {

namespace {

void require_weights(const char* op, const char* name, const Tensor& t) {
  cuda::require_float_on_gpu(op, name, t);
  PHA_REQUIRE(t.rank() == 2 && t.dim(0) >= 1, "{}: {} must be [n, C] with n >= 1, has shape {}", op,
              name, t.shape.str());
}

// branches: n tensors shaped like `ref` ([rows, d]), or null where the op reads none; w [n, 1] or
// [n, d]. Returns C.
int64_t require_mixer(const char* op, const char* ref_name, const Tensor& ref,
                      const Tensor* branches, int n, const Tensor& w) {
  PHA_REQUIRE(n >= 1 && n <= cuda::kMaxBranches, "{}: needs 1 to {} branches, got {}", op,
              cuda::kMaxBranches, n);
  cuda::require_float_on_gpu(op, ref_name, ref);
  PHA_REQUIRE(ref.rank() >= 1, "{}: {} {} needs a last dim", op, ref_name, ref.shape.str());
  const int64_t d = ref.shape.last();
  PHA_REQUIRE(w.rank() == 2 && w.dim(0) == n && (w.dim(1) == 1 || w.dim(1) == d),
              "{}: w has shape {}, expected [{}, 1] or [{}, {}] for {} branches of {} {}", op,
              w.shape.str(), n, n, d, n, ref_name, ref.shape.str());
  cuda::require_param(op, "w", w, w.shape, ref);
  for (int i = 0; branches != nullptr && i < n; ++i)
    cuda::require_like(op, "a branch", branches[i], ref_name, ref);
  return w.dim(1);
}

}  // namespace

void CudaBackend::mixer_weights_forward(const Tensor& alpha, const Tensor& w, bool normalize) {
  const char* op = "mixer_weights_forward";
  require_weights(op, "alpha", alpha);
  cuda::require_like(op, "w", w, "alpha", alpha);
  cuda::mixer_weights_forward(launch(), alpha.dtype, alpha.data, w.data, alpha.dim(0), alpha.dim(1),
                              normalize);
}

void CudaBackend::mixer_weights_backward(const Tensor& w, const Tensor& dw, const Tensor& dalpha,
                                         bool normalize, bool dw_weighted) {
  const char* op = "mixer_weights_backward";
  require_weights(op, "w", w);
  cuda::require_like(op, "dw", dw, "w", w);
  cuda::require_like(op, "dalpha", dalpha, "w", w);
  PHA_REQUIRE(normalize || !dw_weighted,
              "{}: a weighted dw (w * dloss/dw) needs the softmax mixer (normalize)", op);
  cuda::mixer_weights_backward(launch(), w.dtype, w.data, dw.data, dalpha.data, w.dim(0), w.dim(1),
                               normalize, dw_weighted);
}

void CudaBackend::mixer_forward(const Tensor* branches, int n, const Tensor& w, const Tensor& out) {
  const char* op = "mixer_forward";
  PHA_REQUIRE(branches != nullptr, "{}: needs the branch outputs", op);
  const int64_t wcols = require_mixer(op, "out", out, branches, n, w);
  const void* ptrs[cuda::kMaxBranches] = {};
  for (int i = 0; i < n; ++i) ptrs[i] = branches[i].data;
  cuda::mixer_forward(launch(), out.dtype, w.dtype, ptrs, n, w.data, wcols, out.data,
                      out.shape.rows(), out.shape.last());
}

// dbranches may be null, and any of its tensors or dw empty (not wanted); branches may be null
// when dw is empty.
void CudaBackend::mixer_backward(const Tensor& dout, const Tensor* branches, int n, const Tensor& w,
                                 const Tensor* dbranches, const Tensor& dw) {
  const char* op = "mixer_backward";
  const int64_t wcols = require_mixer(op, "dout", dout, branches, n, w);
  if (!dw.empty()) {
    PHA_REQUIRE(branches != nullptr, "{}: dw needs the branch outputs", op);
    cuda::require_like(op, "dw", dw, "w", w);
  }
  const void* ptrs[cuda::kMaxBranches] = {};
  void* grads[cuda::kMaxBranches] = {};
  for (int i = 0; i < n; ++i) {
    if (branches != nullptr) ptrs[i] = branches[i].data;
    if (dbranches == nullptr || dbranches[i].empty()) continue;
    cuda::require_like(op, "a dbranch", dbranches[i], "dout", dout);
    grads[i] = dbranches[i].data;
  }
  const int64_t rows = dout.shape.rows(), d = dout.shape.last();
  double* partial = nullptr;
  if (!dw.empty()) {
    const int64_t count =
        wcols == 1 ? cuda::plan_sum(rows * d).blocks : cuda::plan_columns(rows, d).partials();
    partial = scratch<double>(cuda::slot::partials, static_cast<size_t>(count));
  }
  cuda::mixer_backward(launch(), dout.dtype, w.dtype, dout.data, ptrs, n, w.data, wcols, grads,
                       dw.empty() ? nullptr : dw.data, rows, d, partial);
}

// out[0] += sum of a * b: a, b activations alike, out one element of their parameter type.
void CudaBackend::dot_accumulate(const Tensor& a, const Tensor& b, const Tensor& out) {
  const char* op = "dot_accumulate";
  cuda::require_float_on_gpu(op, "a", a);
  cuda::require_like(op, "b", b, "a", a);
  cuda::require_param(op, "out", out, out.shape, a);
  PHA_REQUIRE(out.numel() == 1, "{}: out must hold one element, has shape {}", op, out.shape.str());
  const int64_t count = a.numel();
  double* partial =
      scratch<double>(cuda::slot::partials, static_cast<size_t>(cuda::plan_sum(count).blocks));
  cuda::dot_accumulate(launch(), a.dtype, out.dtype, a.data, b.data, count, out.data, partial);
}

}  // namespace pha
