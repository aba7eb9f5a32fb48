#include "io/h5_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <filesystem>

namespace pha::h5 {
namespace {

constexpr std::string_view kListAdvice = "list the file's contents with h5ls -r";

// "model/x" and "/model/x" name the same object; "" is the root.
std::string absolute(std::string_view name) {
  if (name.empty() || name == "/") return "/";
  return fmt::format("{}{}", name[0] == '/' ? "" : "/", name);
}

// Outermost and innermost entries of HDF5's error stack: the API call and its root cause.
herr_t collect_error(unsigned, const H5E_error2_t* e, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(
      fmt::format("{}: {}", e->func_name ? e->func_name : "?", e->desc ? e->desc : "?"));
  return 0;
}

std::string hdf5_reason() {
  std::vector<std::string> entries;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_error, &entries);
  H5Eclear2(H5E_DEFAULT);
  if (entries.empty()) return "no detail from HDF5";
  if (entries.size() == 1) return entries.front();
  return entries.front() + " <- " + entries.back();
}

// HDF5 prints its error stack to stderr by default; we put it into the exception instead.
void silence_hdf5() {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

hid_t memory_type(DType t) {
  switch (t) {
    case DType::f32:
      return H5T_NATIVE_FLOAT;
    case DType::f64:
      return H5T_NATIVE_DOUBLE;
    case DType::i32:
      return H5T_NATIVE_INT32;
    case DType::bf16:
      break;
  }
  fail("HDF5 tensor files hold f32, f64 or i32, not {}: convert the tensor to f32 first",
       dtype_name(t));
}

hid_t file_type(DType t) {
  switch (t) {
    case DType::f32:
      return H5T_IEEE_F32LE;
    case DType::f64:
      return H5T_IEEE_F64LE;
    case DType::i32:
      return H5T_STD_I32LE;
    case DType::bf16:
      break;
  }
  return memory_type(t);  // fails with the message above
}

bool is_float(DType t) {
  return t == DType::f32 || t == DType::f64;
}

std::array<hsize_t, Shape::max_rank> to_hsize(const Shape& s) {
  std::array<hsize_t, Shape::max_rank> dims{};
  for (int i = 0; i < s.rank; ++i) dims[static_cast<size_t>(i)] = static_cast<hsize_t>(s[i]);
  return dims;
}

struct DatasetWalk {
  std::vector<std::string> names;
  std::string prefix;  // path of the group being walked, relative to the listed group
};

herr_t collect_dataset(hid_t group, const char* name, const H5L_info_t*, void* data) {
  auto* walk = static_cast<DatasetWalk*>(data);
  const hid_t object = H5Oopen(group, name, H5P_DEFAULT);
  if (object < 0) return -1;
  herr_t status = 0;
  const H5I_type_t type = H5Iget_type(object);
  if (type == H5I_DATASET) {
    walk->names.push_back(walk->prefix + name);
  } else if (type == H5I_GROUP) {
    DatasetWalk inner{{}, walk->prefix + name + "/"};
    status = H5Literate(object, H5_INDEX_NAME, H5_ITER_NATIVE, nullptr, collect_dataset, &inner);
    walk->names.insert(walk->names.end(), inner.names.begin(), inner.names.end());
  }
  H5Oclose(object);
  return status;
}

// File access list: default, or MPI-IO over *comm.
Handle file_access(const std::string& path, const MPI_Comm* comm) {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (fapl.get() < 0)
    fail("HDF5 file '{}': cannot create a file access list ({})", path, hdf5_reason());
  if (comm) {
    int initialised = 0;
    MPI_Initialized(&initialised);
    PHA_REQUIRE(initialised, "HDF5 file '{}': a parallel open needs MPI_Init first", path);
    if (H5Pset_fapl_mpio(fapl.get(), *comm, MPI_INFO_NULL) < 0)
      fail("HDF5 file '{}': cannot select MPI-IO ({}); is HDF5 built for parallel?", path,
           hdf5_reason());
  }
  return fapl;
}

}  // namespace

herr_t Handle::close() {
  herr_t status = 0;
  if (id_ >= 0 && closer_) status = closer_(id_);
  id_ = H5I_INVALID_HID;
  return status;
}

File::File(std::string path, Handle file, bool parallel)
    : path_(std::move(path)), file_(std::move(file)), parallel_(parallel) {
  transfer_ =
      Handle(check(H5Pcreate(H5P_DATASET_XFER), "creating a transfer list for", "/"), H5Pclose);
  if (parallel_) set_collective(false);
}

void File::fail_on(std::string_view what, std::string_view object, std::string_view advice) const {
  const std::string reason = hdf5_reason();
  fail("HDF5 file '{}': {} '{}' failed ({}){}{}", path_, what, absolute(object), reason,
       advice.empty() ? "" : "; ", advice);
}

hid_t File::check(hid_t status, std::string_view what, std::string_view object,
                  std::string_view advice) const {
  if (status < 0) fail_on(what, object, advice);
  return status;
}

File File::create_impl(const std::string& path, const MPI_Comm* comm) {
  silence_hdf5();
  Handle fapl = file_access(path, comm);
  const hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get());
  if (id < 0)
    fail("HDF5 file '{}': cannot create it ({}); check that its directory exists and is writable",
         path, hdf5_reason());
  return File(path, Handle(id, H5Fclose), comm != nullptr);
}

File File::open_impl(const std::string& path, Access access, const MPI_Comm* comm) {
  silence_hdf5();
  std::error_code ec;
  PHA_REQUIRE(std::filesystem::exists(path, ec), "HDF5 file '{}' does not exist: check the path",
              path);
  if (H5Fis_hdf5(path.c_str()) <= 0)
    fail("HDF5 file '{}' is not an HDF5 file, or is truncated or corrupt", path);
  Handle fapl = file_access(path, comm);
  const unsigned flags = access == Access::read ? H5F_ACC_RDONLY : H5F_ACC_RDWR;
  const hid_t id = H5Fopen(path.c_str(), flags, fapl.get());
  if (id < 0)
    fail(
        "HDF5 file '{}': cannot open it for {} ({}); check its permissions and that no other "
        "process holds it open for writing",
        path, access == Access::read ? "reading" : "writing", hdf5_reason());
  return File(path, Handle(id, H5Fclose), comm != nullptr);
}

File File::create(const std::string& path) {
  return create_impl(path, nullptr);
}
File File::open(const std::string& path, Access access) {
  return open_impl(path, access, nullptr);
}
File File::create(const std::string& path, MPI_Comm comm) {
  return create_impl(path, &comm);
}
File File::open(const std::string& path, MPI_Comm comm, Access access) {
  return open_impl(path, access, &comm);
}

void File::set_collective(bool collective) {
  PHA_REQUIRE(parallel_, "HDF5 file '{}': collective transfers need a file opened with MPI", path_);
  check(
      H5Pset_dxpl_mpio(transfer_.get(), collective ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT),
      "setting the MPI-IO transfer mode of", "/");
}

void File::flush() {
  check(H5Fflush(file_.get(), H5F_SCOPE_GLOBAL), "flushing", "/", "check free disk space");
}

void File::close() {
  transfer_.close();
  check(file_.close(), "closing", "/", "check free disk space; the file may be incomplete");
}

bool File::exists(std::string_view name) const {
  const std::string full = absolute(name);
  // H5Lexists needs every parent to exist, so test the path one component at a time.
  for (size_t end = full.find('/', 1);; end = full.find('/', end + 1)) {
    const std::string prefix = full.substr(0, end);
    if (prefix == "/") return true;
    if (check(H5Lexists(file_.get(), prefix.c_str(), H5P_DEFAULT), "looking up", prefix) == 0)
      return false;
    if (end == std::string::npos) return true;
    Handle parent(check(H5Oopen(file_.get(), prefix.c_str(), H5P_DEFAULT), "opening", prefix),
                  H5Oclose);
    if (H5Iget_type(parent.get()) != H5I_GROUP) return false;  // "dataset/x" names nothing
  }
}

Handle File::open_object(std::string_view object) const {
  const std::string full = absolute(object);
  if (!exists(full)) fail("HDF5 file '{}' has no object '{}': {}", path_, full, kListAdvice);
  return Handle(check(H5Oopen(file_.get(), full.c_str(), H5P_DEFAULT), "opening", full), H5Oclose);
}

bool File::is_dataset(std::string_view name) const {
  return exists(name) && H5Iget_type(open_object(name).get()) == H5I_DATASET;
}

Handle File::open_dataset(std::string_view name) const {
  const std::string full = absolute(name);
  if (!is_dataset(full))
    fail(
        "HDF5 file '{}' has no dataset '{}': {}; was it written by another configuration or "
        "program version?",
        path_, full, kListAdvice);
  return Handle(check(H5Dopen2(file_.get(), full.c_str(), H5P_DEFAULT), "opening", full), H5Dclose);
}

Shape File::shape(std::string_view dataset) const {
  Handle d = open_dataset(dataset);
  Handle space(check(H5Dget_space(d.get()), "reading the shape of", dataset), H5Sclose);
  const int rank = static_cast<int>(
      check(H5Sget_simple_extent_ndims(space.get()), "reading the rank of", dataset));
  if (rank > Shape::max_rank)
    fail("HDF5 file '{}': dataset '{}' has {} dims; pha tensors have at most {}", path_,
         absolute(dataset), rank, Shape::max_rank);
  std::array<hsize_t, Shape::max_rank> dims{};
  check(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr), "reading the shape of",
        dataset);
  Shape s;
  s.rank = rank;
  for (int i = 0; i < rank; ++i)
    s.dims[static_cast<size_t>(i)] = static_cast<int64_t>(dims[static_cast<size_t>(i)]);
  return s;
}

DType File::dtype(std::string_view dataset) const {
  Handle d = open_dataset(dataset);
  Handle type(check(H5Dget_type(d.get()), "reading the type of", dataset), H5Tclose);
  const H5T_class_t cls = H5Tget_class(type.get());
  const size_t size = H5Tget_size(type.get());
  if (cls == H5T_FLOAT && size == 4) return DType::f32;
  if (cls == H5T_FLOAT && size == 8) return DType::f64;
  if (cls == H5T_INTEGER && size == 4 && H5Tget_sign(type.get()) == H5T_SGN_2) return DType::i32;
  fail(
      "HDF5 file '{}': dataset '{}' holds {}-byte elements of HDF5 class {}; pha reads only "
      "f32, f64 and i32",
      path_, absolute(dataset), size, static_cast<int>(cls));
}

std::vector<std::string> File::list_datasets(std::string_view group) const {
  Handle g = open_object(group);
  DatasetWalk walk;
  check(H5Literate(g.get(), H5_INDEX_NAME, H5_ITER_NATIVE, nullptr, collect_dataset, &walk),
        "listing the datasets of", group);
  std::sort(walk.names.begin(), walk.names.end());
  return walk.names;
}

void File::create_dataset(std::string_view name, DType type, const Shape& global_shape,
                          const Shape& chunk) {
  const std::string full = absolute(name);
  if (exists(full))
    fail("HDF5 file '{}' already has '{}': write each dataset once, or create a new file", path_,
         full);
  const auto dims = to_hsize(global_shape);
  Handle space(
      check(global_shape.rank == 0 ? H5Screate(H5S_SCALAR)
                                   : H5Screate_simple(global_shape.rank, dims.data(), nullptr),
            "describing the shape of", full),
      H5Sclose);
  Handle links(check(H5Pcreate(H5P_LINK_CREATE), "creating", full), H5Pclose);
  check(H5Pset_create_intermediate_group(links.get(), 1), "creating the groups above", full);
  Handle layout(check(H5Pcreate(H5P_DATASET_CREATE), "creating", full), H5Pclose);
  // Every element gets written; skipping the fill saves a full pass over large checkpoints.
  check(H5Pset_fill_time(layout.get(), H5D_FILL_TIME_NEVER), "creating", full);
  if (chunk.rank > 0) {
    const auto chunk_dims = to_hsize(chunk);
    check(H5Pset_chunk(layout.get(), chunk.rank, chunk_dims.data()), "chunking", full);
    // Space for every chunk at creation, as parallel HDF5 needs for independent writes.
    check(H5Pset_alloc_time(layout.get(), H5D_ALLOC_TIME_EARLY), "creating", full);
  }
  Handle d(check(H5Dcreate2(file_.get(), full.c_str(), file_type(type), space.get(), links.get(),
                            layout.get(), H5P_DEFAULT),
                 "creating dataset", full, "check free disk space and that the file is writable"),
           H5Dclose);
}

void File::write(std::string_view name, const Tensor& host) {
  PHA_REQUIRE(host.device == Device::cpu,
              "HDF5 write of '{}': the tensor is {}; copy it to the "
              "host first",
              absolute(name), host.describe());
  if (!exists(name)) {
    create_dataset(name, host.dtype, host.shape);
  } else if (shape(name) != host.shape || dtype(name) != host.dtype) {
    fail("HDF5 file '{}': dataset '{}' exists as {}{} but the tensor is {}{}; use a new file",
         path_, absolute(name), dtype_name(dtype(name)), shape(name).str(), dtype_name(host.dtype),
         host.shape.str());
  }
  Handle d = open_dataset(name);
  check(H5Dwrite(d.get(), memory_type(host.dtype), H5S_ALL, H5S_ALL, transfer_.get(), host.data),
        "writing dataset", name, "check free disk space");
}

void File::read(std::string_view name, const Tensor& host) const {
  PHA_REQUIRE(host.device == Device::cpu,
              "HDF5 read of '{}': the tensor is {}; read into a host "
              "tensor",
              absolute(name), host.describe());
  const Shape stored = shape(name);
  if (stored != host.shape)
    fail(
        "HDF5 file '{}': dataset '{}' has shape {} but the tensor to fill has shape {}; was the "
        "file written for another configuration?",
        path_, absolute(name), stored.str(), host.shape.str());
  const DType stored_type = dtype(name);
  if (is_float(stored_type) != is_float(host.dtype))
    fail("HDF5 file '{}': dataset '{}' holds {} but the tensor to fill is {}", path_,
         absolute(name), dtype_name(stored_type), dtype_name(host.dtype));
  Handle d = open_dataset(name);
  check(H5Dread(d.get(), memory_type(host.dtype), H5S_ALL, H5S_ALL, transfer_.get(), host.data),
        "reading dataset", name, "the file may be truncated or corrupt");
}

void File::transfer_block(std::string_view name, const Tensor& host, int dim, int64_t offset,
                          bool writing) const {
  const std::string full = absolute(name);
  PHA_REQUIRE(host.device == Device::cpu, "HDF5 block of '{}': the tensor is {}; use a host tensor",
              full, host.describe());
  const Shape global = shape(full);
  bool fits = global.rank == host.rank() && dim >= 0 && dim < global.rank && offset >= 0 &&
              offset + host.dim(dim) <= global[dim];
  for (int i = 0; fits && i < global.rank; ++i) fits = i == dim || host.dim(i) == global[i];
  if (!fits)
    fail("HDF5 file '{}': a block {} at offset {} of dim {} does not fit dataset '{}' of shape {}",
         path_, host.shape.str(), offset, dim, full, global.str());
  if (writing && dtype(full) != host.dtype)
    fail("HDF5 file '{}': dataset '{}' holds {}, the block is {}", path_, full,
         dtype_name(dtype(full)), dtype_name(host.dtype));
  if (!writing && is_float(dtype(full)) != is_float(host.dtype))
    fail("HDF5 file '{}': dataset '{}' holds {}, the block to fill is {}", path_, full,
         dtype_name(dtype(full)), dtype_name(host.dtype));

  Handle d = open_dataset(full);
  Handle file_space(check(H5Dget_space(d.get()), "selecting a block of", full), H5Sclose);
  const auto count = to_hsize(host.shape);
  std::array<hsize_t, Shape::max_rank> start{};
  start[static_cast<size_t>(dim)] = static_cast<hsize_t>(offset);
  Handle memory_space(
      check(H5Screate_simple(host.rank(), count.data(), nullptr), "selecting a block of", full),
      H5Sclose);
  if (host.numel() == 0) {  // a rank with nothing to move still joins collective transfers
    check(H5Sselect_none(file_space.get()), "selecting a block of", full);
    check(H5Sselect_none(memory_space.get()), "selecting a block of", full);
  } else {
    check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(),
                              nullptr),
          "selecting a block of", full);
  }
  const hid_t type = memory_type(host.dtype);
  if (writing)
    check(H5Dwrite(d.get(), type, memory_space.get(), file_space.get(), transfer_.get(), host.data),
          "writing a block of", full, "check free disk space");
  else
    check(H5Dread(d.get(), type, memory_space.get(), file_space.get(), transfer_.get(), host.data),
          "reading a block of", full, "the file may be truncated or corrupt");
}

void File::write_block(std::string_view name, const Tensor& host, int dim, int64_t offset) {
  transfer_block(name, host, dim, offset, true);
}

void File::read_block(std::string_view name, const Tensor& host, int dim, int64_t offset) const {
  transfer_block(name, host, dim, offset, false);
}

}  // namespace pha::h5
