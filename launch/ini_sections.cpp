#include "launch/ini_sections.h"

#include <fstream>
#include <set>
#include <sstream>

#include "core/error.h"

namespace pha::launch {
namespace {

std::string trim(const std::string& s) {
  const size_t first = s.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

}  // namespace

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

std::vector<IniSection> read_ini_sections(const std::string& path) {
  std::ifstream in(path);
  PHA_REQUIRE(in.good(), "cannot read '{}': check the path", path);
  std::vector<IniSection> sections(1);
  std::set<std::string> seen;
  std::string raw;
  for (int line = 1; std::getline(in, raw); ++line) {
    const std::string text = trim(raw.substr(0, raw.find_first_of("#;")));
    if (text.empty()) continue;
    if (text.front() == '[') {
      PHA_REQUIRE(text.back() == ']' && text.size() > 2,
                  "{} line {}: '{}' is not a section header: write [name]", path, line, text);
      const std::string name = trim(text.substr(1, text.size() - 2));
      PHA_REQUIRE(seen.insert(name).second, "{} line {}: section [{}] is given twice", path, line,
                  name);
      sections.push_back(IniSection{name, line, {}});
      continue;
    }
    const size_t eq = text.find('=');
    PHA_REQUIRE(eq != std::string::npos && eq > 0, "{} line {}: '{}' is not a 'key = value' line",
                path, line, text);
    IniEntry e{trim(text.substr(0, eq)), trim(text.substr(eq + 1)), line};
    for (const IniEntry& other : sections.back().entries)
      PHA_REQUIRE(other.key != e.key, "{} line {}: key '{}' is given twice in [{}] (line {})", path,
                  line, e.key, sections.back().name, other.line);
    sections.back().entries.push_back(std::move(e));
  }
  if (sections.front().entries.empty()) sections.erase(sections.begin());
  return sections;
}

}  // namespace pha::launch
