// Scalar attributes of HDF5 objects (File's attribute half; the datasets are in h5_file.cpp).
#include <fmt/format.h>

#include <algorithm>

#include "io/h5_file.h"

namespace pha::h5 {
namespace {

herr_t collect_attribute(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

std::string where(std::string_view object, std::string_view key) {
  return fmt::format("{}@{}", object.empty() ? "/" : object, key);
}

}  // namespace

Handle File::open_attribute(std::string_view object, std::string_view key) const {
  Handle obj = open_object(object);
  const std::string k(key);
  if (check(H5Aexists(obj.get(), k.c_str()), "looking up attribute", where(object, key)) == 0)
    fail("HDF5 file '{}': '{}' has no attribute '{}'; list them with h5dump -A", path(),
         object.empty() ? "/" : object, key);
  Handle attr(
      check(H5Aopen(obj.get(), k.c_str(), H5P_DEFAULT), "opening attribute", where(object, key)),
      H5Aclose);
  Handle space(check(H5Aget_space(attr.get()), "reading attribute", where(object, key)), H5Sclose);
  if (H5Sget_simple_extent_npoints(space.get()) != 1)
    fail("HDF5 file '{}': attribute '{}' holds an array; pha reads scalar attributes", path(),
         where(object, key));
  return attr;
}

// Writes one scalar attribute of `file_t`, replacing an existing one of that name.
static void write_attribute(const File& f, hid_t obj, std::string_view key, hid_t file_t,
                            hid_t memory_t, const void* value) {
  const std::string k(key);
  if (H5Aexists(obj, k.c_str()) > 0 && H5Adelete(obj, k.c_str()) < 0)
    f.fail_on("replacing attribute", k, "is the file open read-only?");
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(H5Acreate2(obj, k.c_str(), file_t, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (space.get() < 0 || attr.get() < 0 || H5Awrite(attr.get(), memory_t, value) < 0)
    f.fail_on("writing attribute", k, "is the file open read-only?");
}

void File::set_string_attribute(std::string_view object, std::string_view key,
                                std::string_view value) {
  Handle obj = open_object(object);
  Handle type(check(H5Tcopy(H5T_C_S1), "typing attribute", where(object, key)), H5Tclose);
  check(H5Tset_size(type.get(), H5T_VARIABLE), "typing attribute", where(object, key));
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "typing attribute", where(object, key));
  const std::string text(value);
  const char* pointer = text.c_str();  // variable-length strings are written through a char*
  write_attribute(*this, obj.get(), key, type.get(), type.get(), &pointer);
}

void File::set_int_attribute(std::string_view object, std::string_view key, int64_t value) {
  Handle obj = open_object(object);
  write_attribute(*this, obj.get(), key, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

void File::set_double_attribute(std::string_view object, std::string_view key, double value) {
  Handle obj = open_object(object);
  write_attribute(*this, obj.get(), key, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

bool File::has_attribute(std::string_view object, std::string_view key) const {
  Handle obj = open_object(object);
  const std::string k(key);
  return check(H5Aexists(obj.get(), k.c_str()), "looking up attribute", where(object, key)) > 0;
}

std::vector<std::string> File::attribute_names(std::string_view object) const {
  Handle obj = open_object(object);
  std::vector<std::string> names;
  check(H5Aiterate2(obj.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_attribute, &names),
        "listing the attributes of", object);
  std::sort(names.begin(), names.end());
  return names;
}

std::string File::string_attribute(std::string_view object, std::string_view key) const {
  Handle attr = open_attribute(object, key);
  const std::string at = where(object, key);
  Handle type(check(H5Aget_type(attr.get()), "reading attribute", at), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING)
    fail("HDF5 file '{}': attribute '{}' is not a string", path(), at);
  Handle memory(check(H5Tcopy(type.get()), "reading attribute", at), H5Tclose);
  if (check(H5Tis_variable_str(type.get()), "reading attribute", at) > 0) {
    char* pointer = nullptr;
    check(H5Aread(attr.get(), memory.get(), &pointer), "reading attribute", at);
    std::string text = pointer ? pointer : "";
    H5free_memory(pointer);  // HDF5 allocated the string
    return text;
  }
  std::string text(H5Tget_size(type.get()), '\0');
  check(H5Aread(attr.get(), memory.get(), text.data()), "reading attribute", at);
  // Fixed-length strings are padded with NULs or spaces (h5py's numpy bytes use NULs).
  text.resize(std::min(text.find('\0'), text.size()));
  if (H5Tget_strpad(type.get()) == H5T_STR_SPACEPAD) text.erase(text.find_last_not_of(' ') + 1);
  return text;
}

int64_t File::int_attribute(std::string_view object, std::string_view key) const {
  Handle attr = open_attribute(object, key);
  Handle type(check(H5Aget_type(attr.get()), "reading attribute", where(object, key)), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_INTEGER)
    fail("HDF5 file '{}': attribute '{}' is not an integer", path(), where(object, key));
  int64_t value = 0;
  check(H5Aread(attr.get(), H5T_NATIVE_INT64, &value), "reading attribute", where(object, key));
  return value;
}

double File::double_attribute(std::string_view object, std::string_view key) const {
  Handle attr = open_attribute(object, key);
  Handle type(check(H5Aget_type(attr.get()), "reading attribute", where(object, key)), H5Tclose);
  const H5T_class_t cls = H5Tget_class(type.get());
  if (cls != H5T_FLOAT && cls != H5T_INTEGER)
    fail("HDF5 file '{}': attribute '{}' is not a number", path(), where(object, key));
  double value = 0;
  check(H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &value), "reading attribute", where(object, key));
  return value;
}

std::string File::attribute_text(std::string_view object, std::string_view key) const {
  Handle attr = open_attribute(object, key);
  Handle type(check(H5Aget_type(attr.get()), "reading attribute", where(object, key)), H5Tclose);
  switch (H5Tget_class(type.get())) {
    case H5T_STRING:
      return string_attribute(object, key);
    case H5T_INTEGER:
      return std::to_string(int_attribute(object, key));
    case H5T_FLOAT:
      return fmt::format("{}", double_attribute(object, key));
    default:
      fail("HDF5 file '{}': attribute '{}' is neither a string nor a number", path(),
           where(object, key));
  }
}

}  // namespace pha::h5
