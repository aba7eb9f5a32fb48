#include "io/tensor_file.h"

#include "io/h5_file.h"

namespace pha {

void save_tensors(const std::string& path, const NamedTensors& tensors,
                  const std::map<std::string, std::string>& attributes) {
  h5::File file = h5::File::create(path);
  for (const auto& [key, value] : attributes) file.set_string_attribute("/", key, value);
  for (const auto& [name, tensor] : tensors) file.write(name, tensor);
  file.close();
}

void load_tensors(const std::string& path, const NamedTensors& tensors) {
  const h5::File file = h5::File::open(path);
  for (const auto& [name, tensor] : tensors) file.read(name, tensor);
}

std::map<std::string, std::string> load_attributes(const std::string& path) {
  const h5::File file = h5::File::open(path);
  std::map<std::string, std::string> attributes;
  for (const std::string& key : file.attribute_names("/"))
    attributes[key] = file.attribute_text("/", key);
  return attributes;
}

}  // namespace pha
