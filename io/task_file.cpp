#include "io/task_file.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/json_value.h"

namespace pha::io {

std::vector<TaskItem> read_task_file(const std::string& path) {
  PHA_REQUIRE(std::filesystem::is_regular_file(path), "the task file '{}' does not exist", path);
  std::ifstream in(path);
  PHA_REQUIRE(in.good(), "cannot read the task file '{}'", path);
  std::vector<TaskItem> items;
  std::string text;
  for (int64_t line = 1; std::getline(in, text); ++line) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = fmt::format("{} line {}", path, line);
    const JsonValue v = parse_json(text, where);
    PHA_REQUIRE(v.is(JsonValue::Kind::object),
                "{}: expected an object {{\"context\": ..., \"choices\": [...], \"answer\": i}}",
                where);
    auto member = [&](const char* key) -> const JsonValue& {
      const JsonValue* m = v.find(key);
      PHA_REQUIRE(m != nullptr, "{}: the item has no \"{}\"", where, key);
      return *m;
    };
    TaskItem item;
    item.line = line;
    item.context = member("context").as_string(where + ": context");
    const JsonValue& choices = member("choices");
    PHA_REQUIRE(choices.is(JsonValue::Kind::array), "{}: choices is {}, expected an array", where,
                json_kind_name(choices.kind));
    for (const JsonValue& c : choices.items)
      item.choices.push_back(c.as_string(where + ": a choice"));
    PHA_REQUIRE(item.choices.size() >= 2, "{}: {} choice(s): an item needs at least two", where,
                item.choices.size());
    item.answer = member("answer").as_int(where + ": answer");
    PHA_REQUIRE(item.answer >= 0 && item.answer < static_cast<int64_t>(item.choices.size()),
                "{}: answer {} is out of range: the item has choices 0..{}", where, item.answer,
                item.choices.size() - 1);
    items.push_back(std::move(item));
  }
  PHA_REQUIRE(!items.empty(), "the task file '{}' holds no items", path);
  return items;
}

}  // namespace pha::io
