// The TensorBoard event writer: CRC-32C known answers (RFC 3720 B.4 and the classic check
// value), TFRecord framing, and the Event protobuf bytes derived by hand from the wire format.
#include "io/tensorboard_writer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/crc32c.h"
#include "tests/io/io_test_util.h"

namespace pha::io {
namespace {

std::string bytes(std::initializer_list<int> values) {
  std::string s;
  for (int v : values) s += static_cast<char>(v);
  return s;
}

TEST(Crc32c, KnownAnswers) {
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc32c(std::string(32, '\xFF')), 0x62A8AB43u);
  std::string up, down;
  for (int i = 0; i < 32; ++i) up += static_cast<char>(i), down += static_cast<char>(31 - i);
  EXPECT_EQ(crc32c(up), 0x46DD794Eu);
  EXPECT_EQ(crc32c(down), 0x113FDB5Cu);
  // The mask: rotate right by 15 and add 0xa282ead8 (the value TensorBoard's own
  // masked_crc32c gives for these bytes).
  EXPECT_EQ(masked_crc32c("123456789"), 0xC78AB0E5u);
}

TEST(TensorBoard, EventBytesFollowTheProtobufWireFormat) {
  // wall_time 1.5 (field 1, fixed64), step 300 (field 2, varint 0xAC 0x02),
  // summary (field 5) { value (1) { tag (1) "a", simple_value (2, fixed32) 2.0f } }.
  const std::string want =
      bytes({0x09, 0,    0,    0,    0,    0,    0,   0xF8, 0x3F, 0x10, 0xAC, 0x02,
             0x2A, 0x0A, 0x0A, 0x08, 0x0A, 0x01, 'a', 0x15, 0,    0,    0,    0x40});
  EXPECT_EQ(encode_event(1.5, 300, "", {{"a", 2.0}}), want);
  const std::string version =
      bytes({0x09, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0x10, 0x00, 0x1A, 0x0D}) + "brain.Event:2";
  EXPECT_EQ(encode_event(1.0, 0, "brain.Event:2", {}), version);
}

TEST(TensorBoard, RecordsAreFramedAndFlushed) {
  test::TempDir dir;
  TensorBoardWriter writer(dir / "tb");
  writer.write(7, {{"train/loss", 3.25}, {"mixing/layer0/gss", 0.125}});
  EXPECT_NE(writer.path().find("/tb/events.out.tfevents."), std::string::npos);
  // Read while the writer is still open: every record must already be on disk.
  std::ifstream in(writer.path(), std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  const std::string file = s.str();
  size_t pos = 0, records = 0;
  while (pos < file.size()) {
    ASSERT_GE(file.size() - pos, 12u);
    uint64_t length = 0;
    std::memcpy(&length, file.data() + pos, 8);
    uint32_t length_crc = 0, data_crc = 0;
    std::memcpy(&length_crc, file.data() + pos + 8, 4);
    EXPECT_EQ(length_crc, masked_crc32c(file.substr(pos, 8)));
    ASSERT_GE(file.size() - pos, 16 + length);
    const std::string data = file.substr(pos + 12, length);
    std::memcpy(&data_crc, file.data() + pos + 12 + length, 4);
    EXPECT_EQ(data_crc, masked_crc32c(data));
    EXPECT_EQ(tfrecord(data), file.substr(pos, 16 + length));
    pos += 16 + length;
    ++records;
  }
  EXPECT_EQ(records, 2u);
}

}  // namespace
}  // namespace pha::io
