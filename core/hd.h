#pragma once
// PHA_HD marks math shared by the CPU and CUDA backends: one definition, compiled for both.
#ifdef __CUDACC__
#define PHA_HD __host__ __device__ inline
#else
#define PHA_HD inline
#endif
