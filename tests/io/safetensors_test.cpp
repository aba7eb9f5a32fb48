// The safetensors writer and reader: random tensors of odd shapes in F32 (bit-exact) and BF16
// (round to nearest even), the byte layout the format prescribes, metadata, and every corrupt
// input refused with a message naming the fault.
#include "io/safetensors.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/philox.h"
#include "io/json_value.h"
#include "tests/io/io_test_util.h"

namespace pha::io {
namespace {

using test::TempDir;

std::vector<NamedTensor> random_tensors(uint64_t seed) {
  const std::vector<std::pair<std::string, std::vector<int64_t>>> shapes = {
      {"layers.1.attn.wq", {7, 13}},
      {"embedding.weight", {3, 5, 11}},
      {"final_norm.weight", {17}},
      {"layers.0.mixer.alpha", {1}},
      {"a.scalar", {}},
      {"layers.10.gss.c_re", {2, 3, 2, 5}}};
  std::vector<NamedTensor> tensors;
  uint64_t stream = 0;
  for (const auto& [name, shape] : shapes) {
    NamedTensor t;
    t.name = name;
    t.shape = shape;
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    for (int64_t i = 0; i < n; ++i)
      t.values.push_back(static_cast<float>(0.3 + 2.0 * philox_normal(seed, stream, i)));
    ++stream;
    tensors.push_back(std::move(t));
  }
  return tensors;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A file with a hand-written header and `data_bytes` zero bytes of data.
std::string handmade(const std::string& header, size_t data_bytes) {
  const uint64_t n = header.size();
  std::string bytes(reinterpret_cast<const char*>(&n), 8);
  return bytes + header + std::string(data_bytes, '\0');
}

void expect_refused(const std::string& path, const std::string& fragment) {
  try {
    read_safetensors(path);
    ADD_FAILURE() << "reading " << path << " did not fail (expected: " << fragment << ")";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << fragment;
  }
}

TEST(Safetensors, F32RoundTripIsBitExactWithMetadata) {
  TempDir dir;
  const auto tensors = random_tensors(3);
  const std::map<std::string, std::string> meta = {{"format", "pt"},
                                                   {"pha.config", "[model]\nd = 8\n\"q\"\t"}};
  write_safetensors(dir / "m.safetensors", tensors, SafetensorsDType::f32, meta);
  const SafetensorsContents back = read_safetensors(dir / "m.safetensors");
  EXPECT_EQ(back.metadata, meta);
  ASSERT_EQ(back.tensors.size(), tensors.size());
  for (const NamedTensor& want : tensors) {
    const auto it = std::find_if(back.tensors.begin(), back.tensors.end(),
                                 [&](const NamedTensor& t) { return t.name == want.name; });
    ASSERT_NE(it, back.tensors.end()) << want.name;
    EXPECT_EQ(it->shape, want.shape) << want.name;
    EXPECT_EQ(it->stored, SafetensorsDType::f32);
    ASSERT_EQ(it->values.size(), want.values.size());
    EXPECT_EQ(std::memcmp(it->values.data(), want.values.data(), want.values.size() * 4), 0)
        << want.name;
  }
}

TEST(Safetensors, ByteLayoutFollowsTheFormat) {
  TempDir dir;
  const auto tensors = random_tensors(4);
  write_safetensors(dir / "m.safetensors", tensors, SafetensorsDType::f32, {});
  const std::string bytes = read_bytes(dir / "m.safetensors");
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u) << "the data must start 8-byte aligned";
  const std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.front(), '{');
  // Each tensor's bytes sit where its data_offsets say, relative to the end of the header.
  const JsonValue root = parse_json(header, "header");
  EXPECT_EQ(root.find("__metadata__"), nullptr);
  uint64_t total = 0;
  for (const NamedTensor& t : tensors) {
    const JsonValue* entry = root.find(t.name);
    ASSERT_NE(entry, nullptr) << t.name;
    EXPECT_EQ(entry->find("dtype")->text, "F32");
    const int64_t begin = entry->find("data_offsets")->items[0].as_int("begin");
    const int64_t end = entry->find("data_offsets")->items[1].as_int("end");
    ASSERT_EQ(end - begin, static_cast<int64_t>(t.values.size() * 4));
    EXPECT_EQ(std::memcmp(bytes.data() + 8 + n + begin, t.values.data(), t.values.size() * 4), 0);
    total += static_cast<uint64_t>(end - begin);
  }
  EXPECT_EQ(bytes.size(), 8 + n + total);
}

TEST(Safetensors, Bf16RoundsToNearestEven) {
  auto bits = [](uint32_t b) { return f32_to_bf16(std::bit_cast<float>(b)); };
  EXPECT_EQ(bits(0x3F800000u), 0x3F80);  // 1.0
  EXPECT_EQ(bits(0x3F808000u), 0x3F80);  // tie, kept bit even: down
  EXPECT_EQ(bits(0x3F818000u), 0x3F82);  // tie, kept bit odd: up
  EXPECT_EQ(bits(0x3F808001u), 0x3F81);  // above the tie: up
  EXPECT_EQ(bits(0x3F807FFFu), 0x3F80);  // below the tie: down
  EXPECT_EQ(bits(0xBF818000u), 0xBF82);  // the sign does not matter
  EXPECT_EQ(bits(0x7F7FFFFFu), 0x7F80);  // the largest float rounds to infinity
  EXPECT_EQ(bits(0xFF800000u), 0xFF80);  // -inf stays
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::nanf("")))));
  EXPECT_TRUE(std::isnan(bf16_to_f32(bits(0x7F800001u))));  // a NaN with low payload only
  EXPECT_EQ(bf16_to_f32(0x3F82), std::bit_cast<float>(0x3F820000u));
}

TEST(Safetensors, Bf16RoundTripRoundsEveryValue) {
  TempDir dir;
  const auto tensors = random_tensors(5);
  write_safetensors(dir / "m.safetensors", tensors, SafetensorsDType::bf16, {{"k", "v"}});
  const SafetensorsContents back = read_safetensors(dir / "m.safetensors");
  EXPECT_EQ(std::filesystem::file_size(dir / "m.safetensors") % 2, 0u);
  for (const NamedTensor& want : tensors) {
    const auto it = std::find_if(back.tensors.begin(), back.tensors.end(),
                                 [&](const NamedTensor& t) { return t.name == want.name; });
    ASSERT_NE(it, back.tensors.end());
    EXPECT_EQ(it->stored, SafetensorsDType::bf16);
    for (size_t i = 0; i < want.values.size(); ++i) {
      const float v = want.values[i], r = it->values[i];
      // Nearest: the error is at most half a bf16 ulp (8 significant bits).
      EXPECT_LE(std::fabs(r - v), std::ldexp(std::fabs(v), -8)) << want.name << " " << i;
      EXPECT_EQ(std::bit_cast<uint32_t>(r) & 0xFFFFu, 0u);
      EXPECT_EQ(f32_to_bf16(v), std::bit_cast<uint32_t>(r) >> 16);
    }
  }
}

TEST(Safetensors, RefusesCorruptInputs) {
  TempDir dir;
  expect_refused(dir / "missing.safetensors", "does not exist");
  write_safetensors(dir / "good.safetensors", random_tensors(6), SafetensorsDType::f32, {});
  const std::string good = read_bytes(dir / "good.safetensors");

  test::write_file(dir / "short", good.substr(0, 5));
  expect_refused(dir / "short", "fewer than the 8-byte header length");
  test::write_file(dir / "truncated", good.substr(0, good.size() - 3));
  expect_refused(dir / "truncated", "truncated");
  test::write_file(dir / "trailing", good + "xyz");
  expect_refused(dir / "trailing", "trailing bytes");
  test::write_file(dir / "header_cut", good.substr(0, 20));
  expect_refused(dir / "header_cut", "exceeds the file's");

  // Headers that lie about offsets: overlapping, a hole, a span that disagrees with the shape.
  test::write_file(dir / "overlap",
                   handmade(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                            R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                            12));
  expect_refused(dir / "overlap", "overlap or leave a hole");
  test::write_file(dir / "hole",
                   handmade(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12));
  expect_refused(dir / "hole", "overlap or leave a hole");
  test::write_file(dir / "span",
                   handmade(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8));
  expect_refused(dir / "span", "span 8 bytes but shape [3] of F32 needs 12");
  test::write_file(dir / "dtype",
                   handmade(R"({"a":{"dtype":"F99","shape":[2],"data_offsets":[0,8]}})", 8));
  expect_refused(dir / "dtype", "dtype 'F99'");
  test::write_file(dir / "json", handmade(R"({"a":{"dtype":"F32",)", 8));
  expect_refused(dir / "json", "invalid JSON");
  test::write_file(dir / "nohdr", handmade(R"(["a"])", 0));
  expect_refused(dir / "nohdr", "does not start with");
  test::write_file(dir / "twice",
                   handmade(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                            R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                            8));
  expect_refused(dir / "twice", "appears twice");
  test::write_file(dir / "meta", handmade(R"({"__metadata__":{"k":3}})", 0));
  expect_refused(dir / "meta", "expected a string");
}

TEST(Safetensors, WriterRefusesBadTensors) {
  TempDir dir;
  auto tensors = random_tensors(7);
  tensors[1].values.pop_back();
  EXPECT_THROW(write_safetensors(dir / "x", tensors, SafetensorsDType::f32, {}), Error);
  tensors = random_tensors(7);
  tensors[2].name = tensors[0].name;
  EXPECT_THROW(write_safetensors(dir / "x", tensors, SafetensorsDType::f32, {}), Error);
  EXPECT_THROW(parse_safetensors_dtype("f16"), Error);
}

TEST(JsonValue, ParsesEveryKindAndRefusesMalformedText) {
  const JsonValue v = parse_json(
      R"( {"a": [1, -2.5e3, true, false, null], "s": "x\u00e9\n\"", "o": {"big": 9007199254740993}} )",
      "t");
  ASSERT_TRUE(v.is(JsonValue::Kind::object));
  const JsonValue& a = *v.find("a");
  ASSERT_EQ(a.items.size(), 5u);
  EXPECT_EQ(a.items[0].as_int("a0"), 1);
  EXPECT_EQ(a.items[1].as_double("a1"), -2500.0);
  EXPECT_TRUE(a.items[2].as_bool("a2"));
  EXPECT_FALSE(a.items[3].as_bool("a3"));
  EXPECT_TRUE(a.items[4].is(JsonValue::Kind::null));
  EXPECT_EQ(v.find("s")->as_string("s"), "x\xC3\xA9\n\"");
  EXPECT_EQ(v.find("o")->find("big")->as_int("big"), 9007199254740993);
  EXPECT_THROW(a.items[1].as_int("a1"), Error);
  EXPECT_THROW(v.find("s")->as_int("s"), Error);
  for (const char* bad :
       {"{", "[1,]", "{\"a\" 1}", "tru", "\"abc", "1 2", "{\"a\":01}", "-", "1.", "1e"})
    EXPECT_THROW(parse_json(bad, "bad"), Error) << bad;
}

}  // namespace
}  // namespace pha::io
