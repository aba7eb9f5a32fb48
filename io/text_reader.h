#pragma once
// Reading the user's text files: whole (small files such as vocab.json) or in chunks cut at line
// boundaries (corpora of any size), with errors that name the file.
#include <cstdint>
#include <fstream>
#include <string>

namespace pha::io {

// The whole file. `what` says what the file is for in error messages ("vocabulary", "input").
std::string read_whole_file(const std::string& path, const char* what);

// Reads a text file in chunks of about `chunk_bytes`, each ending after a newline when the chunk
// has one (else after whitespace, else on a UTF-8 character boundary), so that tokenizing chunk by
// chunk splits words only in files with megabyte-long lines. Refuses missing, unreadable and empty
// files.
class TextChunkReader {
 public:
  explicit TextChunkReader(const std::string& path, size_t chunk_bytes = size_t{1} << 20);
  // The next chunk into `chunk`; false at the end of the file.
  bool next(std::string& chunk);
  uint64_t size_bytes() const { return size_; }
  uint64_t bytes_read() const { return consumed_; }

 private:
  std::string path_;
  std::ifstream in_;
  size_t chunk_bytes_;
  uint64_t size_ = 0, consumed_ = 0;
  std::string carry_;  // bytes read past the last cut, for the next chunk
};

// Where to cut `buffer` (a full chunk of a longer file): after its last newline, else its last
// ASCII whitespace, else before an incomplete trailing UTF-8 character.
size_t chunk_cut_point(const std::string& buffer);

}  // namespace pha::io
