// HDF5 tensor files: round trips, blocks, attributes, errors, and exchange with h5py.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "io/h5_file.h"
#include "io/tensor_file.h"
#include "tests/test_util.h"

namespace pha {
namespace {

using test::expect_error;
using test::Owned;
using test::random_tensor;

class H5Io : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           fmt::format("pha_h5_{}_{}", ::getpid(), info->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }

  std::filesystem::path dir_;
};

// Runs a Python snippet with Debian's python (which has h5py) and returns its stdout.
std::string python(const std::string& code) {
  const std::string command = "/usr/bin/python3 -c '" + code + "' 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  std::string out;
  char buffer[256];
  while (pipe && std::fgets(buffer, sizeof buffer, pipe)) out += buffer;
  if (pipe) {
    EXPECT_EQ(::pclose(pipe), 0) << out;
  }
  return out;
}

TEST_F(H5Io, RoundTripOfEveryTypeAndAttribute) {
  const auto f32 = random_tensor<float>({3, 4}, 1);
  const auto f64 = random_tensor<double>({2, 3, 5}, 2);
  const auto scalar = random_tensor<double>(Shape{}, 3);
  Owned<int32_t> i32({7});
  for (size_t i = 0; i < i32.size(); ++i) i32[i] = static_cast<int32_t>(i * 1000003) - 5;
  save_tensors(
      file("a.h5"),
      {{"model/layers.0.attn.wq", f32}, {"grad/x", f64}, {"tokens", i32}, {"loss", scalar}},
      {{"block", "pha"}, {"d", "768"}});

  Owned<float> f32_back({3, 4});
  Owned<double> f64_back({2, 3, 5}), scalar_back(Shape{});
  Owned<int32_t> i32_back({7});
  load_tensors(file("a.h5"), {{"/model/layers.0.attn.wq", f32_back},
                              {"grad/x", f64_back},
                              {"tokens", i32_back},
                              {"loss", scalar_back}});
  EXPECT_EQ(f32_back.data, f32.data);
  EXPECT_EQ(f64_back.data, f64.data);
  EXPECT_EQ(i32_back.data, i32.data);
  EXPECT_EQ(scalar_back.data, scalar.data);
  const auto attributes = load_attributes(file("a.h5"));
  EXPECT_EQ(attributes, (std::map<std::string, std::string>{{"block", "pha"}, {"d", "768"}}));

  h5::File f = h5::File::open(file("a.h5"), h5::File::Access::read_write);
  f.set_int_attribute("", "step", -1200);
  f.set_double_attribute("model/layers.0.attn.wq", "scale", 0.1);
  f.set_string_attribute("model", "note", "héllo");
  f.set_string_attribute("", "block", "serial");  // replaces
  EXPECT_EQ(f.int_attribute("/", "step"), -1200);
  EXPECT_EQ(f.double_attribute("/model/layers.0.attn.wq", "scale"), 0.1);
  EXPECT_EQ(f.double_attribute("", "step"), -1200.0);
  EXPECT_EQ(f.string_attribute("model", "note"), "héllo");
  EXPECT_EQ(f.attribute_text("", "block"), "serial");
  EXPECT_EQ(f.attribute_text("", "step"), "-1200");
  EXPECT_EQ(f.attribute_text("model/layers.0.attn.wq", "scale"), "0.1");
  EXPECT_TRUE(f.has_attribute("", "d"));
  EXPECT_FALSE(f.has_attribute("model", "d"));
  EXPECT_EQ(f.attribute_names(""), (std::vector<std::string>{"block", "d", "step"}));
  EXPECT_EQ(f.list_datasets("/"),
            (std::vector<std::string>{"grad/x", "loss", "model/layers.0.attn.wq", "tokens"}));
  EXPECT_EQ(f.list_datasets("model"), (std::vector<std::string>{"layers.0.attn.wq"}));
  EXPECT_EQ(f.shape("grad/x"), (Shape{2, 3, 5}));
  EXPECT_EQ(f.dtype("tokens"), DType::i32);
  EXPECT_TRUE(f.is_dataset("loss"));
  EXPECT_FALSE(f.is_dataset("model"));
  EXPECT_FALSE(f.exists("model/nope/deeper"));
  f.close();
}

TEST_F(H5Io, FloatsConvertOnRead) {
  const auto f64 = random_tensor<double>({4, 2}, 4);
  save_tensors(file("c.h5"), {{"x", f64}});
  Owned<float> as_f32({4, 2});
  load_tensors(file("c.h5"), {{"x", as_f32}});
  for (size_t i = 0; i < as_f32.size(); ++i) EXPECT_EQ(as_f32[i], static_cast<float>(f64.data[i]));
}

TEST_F(H5Io, BlocksAlongOneDimension) {
  const auto full = random_tensor<float>({5, 3}, 5);
  {
    h5::File f = h5::File::create(file("b.h5"));
    f.create_dataset("optim/exp_avg/w", DType::f32, Shape{5, 3});
    // Two "ranks" own rows [0, 2) and [2, 5).
    f.write_block("optim/exp_avg/w", full.t.slice0(0, 2), 0, 0);
    f.write_block("optim/exp_avg/w", full.t.slice0(2, 3), 0, 2);
    Owned<float> none({0, 3});
    f.write_block("optim/exp_avg/w", none, 0, 5);  // an empty block is allowed at the end
    f.close();
  }
  const h5::File f = h5::File::open(file("b.h5"));
  Owned<float> back({5, 3});
  f.read("optim/exp_avg/w", back);
  EXPECT_EQ(back.data, full.data);
  // Columns [1, 3) of every row: a block along the last dimension.
  Owned<float> columns({5, 2});
  f.read_block("optim/exp_avg/w", columns, 1, 1);
  for (int r = 0; r < 5; ++r)
    for (int c = 0; c < 2; ++c) EXPECT_EQ(columns[r * 2 + c], full.data[r * 3 + c + 1]);
  Owned<double> rows_f64({2, 3});
  f.read_block("optim/exp_avg/w", rows_f64, 0, 3);
  EXPECT_EQ(rows_f64[0], static_cast<double>(full.data[9]));

  expect_error([&] { f.read_block("optim/exp_avg/w", columns, 1, 2); }, "does not fit");
  Owned<float> wrong_width({2, 2});
  expect_error([&] { f.read_block("optim/exp_avg/w", wrong_width, 0, 0); }, "[5, 3]");
  expect_error([&] { f.read_block("optim/exp_avg/w", back, 2, 0); }, "of dim 2");
}

TEST_F(H5Io, ClearErrors) {
  const auto w = random_tensor<float>({4, 8}, 6);
  save_tensors(file("w.h5"), {{"model/embedding.weight", w}});

  Owned<float> transposed({8, 4});
  expect_error(
      [&] {
        load_tensors(file("w.h5"), {{"model/embedding.weight", transposed}});
      },
      "dataset '/model/embedding.weight' has shape [4, 8] but the tensor to fill has "
      "shape [8, 4]");
  expect_error(
      [&] {
        load_tensors(file("w.h5"), {{"model/final_norm.weight", w}});
      },
      "has no dataset '/model/final_norm.weight'");
  expect_error(
      [&] {
        load_tensors(file("w.h5"), {{"model/embedding.weight/x", w}});
      },
      "has no dataset");
  expect_error(
      [&] {
        load_tensors(file("missing.h5"), {{"x", w}});
      },
      fmt::format("'{}' does not exist", file("missing.h5")));
  std::ofstream(file("text.h5")) << "not hdf5";
  expect_error([&] { load_tensors(file("text.h5"), {{"x", w}}); }, "is not an HDF5 file");
  expect_error(
      [&] {
        save_tensors(file("no/such/dir/x.h5"), {{"x", w}});
      },
      "check that its directory exists");
  Owned<int32_t> ints({4, 8});
  expect_error(
      [&] {
        load_tensors(file("w.h5"), {{"model/embedding.weight", ints}});
      },
      "holds f32 but the tensor to fill is i32");
  Tensor bf16(w.t.data, DType::bf16, Device::cpu, Shape{4, 8});
  expect_error([&] { save_tensors(file("bf16.h5"), {{"x", bf16}}); }, "convert the tensor to f32");

  h5::File f = h5::File::open(file("w.h5"), h5::File::Access::read_write);
  expect_error([&] { f.write("model/embedding.weight", transposed); },
               "exists as f32[4, 8] but the tensor is f32[8, 4]");
  expect_error([&] { (void)f.int_attribute("", "step"); }, "has no attribute 'step'");
  expect_error([&] { f.set_collective(true); }, "collective transfers need a file opened with MPI");
  f.set_string_attribute("", "name", "x");
  expect_error([&] { (void)f.int_attribute("", "name"); }, "is not an integer");
  f.close();
  const h5::File read_only = h5::File::open(file("w.h5"));
  expect_error([&] { const_cast<h5::File&>(read_only).write("y", w); }, "creating dataset '/y'");
}

TEST_F(H5Io, Hdf5FilesExchangeWithH5py) {
  Owned<float> w({2, 3});
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.5f * static_cast<float>(i) - 1.0f;
  {
    h5::File f = h5::File::create(file("cpp.h5"));
    f.write("model/layers.0.attn.wq", w);
    f.set_string_attribute("", "block", "attention+ffn");
    f.set_int_attribute("", "d", 768);
    f.set_double_attribute("", "lr", 3e-4);
    f.close();
  }
  const std::string out = python(
      "import h5py\n"
      "f = h5py.File(\"" +
      file("cpp.h5") +
      "\", \"r\")\n"
      "x = f[\"model/layers.0.attn.wq\"]\n"
      "print(x.dtype, x.shape, x[...].ravel().tolist())\n"
      "print(repr(f.attrs[\"block\"]), int(f.attrs[\"d\"]), float(f.attrs[\"lr\"]))\n");
  EXPECT_EQ(out,
            "float32 (2, 3) [-1.0, -0.5, 0.0, 0.5, 1.0, 1.5]\n"
            "'attention+ffn' 768 0.0003\n");

  // The other way: what the PyTorch reference writes (h5py strings, numpy scalars, bytes).
  python(
      "import h5py, numpy as np\n"
      "f = h5py.File(\"" +
      file("py.h5") +
      "\", \"w\")\n"
      "f[\"grad/layers.0.ffn.w1\"] = np.arange(6, dtype=np.float64).reshape(3, 2)\n"
      "f[\"loss\"] = np.float64(2.5)\n"
      "f.attrs[\"mixer\"] = \"channel\"\n"
      "f.attrs[\"fixed\"] = np.bytes_(b\"abc\")\n"
      "f.attrs[\"L\"] = np.int64(12)\n");
  h5::File f = h5::File::open(file("py.h5"));
  Owned<double> g({3, 2}), loss(Shape{});
  f.read("grad/layers.0.ffn.w1", g);
  f.read("loss", loss);
  EXPECT_EQ(g.data, (std::vector<double>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(loss[0], 2.5);
  EXPECT_EQ(f.string_attribute("", "mixer"), "channel");
  EXPECT_EQ(f.string_attribute("", "fixed"), "abc");
  EXPECT_EQ(f.int_attribute("", "L"), 12);
}

TEST_F(H5Io, ParallelFileWithOneRank) {
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) {
    ASSERT_EQ(MPI_Init(nullptr, nullptr), MPI_SUCCESS);
    std::atexit([] { MPI_Finalize(); });
  }
  const auto full = random_tensor<double>({3, 4}, 7);
  {
    h5::File f = h5::File::create(file("p.h5"), MPI_COMM_WORLD);
    EXPECT_TRUE(f.parallel());
    f.set_collective(true);
    f.create_dataset("model/w", DType::f64, Shape{3, 4});
    f.write_block("model/w", full.t.slice0(1, 2), 0, 1);
    f.write_block("model/w", full.t.slice0(0, 1), 0, 0);
    f.set_int_attribute("", "world", 1);
    f.close();
  }
  Owned<double> back({3, 4});
  h5::File::open(file("p.h5"), MPI_COMM_WORLD).read("model/w", back);
  EXPECT_EQ(back.data, full.data);
}

}  // namespace
}  // namespace pha
