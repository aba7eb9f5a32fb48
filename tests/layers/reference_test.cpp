// The whole model against the independent PyTorch reference (tests/reference/pha_ref.py, plain
// torch written from the spec, run by Debian's /usr/bin/python3 in float64). Weights come from the
// reference's own `init` (every parameter random and non-zero) and travel through HDF5 files named
// as in the spec; the loss, the logits and every parameter gradient must agree norm-wise within
// 1e-4 on the tiny preset, for every block and mixer variant.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/cpu/cpu_backend.h"
#include "io/tensor_file.h"
#include "layers/model.h"
#include "tests/test_util.h"

namespace pha {
namespace {

namespace fs = std::filesystem;

std::string run(const std::string& command) {
  const std::string log = (fs::temp_directory_path() / "pha_ref_log.txt").string();
  const int rc = std::system((command + " > " + log + " 2>&1").c_str());
  std::ifstream in(log);
  std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(rc, 0) << command << "\n" << out;
  return out;
}

bool reference_available() {
  return std::system("/usr/bin/python3 -c 'import torch, h5py' > /dev/null 2>&1") == 0;
}

struct Variant {
  std::string block, mixer;
  int64_t window = 0;
};

void compare(const Variant& v, uint64_t seed) {
  ModelConfig c = model_preset("tiny");
  c.block = BlockKind::parse(v.block);
  c.mixer = parse_mixer(v.mixer);
  c.attn_window = v.window;
  const int64_t B = 2, T = 48;
  const fs::path dir = fs::temp_directory_path() /
                       ("pha_ref_" + std::to_string(::getpid()) + "_" + std::to_string(seed));
  fs::create_directories(dir);
  const std::string script = std::string(PHA_SOURCE_DIR) + "/tests/reference/pha_ref.py";
  const std::string weights = (dir / "w.h5").string(), tokens_file = (dir / "tok.h5").string(),
                    out_file = (dir / "out.h5").string();
  run(
      fmt::format("/usr/bin/python3 {} init --out {} --preset tiny --block {} --mixer {} "
                  "--attn_window {} --seed {}",
                  script, weights, v.block, v.mixer, v.window, seed));

  CpuBackend be;
  Model model(be, c, B, T);
  NamedTensors params;
  for (const ParamSpec& spec : model.param_specs())
    params.emplace_back("model/" + spec.name, model.params().get(spec.name));
  load_tensors(weights, params);

  auto tokens = test::random_tokens({B, T}, static_cast<int32_t>(c.vocab), seed);
  save_tensors(tokens_file, {{"tokens", tokens.t}});
  run(fmt::format("/usr/bin/python3 {} run --weights {} --tokens {} --out {}", script, weights,
                  tokens_file, out_file));

  const double loss = model.forward(tokens.data.data());
  test::Owned<double> ref_loss(Shape{});
  test::Owned<double> ref_logits({B, T, c.vocab_padded()});
  load_tensors(out_file, {{"loss", ref_loss.t}, {"logits", ref_logits.t}});
  std::vector<float> logits(static_cast<size_t>(model.logits().numel()));
  be.copy_to_host(model.logits(), logits.data());
  model.zero_grads();
  model.backward();

  const double loss_err = std::fabs(loss - ref_loss[0]) / std::fabs(ref_loss[0]);
  const double logits_err = test::rel_error(logits, ref_logits.data);
  std::printf("  [%s/%s window %lld] loss %.6f vs %.6f rel %.2e | logits rel %.2e\n",
              v.block.c_str(), v.mixer.c_str(), static_cast<long long>(v.window), loss, ref_loss[0],
              loss_err, logits_err);
  EXPECT_LE(loss_err, 1e-4);
  EXPECT_LE(logits_err, 1e-4);
  double worst = 0;
  std::string worst_name;
  for (const ParamSpec& spec : model.param_specs()) {
    test::Owned<double> ref_grad(spec.shape);
    load_tensors(out_file, {{"grad/" + spec.name, ref_grad.t}});
    std::vector<float> grad(static_cast<size_t>(spec.shape.numel()));
    be.copy_to_host(model.grads().get(spec.name), grad.data());
    const double err = test::rel_error(grad, ref_grad.data);
    EXPECT_LE(err, 1e-4) << spec.name;
    if (err > worst) worst = err, worst_name = spec.name;
    if (spec.name.rfind("layers.0.", 0) == 0 || spec.name.find('.') == spec.name.rfind('.'))
      std::printf("    grad %-26s rel %.2e\n", spec.name.c_str(), err);
  }
  std::printf("    worst gradient: %s rel %.2e over %zu tensors (tol 1e-4)\n", worst_name.c_str(),
              worst, model.param_specs().size());
  fs::remove_all(dir);
}

class Reference : public ::testing::TestWithParam<Variant> {};

TEST_P(Reference, LossLogitsAndEveryGradientMatch) {
  if (!reference_available()) GTEST_SKIP() << "Debian's python3-torch/python3-h5py are missing";
  compare(GetParam(), 11 + static_cast<uint64_t>(GetParam().window));
}

INSTANTIATE_TEST_SUITE_P(
    TinyPreset, Reference,
    ::testing::Values(Variant{"pha", "softmax"}, Variant{"pha", "scalar"},
                      Variant{"pha", "channel"}, Variant{"serial", "softmax"},
                      Variant{"attention+ffn", "softmax"}, Variant{"gss", "softmax"},
                      Variant{"gss+ffn", "channel"}, Variant{"attention+gss", "scalar"},
                      Variant{"ffn", "softmax"}, Variant{"pha", "softmax", 5}),
    [](const auto& info) {
      std::string name = info.param.block + "_" + info.param.mixer +
                         (info.param.window ? "_window" + std::to_string(info.param.window) : "");
      for (char& ch : name)
        if (ch == '+') ch = '_';
      return name;
    });

}  // namespace
}  // namespace pha
