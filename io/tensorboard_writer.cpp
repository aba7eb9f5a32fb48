#include "io/tensorboard_writer.h"

#include <fmt/format.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "io/crc32c.h"

namespace pha::io {

namespace {

static_assert(std::endian::native == std::endian::little,
              "protobuf fixed-width fields and TFRecord lengths are little-endian");

// Protobuf wire types.
constexpr uint32_t kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5;

void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

void key(std::string& out, uint32_t field, uint32_t wire_type) {
  varint(out, (field << 3) | wire_type);
}

template <typename T>
void raw(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

void bytes_field(std::string& out, uint32_t field, const std::string& bytes) {
  key(out, field, kLengthDelimited);
  varint(out, bytes.size());
  out += bytes;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::string encode_event(double wall_time, int64_t step, const std::string& file_version,
                         const Scalars& scalars) {
  std::string event;
  key(event, 1, kFixed64);  // Event.wall_time
  raw(event, wall_time);
  key(event, 2, kVarint);  // Event.step (int64: negative values as 10-byte two's complement)
  varint(event, static_cast<uint64_t>(step));
  if (!file_version.empty()) {
    bytes_field(event, 3, file_version);  // Event.file_version
    return event;
  }
  std::string summary;
  for (const auto& [tag, value] : scalars) {
    std::string v;
    bytes_field(v, 1, tag);  // Summary.Value.tag
    key(v, 2, kFixed32);     // Summary.Value.simple_value
    raw(v, static_cast<float>(value));
    bytes_field(summary, 1, v);  // Summary.value (repeated)
  }
  bytes_field(event, 5, summary);  // Event.summary
  return event;
}

std::string tfrecord(const std::string& data) {
  std::string record;
  const uint64_t length = data.size();
  const std::string length_bytes(reinterpret_cast<const char*>(&length), sizeof length);
  record += length_bytes;
  raw(record, masked_crc32c(length_bytes));
  record += data;
  raw(record, masked_crc32c(data));
  return record;
}

TensorBoardWriter::TensorBoardWriter(const std::string& dir) {
  std::filesystem::create_directories(dir);
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "localhost");
  const double start = now_seconds();
  path_ = (std::filesystem::path(dir) /
           fmt::format("events.out.tfevents.{}.{}", static_cast<int64_t>(start), host))
              .string();
  // A restarted run in the same second appends to the same file: still one valid record stream.
  file_ = std::fopen(path_.c_str(), "ab");
  PHA_REQUIRE(file_ != nullptr, "cannot open the TensorBoard event file '{}': {}", path_,
              std::strerror(errno));
  append(encode_event(start, 0, "brain.Event:2", {}));
}

TensorBoardWriter::~TensorBoardWriter() {
  if (file_) std::fclose(file_);
}

void TensorBoardWriter::write(int64_t step, const Scalars& scalars) {
  append(encode_event(now_seconds(), step, "", scalars));
}

void TensorBoardWriter::append(const std::string& event) {
  const std::string record = tfrecord(event);
  PHA_REQUIRE(std::fwrite(record.data(), 1, record.size(), file_) == record.size() &&
                  std::fflush(file_) == 0,
              "writing the TensorBoard event file '{}' failed: {} (disk full?)", path_,
              std::strerror(errno));
}

}  // namespace pha::io
