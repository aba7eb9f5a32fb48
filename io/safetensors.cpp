#include "io/safetensors.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/error.h"
#include "io/json_reader.h"
#include "io/json_value.h"

namespace pha::io {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian: this writer copies host bytes");

namespace {

// The Rust reference refuses headers above 100 MB; so does this reader.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

size_t element_bytes(SafetensorsDType dtype) {
  return dtype == SafetensorsDType::f32 ? 4 : 2;
}

int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

}  // namespace

std::string shape_text(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

std::string safetensors_dtype_name(SafetensorsDType dtype) {
  return dtype == SafetensorsDType::f32 ? "F32" : "BF16";
}

SafetensorsDType parse_safetensors_dtype(const std::string& text) {
  if (text == "f32") return SafetensorsDType::f32;
  if (text == "bf16") return SafetensorsDType::bf16;
  fail("--dtype {}: use f32 or bf16", text);
}

uint16_t f32_to_bf16(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  if (std::isnan(value)) return static_cast<uint16_t>((bits >> 16) | 0x40);  // keep it a NaN
  // Round to nearest even: add 0x7FFF plus the lowest kept bit, then truncate.
  const uint32_t rounded = bits + 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(rounded >> 16);
}

float bf16_to_f32(uint16_t bits) {
  return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16);
}

void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       SafetensorsDType dtype, const std::map<std::string, std::string>& metadata) {
  std::vector<const NamedTensor*> order;
  for (const NamedTensor& t : tensors) {
    PHA_REQUIRE(!t.name.empty() && t.name != "__metadata__",
                "safetensors: tensor name '{}' is not allowed", t.name);
    PHA_REQUIRE(static_cast<int64_t>(t.values.size()) == numel(t.shape),
                "safetensors: tensor '{}' holds {} values but its shape {} needs {}", t.name,
                t.values.size(), shape_text(t.shape), numel(t.shape));
    order.push_back(&t);
  }
  std::sort(order.begin(), order.end(),
            [](const NamedTensor* a, const NamedTensor* b) { return a->name < b->name; });
  for (size_t i = 1; i < order.size(); ++i)
    PHA_REQUIRE(order[i]->name != order[i - 1]->name, "safetensors: tensor '{}' given twice",
                order[i]->name);

  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [key, value] : metadata) {
      header += fmt::format("{}{}:{}", first ? "" : ",", json_quote(key), json_quote(value));
      first = false;
    }
    header += "}";
  }
  uint64_t offset = 0;
  const size_t width = element_bytes(dtype);
  for (const NamedTensor* t : order) {
    const uint64_t bytes = t->values.size() * width;
    header += fmt::format("{}{}:{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
                          header.size() > 1 ? "," : "", json_quote(t->name),
                          safetensors_dtype_name(dtype), fmt::join(t->shape, ","), offset,
                          offset + bytes);
    offset += bytes;
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');  // the data starts 8-byte aligned

  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    PHA_REQUIRE(out.good(), "cannot create '{}': {}", tmp, std::strerror(errno));
    const uint64_t length = header.size();
    out.write(reinterpret_cast<const char*>(&length), sizeof length);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    for (const NamedTensor* t : order) {
      if (dtype == SafetensorsDType::f32) {
        out.write(reinterpret_cast<const char*>(t->values.data()),
                  static_cast<std::streamsize>(t->values.size() * sizeof(float)));
      } else {
        std::vector<uint16_t> half(t->values.size());
        std::transform(t->values.begin(), t->values.end(), half.begin(), f32_to_bf16);
        out.write(reinterpret_cast<const char*>(half.data()),
                  static_cast<std::streamsize>(half.size() * sizeof(uint16_t)));
      }
    }
    out.close();
    PHA_REQUIRE(out.good(), "writing '{}' failed: {} (disk full?)", tmp, std::strerror(errno));
  }
  std::filesystem::rename(tmp, path);
}

SafetensorsContents read_safetensors(const std::string& path) {
  PHA_REQUIRE(std::filesystem::is_regular_file(path), "'{}' does not exist (or is not a file)",
              path);
  std::ifstream in(path, std::ios::binary);
  PHA_REQUIRE(in.good(), "cannot open '{}': {}", path, std::strerror(errno));
  const uint64_t file_size = std::filesystem::file_size(path);
  const std::string what = fmt::format("'{}' is not a valid safetensors file", path);
  PHA_REQUIRE(file_size >= 8, "{}: it holds {} bytes, fewer than the 8-byte header length", what,
              file_size);
  uint64_t header_size = 0;
  in.read(reinterpret_cast<char*>(&header_size), sizeof header_size);
  PHA_REQUIRE(header_size <= kMaxHeaderBytes && header_size <= file_size - 8,
              "{}: its header length {} exceeds the file's {} bytes (truncated or not "
              "safetensors)",
              what, header_size, file_size);
  std::string header(header_size, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_size));
  PHA_REQUIRE(in.good(), "reading '{}' failed: {}", path, std::strerror(errno));
  PHA_REQUIRE(!header.empty() && header[0] == '{', "{}: its header does not start with '{{'", what);
  const JsonValue root = parse_json(header, fmt::format("'{}' (safetensors header)", path));
  PHA_REQUIRE(root.is(JsonValue::Kind::object), "{}: its header is not a JSON object", what);
  const uint64_t data_size = file_size - 8 - header_size;

  struct Entry {
    NamedTensor tensor;
    uint64_t begin = 0, end = 0;
  };
  SafetensorsContents contents;
  std::vector<Entry> entries;
  std::set<std::string> names;
  for (const auto& [name, v] : root.members) {
    if (name == "__metadata__") {
      PHA_REQUIRE(v.is(JsonValue::Kind::object), "{}: __metadata__ is not an object", what);
      for (const auto& [key, value] : v.members)
        contents.metadata[key] = value.as_string(fmt::format("{}: __metadata__.{}", path, key));
      continue;
    }
    PHA_REQUIRE(names.insert(name).second, "{}: tensor '{}' appears twice", what, name);
    const std::string where = fmt::format("'{}': tensor '{}'", path, name);
    PHA_REQUIRE(v.is(JsonValue::Kind::object), "{} is not described by an object", where);
    const JsonValue* dtype = v.find("dtype");
    const JsonValue* shape = v.find("shape");
    const JsonValue* offsets = v.find("data_offsets");
    PHA_REQUIRE(dtype && shape && offsets, "{} lacks one of dtype, shape, data_offsets", where);
    Entry e;
    e.tensor.name = name;
    const std::string& dt = dtype->as_string(where + " dtype");
    if (dt == "F32")
      e.tensor.stored = SafetensorsDType::f32;
    else if (dt == "BF16")
      e.tensor.stored = SafetensorsDType::bf16;
    else
      fail("{} has dtype '{}': pha reads F32 and BF16 only (re-export it in one of those)", where,
           dt);
    PHA_REQUIRE(shape->is(JsonValue::Kind::array), "{}: shape is not an array", where);
    for (const JsonValue& d : shape->items) {
      e.tensor.shape.push_back(d.as_int(where + " shape"));
      PHA_REQUIRE(e.tensor.shape.back() >= 0 && e.tensor.shape.back() < (int64_t{1} << 40),
                  "{}: shape {} has a negative or absurd dimension", where,
                  shape_text(e.tensor.shape));
    }
    PHA_REQUIRE(offsets->is(JsonValue::Kind::array) && offsets->items.size() == 2,
                "{}: data_offsets is not [begin, end]", where);
    const int64_t begin = offsets->items[0].as_int(where + " data_offsets");
    const int64_t end = offsets->items[1].as_int(where + " data_offsets");
    PHA_REQUIRE(begin >= 0 && end >= begin, "{}: data_offsets [{}, {}] are not ordered", where,
                begin, end);
    e.begin = static_cast<uint64_t>(begin);
    e.end = static_cast<uint64_t>(end);
    const uint64_t need =
        static_cast<uint64_t>(numel(e.tensor.shape)) * element_bytes(e.tensor.stored);
    PHA_REQUIRE(e.end - e.begin == need,
                "{}: data_offsets [{}, {}] span {} bytes but shape {} of {} needs {}", where,
                e.begin, e.end, e.end - e.begin, shape_text(e.tensor.shape), dt, need);
    entries.push_back(std::move(e));
  }
  // The data must be tiled exactly: sorted by begin, each starts where the previous ended, and
  // the last ends at the end of the file (a shorter file is truncated, a longer one lies).
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  uint64_t expected = 0;
  for (const Entry& e : entries) {
    PHA_REQUIRE(e.begin == expected,
                "{}: tensor '{}' starts at data offset {} but the previous one ends at {} (the "
                "header's offsets overlap or leave a hole)",
                what, e.tensor.name, e.begin, expected);
    expected = e.end;
  }
  PHA_REQUIRE(expected == data_size,
              "{}: the header describes {} bytes of tensor data but the file holds {} ({})", what,
              expected, data_size, expected > data_size ? "truncated" : "trailing bytes");
  for (Entry& e : entries) {
    std::vector<char> raw(e.end - e.begin);
    in.seekg(static_cast<std::streamoff>(8 + header_size + e.begin));
    in.read(raw.data(), static_cast<std::streamsize>(raw.size()));
    PHA_REQUIRE(in.good(), "reading '{}' failed: {}", path, std::strerror(errno));
    std::vector<float>& values = e.tensor.values;
    values.resize(static_cast<size_t>(numel(e.tensor.shape)));
    if (e.tensor.stored == SafetensorsDType::f32) {
      std::memcpy(values.data(), raw.data(), raw.size());
    } else {
      for (size_t i = 0; i < values.size(); ++i) {
        uint16_t bits = 0;
        std::memcpy(&bits, raw.data() + 2 * i, 2);
        values[i] = bf16_to_f32(bits);
      }
    }
    contents.tensors.push_back(std::move(e.tensor));
  }
  std::sort(contents.tensors.begin(), contents.tensors.end(),
            [](const NamedTensor& a, const NamedTensor& b) { return a.name < b.name; });
  return contents;
}

}  // namespace pha::io
