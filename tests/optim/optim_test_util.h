#pragma once
// A tiny parameter set for the optimiser tests, declared through the Planner as the model does.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "core/cpu/cpu_backend.h"
#include "layers/planner.h"

namespace pha::test {

struct TinyParam {
  std::string name;
  Shape shape;
  ParamGroup group;
};

struct TinyModel {
  CpuBackend backend;
  std::vector<ParamSpec> specs;
  Arena params, grads;

  TinyModel(DType real, const std::vector<TinyParam>& list) {
    Planner planner(real);
    for (const TinyParam& p : list) planner.param(p.name, p.shape, InitKind::zeros, 0.0, p.group);
    specs = planner.param_specs();
    params = Arena(backend, planner.param_table(), "parameters");
    grads = Arena(backend, planner.param_table(), "gradients");
  }

  template <typename T>
  void set(const Arena& arena, const std::string& name, const std::vector<T>& values) {
    const Tensor& t = arena.get(name);
    ASSERT_EQ(static_cast<size_t>(t.numel()), values.size()) << name;
    std::copy(values.begin(), values.end(), t.as<T>());
  }

  template <typename T>
  static std::vector<T> values(const Tensor& t) {
    return std::vector<T>(t.as<T>(), t.as<T>() + t.numel());
  }
};

}  // namespace pha::test
