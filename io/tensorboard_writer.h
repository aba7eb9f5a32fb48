#pragma once
// TensorBoard scalars without TensorFlow: an event file (DIR/events.out.tfevents.<time>.<host>)
// of TFRecords (uint64 length, masked CRC-32C of the length, data, masked CRC-32C of the data),
// each an Event protobuf encoded by hand: wall_time (double, field 1), step (int64, field 2), and
// file_version "brain.Event:2" (field 3) in the first record or a Summary (field 5) of
// Value {tag (1), simple_value (float, 2)} in the others. Each record is flushed as written.
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace pha::io {

using Scalars = std::vector<std::pair<std::string, double>>;  // tag, value

// One Event message: the version record when `file_version` is non-empty, else the scalars.
std::string encode_event(double wall_time, int64_t step, const std::string& file_version,
                         const Scalars& scalars);
// `data` framed as one TFRecord.
std::string tfrecord(const std::string& data);

class TensorBoardWriter {
 public:
  // Creates `dir` and a new event file in it.
  explicit TensorBoardWriter(const std::string& dir);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;
  // One event holding every scalar of `step` (values are stored as float, TensorBoard's type).
  void write(int64_t step, const Scalars& scalars);
  const std::string& path() const { return path_; }

 private:
  void append(const std::string& event);
  std::FILE* file_ = nullptr;
  std::string path_;
};

}  // namespace pha::io
