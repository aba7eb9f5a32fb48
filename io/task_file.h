#pragma once
// Multiple-choice task files for `pha eval --task`: JSON Lines, one item per non-empty line,
//   {"context": "The cat sat on the", "choices": [" mat.", " moon.", " idea."], "answer": 0}
// "context" a string, "choices" an array of at least two strings, "answer" the index of the right
// choice; other members (an "id", a "source") are ignored.
#include <cstdint>
#include <string>
#include <vector>

namespace pha::io {

struct TaskItem {
  std::string context;
  std::vector<std::string> choices;
  int64_t answer = 0;
  int64_t line = 0;  // 1-based line in the file, for messages
};

// Reads and validates every line; refuses (naming the file and line) malformed JSON, a missing
// or mistyped member, fewer than two choices, an answer out of range, and an empty file.
std::vector<TaskItem> read_task_file(const std::string& path);

}  // namespace pha::io
