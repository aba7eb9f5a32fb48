#include "core/cuda_plugin.h"

#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "core/error.h"
#include "core/version.h"

// Defined where the CUDA backend (core/cuda/cuda_backend.cpp) or the NCCL communicator
// (parallel/make_nccl_communicator.cpp) is linked in statically; null otherwise, and then the
// plugin file provides them.
extern "C" const pha::CudaPlugin* pha_cuda_plugin() __attribute__((weak));
extern "C" const pha::NcclPlugin* pha_nccl_plugin() __attribute__((weak));

namespace pha {

namespace {

constexpr const char* kPluginFile = "libpha_cuda_plugin.so";

// The running executable's directory ("" when /proc is unreadable).
std::string executable_dir() {
  char path[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) return "";
  const std::string exe(path, static_cast<size_t>(n));
  return exe.substr(0, exe.rfind('/'));
}

std::vector<std::string> candidate_paths() {
  if (const char* set = std::getenv("PHA_CUDA_PLUGIN"); set != nullptr && *set != '\0')
    return {set};
  std::vector<std::string> paths;
  if (const std::string dir = executable_dir(); !dir.empty())
    paths.push_back(dir + "/" + kPluginFile);
#ifdef PHA_CUDA_PLUGIN_BUILD_PATH
  if (paths.empty() || paths.front() != PHA_CUDA_PLUGIN_BUILD_PATH)
    paths.emplace_back(PHA_CUDA_PLUGIN_BUILD_PATH);
#endif
  return paths;
}

struct Loaded {
  const CudaPlugin* cuda = nullptr;
  const NcclPlugin* nccl = nullptr;
};

Loaded load() {
  if (pha_cuda_plugin != nullptr)
    return {pha_cuda_plugin(), pha_nccl_plugin != nullptr ? pha_nccl_plugin() : nullptr};
  std::string tried;
  for (const std::string& path : candidate_paths()) {
    // RTLD_LOCAL: the plugin's own copy of pha_core stays out of this process's symbol lookup.
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      tried += fmt::format("\n  {}: {}", path, dlerror());
      continue;
    }
    using Entry = const CudaPlugin* (*)();
    const auto entry = reinterpret_cast<Entry>(dlsym(handle, "pha_cuda_plugin"));
    PHA_REQUIRE(entry != nullptr,
                "{} has no pha_cuda_plugin entry point: it is not pha's CUDA plugin; rebuild pha "
                "or point PHA_CUDA_PLUGIN at the libpha_cuda_plugin.so of this build",
                path);
    const CudaPlugin* plugin = entry();
    PHA_REQUIRE(plugin->version == kCudaPluginVersion,
                "{} is a CUDA plugin of version {}, this pha needs version {}: rebuild pha, or "
                "point PHA_CUDA_PLUGIN at the libpha_cuda_plugin.so built with this pha",
                path, plugin->version, kCudaPluginVersion);
    using NcclEntry = const NcclPlugin* (*)();
    const auto nccl = reinterpret_cast<NcclEntry>(dlsym(handle, "pha_nccl_plugin"));
    const NcclPlugin* nccl_table = nccl != nullptr ? nccl() : nullptr;
    PHA_REQUIRE(nccl_table == nullptr || nccl_table->version == kCudaPluginVersion,
                "{}: its NCCL table is of version {}, this pha needs {}: rebuild pha", path,
                nccl_table ? nccl_table->version : 0, kCudaPluginVersion);
    return {plugin, nccl_table};  // the handle stays open for the process's life
  }
  fail(
      "the CUDA backend's plugin ({}) could not be loaded; tried:{}\nbuild it with pha (cmake "
      "with CUDA found builds it beside the pha executable), set PHA_CUDA_PLUGIN to its path, or "
      "use --device cpu",
      kPluginFile, tried);
}

// The process's one loaded plugin: a dlopen'ed library is process-wide state by nature.
const Loaded& loaded() {
  PHA_REQUIRE(cuda_plugin_built(),
              "this pha was built without the CUDA backend (no CUDA toolkit was found when it "
              "was configured): rebuild with cmake -DPHA_CUDA=ON, or use --device cpu");
  static std::once_flag once;
  static Loaded tables;
  std::call_once(once, [] { tables = load(); });  // a throw leaves it to the next call
  return tables;
}

}  // namespace

bool cuda_plugin_built() {
  return PHA_HAVE_CUDA_BUILD != 0;
}

const CudaPlugin& cuda_plugin() {
  return *loaded().cuda;
}

const NcclPlugin* nccl_plugin() {
  return loaded().nccl;
}

}  // namespace pha
