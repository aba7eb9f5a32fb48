#pragma once
// One table of configuration keys drives everything a config touches: the Boost.Program_options
// description (so `--help` is the parser's own text), the INI file reader, the command-line
// overrides (--section.key=value), and the config.ini written into the run directory. A key
// cannot be parsed one way and printed another.
#include <boost/program_options.hpp>
#include <functional>
#include <string>
#include <vector>

namespace pha::launch {

struct OptionField {
  std::string key;  // "train.lr"
  std::string help;
  std::function<void(const std::string&)> set;  // parses and stores, or throws pha::Error
  std::function<std::string()> get;             // current value as the INI file writes it
};

class OptionTable {
 public:
  void add(const std::string& key, int64_t& ref, const std::string& help);
  void add(const std::string& key, uint64_t& ref, const std::string& help);
  void add(const std::string& key, double& ref, const std::string& help);
  void add(const std::string& key, bool& ref, const std::string& help);
  void add(const std::string& key, std::string& ref, const std::string& help);
  // A key with custom parse/print (enums, presets).
  void add(OptionField field) { fields_.push_back(std::move(field)); }

  const std::vector<OptionField>& fields() const { return fields_; }
  // Options for Program_options: each key as --key=value and as `key = value` under [section].
  boost::program_options::options_description description(const std::string& caption) const;
  // Applies the values present in `vm`, in table order.
  void apply(const boost::program_options::variables_map& vm) const;
  // The INI text of the current values, grouped by section.
  std::string to_ini() const;

 private:
  std::vector<OptionField> fields_;
};

// Checks a numeric field: refuses values <= 0 (or < 0 when zero is allowed) naming the key.
void require_positive(const std::string& key, double value);
void require_non_negative(const std::string& key, double value);

}  // namespace pha::launch
