#include "io/text_reader.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "core/error.h"

namespace pha::io {
namespace {

std::ifstream open_for_reading(const std::string& path, const char* what, uint64_t& size) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  PHA_REQUIRE(std::filesystem::exists(status), "{} file '{}' does not exist", what, path);
  PHA_REQUIRE(!std::filesystem::is_directory(status), "{} file '{}' is a directory, not a file",
              what, path);
  std::ifstream in(path, std::ios::binary);
  PHA_REQUIRE(in.good(), "cannot read {} file '{}': {}", what, path, std::strerror(errno));
  size = std::filesystem::file_size(path, ec);
  PHA_REQUIRE(!ec, "cannot read {} file '{}': {}", what, path, ec.message());
  PHA_REQUIRE(size > 0, "{} file '{}' is empty", what, path);
  return in;
}

}  // namespace

std::string read_whole_file(const std::string& path, const char* what) {
  uint64_t size = 0;
  std::ifstream in = open_for_reading(path, what, size);
  std::string text(size, '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  PHA_REQUIRE(static_cast<uint64_t>(in.gcount()) == size,
              "cannot read {} file '{}': read {} of {} bytes", what, path, in.gcount(), size);
  return text;
}

size_t chunk_cut_point(const std::string& buffer) {
  if (const size_t nl = buffer.rfind('\n'); nl != std::string::npos) return nl + 1;
  if (const size_t ws = buffer.find_last_of(" \t\r\f\v"); ws != std::string::npos) return ws + 1;
  // Back up over continuation bytes to the start of the last character, which may be incomplete.
  size_t cut = buffer.size();
  for (int back = 0; back < 4 && cut > 0; ++back) {
    const auto byte = static_cast<unsigned char>(buffer[cut - 1]);
    if ((byte & 0xC0) != 0x80) return byte >= 0xC0 ? cut - 1 : buffer.size();
    --cut;
  }
  return buffer.size();
}

TextChunkReader::TextChunkReader(const std::string& path, size_t chunk_bytes)
    : path_(path), chunk_bytes_(chunk_bytes) {
  in_ = open_for_reading(path, "input", size_);
}

bool TextChunkReader::next(std::string& chunk) {
  chunk = std::move(carry_);
  carry_.clear();
  const size_t have = chunk.size();
  if (have < chunk_bytes_ && in_) {
    chunk.resize(chunk_bytes_);
    in_.read(chunk.data() + have, static_cast<std::streamsize>(chunk_bytes_ - have));
    chunk.resize(have + static_cast<size_t>(in_.gcount()));
    PHA_REQUIRE(!in_.bad(), "error while reading input file '{}': {}", path_, std::strerror(errno));
  }
  if (chunk.empty()) return false;
  if (in_ && chunk.size() == chunk_bytes_) {  // more may follow: cut at a boundary
    const size_t cut = chunk_cut_point(chunk);
    carry_ = chunk.substr(cut);
    chunk.resize(cut);
  }
  consumed_ += chunk.size();
  return true;
}

}  // namespace pha::io
