#include "launch/option_table.h"

#include <fmt/format.h>

#include <charconv>
#include <map>

#include "core/error.h"

namespace po = boost::program_options;

namespace pha::launch {

namespace {

template <typename T>
T parse_number(const std::string& key, const std::string& text) {
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  PHA_REQUIRE(ec == std::errc() && ptr == end, "{} = '{}' is not a valid {}", key, text,
              std::is_floating_point_v<T> ? "number" : "integer");
  return value;
}

std::string print_double(double v) {
  return fmt::format("{}", v);
}

}  // namespace

void OptionTable::add(const std::string& key, int64_t& ref, const std::string& help) {
  fields_.push_back({key, help,
                     [&ref, key](const std::string& s) { ref = parse_number<int64_t>(key, s); },
                     [&ref] { return std::to_string(ref); }});
}

void OptionTable::add(const std::string& key, uint64_t& ref, const std::string& help) {
  fields_.push_back({key, help,
                     [&ref, key](const std::string& s) {
                       PHA_REQUIRE(!s.empty() && s[0] != '-',
                                   "{} = '{}' must be a non-negative integer", key, s);
                       ref = parse_number<uint64_t>(key, s);
                     },
                     [&ref] { return std::to_string(ref); }});
}

void OptionTable::add(const std::string& key, double& ref, const std::string& help) {
  fields_.push_back({key, help,
                     [&ref, key](const std::string& s) { ref = parse_number<double>(key, s); },
                     [&ref] { return print_double(ref); }});
}

void OptionTable::add(const std::string& key, bool& ref, const std::string& help) {
  fields_.push_back({key, help,
                     [&ref, key](const std::string& s) {
                       if (s == "true" || s == "1" || s == "yes")
                         ref = true;
                       else if (s == "false" || s == "0" || s == "no")
                         ref = false;
                       else
                         fail("{} = '{}' must be true or false", key, s);
                     },
                     [&ref] { return std::string(ref ? "true" : "false"); }});
}

void OptionTable::add(const std::string& key, std::string& ref, const std::string& help) {
  fields_.push_back({key, help, [&ref](const std::string& s) { ref = s; }, [&ref] { return ref; }});
}

po::options_description OptionTable::description(const std::string& caption) const {
  po::options_description desc(caption);
  // A vector value: a key repeated on the command line is allowed and the last one wins; values
  // from the command line take precedence over the config file (stored first).
  for (const auto& f : fields_)
    desc.add_options()(f.key.c_str(),
                       po::value<std::vector<std::string>>()->value_name("(" + f.get() + ")"),
                       f.help.c_str());
  return desc;
}

void OptionTable::apply(const po::variables_map& vm) const {
  for (const auto& f : fields_)
    if (vm.count(f.key)) f.set(vm[f.key].as<std::vector<std::string>>().back());
}

std::string OptionTable::to_ini() const {
  std::map<std::string, std::vector<const OptionField*>> sections;
  std::vector<std::string> order;
  for (const auto& f : fields_) {
    const std::string section = f.key.substr(0, f.key.find('.'));
    if (!sections.count(section)) order.push_back(section);
    sections[section].push_back(&f);
  }
  std::string out;
  for (const auto& section : order) {
    out += fmt::format("[{}]\n", section);
    for (const OptionField* f : sections[section])
      out += fmt::format("{} = {}\n", f->key.substr(section.size() + 1), f->get());
    out += "\n";
  }
  return out;
}

void require_positive(const std::string& key, double value) {
  PHA_REQUIRE(value > 0, "{} = {}: must be positive", key, value);
}

void require_non_negative(const std::string& key, double value) {
  PHA_REQUIRE(value >= 0, "{} = {}: must not be negative", key, value);
}

}  // namespace pha::launch
