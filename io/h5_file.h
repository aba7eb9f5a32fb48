#pragma once
// A small RAII wrapper over the HDF5 C API for tensor files and checkpoints. Every HDF5 call is
// checked; failures throw pha::Error naming the file, the object and what to do.
//
// Names are paths inside the file: "model/layers.0.attn.wq" and "/model/layers.0.attn.wq" are the
// same dataset, and missing parent groups are created on write. Attribute calls take an object
// name too: "" or "/" is the root group, anything else an existing dataset or group.
//
// Parallel files (MPI-IO): every rank of the communicator opens the file, and every rank makes
// each call that changes the file's structure (create_dataset, write of a new dataset, attributes)
// with the same arguments — HDF5 requires these to be collective. Data transfers (write, read and
// the block variants) are independent by default, so a single owner may write a replicated
// tensor; set_collective(true) makes them collective (all ranks call, possibly with empty blocks).
#include <hdf5.h>
#include <mpi.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.h"

namespace pha::h5 {

// One HDF5 identifier and the function that closes it; move-only.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Handle(Handle&& other) noexcept { swap(other); }
  Handle& operator=(Handle&& other) noexcept {
    Handle moved(std::move(other));
    swap(moved);
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (id_ >= 0 && closer_) closer_(id_);
  }
  hid_t get() const { return id_; }
  // Closes now and reports HDF5's status (the destructor cannot report failures).
  herr_t close();

 private:
  void swap(Handle& other) noexcept {
    std::swap(id_, other.id_);
    std::swap(closer_, other.closer_);
  }
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

class File {
 public:
  enum class Access { read, read_write };

  // Serial files. create() replaces an existing file.
  static File create(const std::string& path);
  static File open(const std::string& path, Access access = Access::read);
  // Parallel files over `comm` (MPI must be initialised); see the header comment for the rules.
  static File create(const std::string& path, MPI_Comm comm);
  static File open(const std::string& path, MPI_Comm comm, Access access = Access::read);

  File(File&&) = default;
  File& operator=(File&&) = default;
  ~File() = default;

  const std::string& path() const { return path_; }
  bool parallel() const { return parallel_; }
  void set_collective(bool collective);
  void flush();
  // Closes the file and checks that everything reached the disk; the destructor closes silently.
  void close();

  // Structure.
  bool exists(std::string_view name) const;  // a dataset or group at this path
  bool is_dataset(std::string_view name) const;
  Shape shape(std::string_view dataset) const;
  DType dtype(std::string_view dataset) const;  // f32, f64 or i32
  // Datasets under `group`, recursively, as sorted paths relative to it ("layers.0.attn.wq").
  std::vector<std::string> list_datasets(std::string_view group = "/") const;

  // Whole datasets. write() creates the dataset with the tensor's shape and type when absent, and
  // overwrites it when present with the same shape and type. read() needs the dataset's shape to
  // equal the tensor's; floats convert between f32 and f64, integers stay integers.
  // `chunk` (rank 0: none): store the dataset in chunks of that shape instead of contiguously, so
  // that a block of columns is one contiguous run in the file (one write, not one per row).
  void create_dataset(std::string_view name, DType dtype, const Shape& global_shape,
                      const Shape& chunk = Shape{});
  void write(std::string_view name, const Tensor& host);
  void read(std::string_view name, const Tensor& host) const;

  // Contiguous blocks along one dimension `dim` (for sharded tensors): `host` has the dataset's
  // global shape except dims[dim], which is the block's length; the block covers
  // [offset, offset + host.dim(dim)) of that dimension. The dataset must exist.
  void write_block(std::string_view name, const Tensor& host, int dim, int64_t offset);
  void read_block(std::string_view name, const Tensor& host, int dim, int64_t offset) const;

  // Scalar attributes of `object` ("" = root). Setting replaces an existing attribute. Strings are
  // variable-length UTF-8 (h5py reads them as str); readers also accept fixed-length strings.
  void set_string_attribute(std::string_view object, std::string_view key, std::string_view value);
  void set_int_attribute(std::string_view object, std::string_view key, int64_t value);
  void set_double_attribute(std::string_view object, std::string_view key, double value);
  bool has_attribute(std::string_view object, std::string_view key) const;
  std::vector<std::string> attribute_names(std::string_view object) const;  // sorted
  std::string string_attribute(std::string_view object, std::string_view key) const;
  int64_t int_attribute(std::string_view object, std::string_view key) const;
  double double_attribute(std::string_view object, std::string_view key) const;
  // Any attribute as text: strings as stored, integers in decimal, floats in shortest round-trip
  // form (for logs and configuration maps).
  std::string attribute_text(std::string_view object, std::string_view key) const;

  // Throws pha::Error: "HDF5 file 'PATH': WHAT 'OBJECT' failed (HDF5 call <- root cause); ADVICE"
  [[noreturn]] void fail_on(std::string_view what, std::string_view object,
                            std::string_view advice) const;

 private:
  File(std::string path, Handle file, bool parallel);
  static File open_impl(const std::string& path, Access access, const MPI_Comm* comm);
  static File create_impl(const std::string& path, const MPI_Comm* comm);
  hid_t check(hid_t status, std::string_view what, std::string_view object,
              std::string_view advice = "") const;
  Handle open_object(std::string_view object) const;
  Handle open_dataset(std::string_view name) const;
  Handle open_attribute(std::string_view object, std::string_view key) const;
  void transfer_block(std::string_view name, const Tensor& host, int dim, int64_t offset,
                      bool writing) const;

  std::string path_;
  Handle file_;
  Handle transfer_;  // dataset transfer property list (MPI-IO mode for parallel files)
  bool parallel_ = false;
};

}  // namespace pha::h5
