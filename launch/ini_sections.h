#pragma once
// A small INI reader for files whose sections and keys are not known in advance (the study file):
// `[section]` headers, `key = value` lines, comments from `#` or `;` to the end of the line. Every
// entry keeps its line number, so the reader of the file can name the line of a bad value.
#include <string>
#include <vector>

namespace pha::launch {

struct IniEntry {
  std::string key, value;
  int line = 0;
};

struct IniSection {
  std::string name;  // "" for keys before the first header
  int line = 0;
  std::vector<IniEntry> entries;
};

// The sections of `path` in file order. Refuses an unreadable file, a malformed line, a section
// given twice and a key given twice in one section, naming the file and line.
std::vector<IniSection> read_ini_sections(const std::string& path);

// `text` split at white space.
std::vector<std::string> split_words(const std::string& text);

}  // namespace pha::launch
