// detect_launch_env on 4 ranks of this machine: as mpirun started them, with the environment a
// srun task would see (faked per rank), with no launcher variables at all, and with faked Slurm
// numbers that disagree with MPI, which must fail on every rank with the same message.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <regex>
#include <string>

#include "core/error.h"
#include "parallel/launch_env.h"

namespace pha::parallel {
namespace {

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int world_size() {
  int n = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

// Sets (or, with nullopt, unsets) variables for one test and restores them afterwards.
class ScopedEnv {
 public:
  explicit ScopedEnv(const std::map<std::string, std::optional<std::string>>& vars) {
    for (const auto& [name, value] : vars) {
      const char* old = std::getenv(name.c_str());
      saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
      set(name, value);
    }
  }
  ~ScopedEnv() {
    for (const auto& [name, value] : saved_) set(name, value);
  }

 private:
  static void set(const std::string& name, const std::optional<std::string>& value) {
    if (value)
      setenv(name.c_str(), value->c_str(), 1);
    else
      unsetenv(name.c_str());
  }
  std::map<std::string, std::optional<std::string>> saved_;
};

const std::optional<std::string> unset = std::nullopt;

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' lacks '" << part << "'";
}

// What srun sets for task `rank` of a one-node step; mpirun's variables removed.
std::map<std::string, std::optional<std::string>> slurm_task(int rank, int size) {
  return {{"SLURM_STEP_ID", "0"},
          {"SLURM_PROCID", std::to_string(rank)},
          {"SLURM_NTASKS", std::to_string(size)},
          {"SLURM_LOCALID", std::to_string(rank)},
          {"SLURM_NODEID", "0"},
          {"SLURM_STEP_TASKS_PER_NODE", std::to_string(size)},
          {"SLURM_TASKS_PER_NODE", unset},
          {"SLURM_NTASKS_PER_NODE", unset},
          {"OMPI_COMM_WORLD_RANK", unset},
          {"OMPI_COMM_WORLD_SIZE", unset},
          {"OMPI_COMM_WORLD_LOCAL_RANK", unset},
          {"OMPI_COMM_WORLD_LOCAL_SIZE", unset}};
}

// The message of detect_launch_env's error, or "" when it succeeded.
std::string launch_error() {
  try {
    detect_launch_env(MPI_COMM_WORLD);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Every rank got `message`: the error is the same everywhere (no rank throws alone).
void expect_same_on_every_rank(const std::string& message) {
  const int length = static_cast<int>(message.size());
  int shortest = 0, longest = 0;
  MPI_Allreduce(&length, &shortest, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&length, &longest, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  EXPECT_EQ(shortest, longest) << message;
}

TEST(LaunchEnv, MpirunRanksComeFromOpenMpi) {
  const LaunchEnv env = detect_launch_env(MPI_COMM_WORLD);
  EXPECT_EQ(env.source, "open-mpi");
  EXPECT_EQ(env.world_rank, world_rank());
  EXPECT_EQ(env.world_size, world_size());
  EXPECT_EQ(env.local_rank, world_rank());  // one host
  EXPECT_EQ(env.local_size, world_size());
  EXPECT_FALSE(env.host.empty());
}

TEST(LaunchEnv, SrunTaskComesFromSlurm) {
  ScopedEnv fake(slurm_task(world_rank(), world_size()));
  const LaunchEnv env = detect_launch_env(MPI_COMM_WORLD);
  EXPECT_EQ(env.source, "slurm");
  EXPECT_EQ(env.world_rank, world_rank());
  EXPECT_EQ(env.world_size, world_size());
  EXPECT_EQ(env.local_rank, world_rank());
  EXPECT_EQ(env.local_size, world_size());
}

TEST(LaunchEnv, SlurmTasksPerNodeFromTheCompressedList) {
  auto vars = slurm_task(world_rank(), world_size());
  vars["SLURM_STEP_TASKS_PER_NODE"] = unset;
  vars["SLURM_NODEID"] = "2";
  vars["SLURM_TASKS_PER_NODE"] = fmt::format("3(x2),{},1", world_size());
  ScopedEnv fake(vars);
  const LaunchEnv env = detect_launch_env(MPI_COMM_WORLD);
  EXPECT_EQ(env.local_size, world_size());
}

TEST(LaunchEnv, MpiRanksInABatchShellIgnoreItsSlurmVariables) {
  // mpirun inside an allocation: every rank inherits the batch shell's SLURM_PROCID=0.
  auto vars = slurm_task(0, 1);
  vars["SLURM_STEP_ID"] = unset;
  ScopedEnv fake(vars);
  const LaunchEnv env = detect_launch_env(MPI_COMM_WORLD);
  EXPECT_EQ(env.source, "mpi-shared-memory");
  EXPECT_EQ(env.world_rank, world_rank());
  EXPECT_EQ(env.local_rank, world_rank());
  EXPECT_EQ(env.local_size, world_size());
}

TEST(LaunchEnv, SlurmRankDisagreeingWithMpiFailsEverywhere) {
  ScopedEnv fake(slurm_task((world_rank() + 1) % world_size(), world_size()));
  const std::string message = launch_error();
  EXPECT_TRUE(contains(message,
                       "the launcher's ranks do not match MPI's: rank 0 "
                       "(slurm): the launcher says rank 1 of 4, MPI rank 0 of 4"));
  expect_same_on_every_rank(message);
}

TEST(LaunchEnv, SlurmTaskCountDisagreeingWithMpiFails) {
  ScopedEnv fake(slurm_task(world_rank(), world_size() + 1));
  EXPECT_TRUE(contains(launch_error(), "the launcher says rank 0 of 5, MPI rank 0 of 4"));
}

TEST(LaunchEnv, SlurmNodesThatAreNotMpisNodesFail) {
  // Slurm claims 2 nodes of 2 tasks; MPI finds all 4 ranks on this host.
  auto vars = slurm_task(world_rank(), world_size());
  vars["SLURM_LOCALID"] = std::to_string(world_rank() % 2);
  vars["SLURM_NODEID"] = std::to_string(world_rank() / 2);
  vars["SLURM_STEP_TASKS_PER_NODE"] = "2(x2)";
  ScopedEnv fake(vars);
  const std::string message = launch_error();
  EXPECT_TRUE(contains(message,
                       "runs MPI ranks 0,1,2,3 (4 of them), but the launcher "
                       "gives them local ranks 0,1,0,1 of local sizes 2,2,2,2"));
  expect_same_on_every_rank(message);
}

TEST(LaunchEnv, MalformedVariableOnOneRankFailsEverywhere) {
  auto vars = slurm_task(world_rank(), world_size());
  if (world_rank() == 2) vars["SLURM_LOCALID"] = "two";
  ScopedEnv fake(vars);
  const std::string message = launch_error();
  EXPECT_TRUE(
      contains(message, "rank 2 (slurm): SLURM_LOCALID = 'two' is not a non-negative integer"));
  expect_same_on_every_rank(message);
}

TEST(LaunchEnv, RankHostTableListsEveryRankOnRankZero) {
  const std::string devices = world_rank() == 3 ? "5,6" : "0";
  ScopedEnv fake({{"CUDA_VISIBLE_DEVICES", devices}});
  const LaunchEnv env = detect_launch_env(MPI_COMM_WORLD);
  const std::string table = rank_host_table(MPI_COMM_WORLD, env);
  if (world_rank() != 0) {
    EXPECT_EQ(table, "");
    return;
  }
  EXPECT_EQ(table.rfind("rank-to-host table (4 ranks, from open-mpi):\n", 0), 0u) << table;
  EXPECT_TRUE(std::regex_search(table, std::regex("\n +3 +" + env.host + " +3/4 +5,6\n"))) << table;
  EXPECT_TRUE(std::regex_search(table, std::regex("\n +0 +" + env.host + " +0/4 +0\n"))) << table;
}

TEST(SlurmTasksOnNode, ReadsTheCompressedList) {
  EXPECT_EQ(slurm_tasks_on_node("4", 0), 4);
  EXPECT_EQ(slurm_tasks_on_node("4", 1), -1);
  EXPECT_EQ(slurm_tasks_on_node("2(x3),1", 0), 2);
  EXPECT_EQ(slurm_tasks_on_node("2(x3),1", 2), 2);
  EXPECT_EQ(slurm_tasks_on_node("2(x3),1", 3), 1);
  EXPECT_EQ(slurm_tasks_on_node("2(x3),1", 4), -1);
  EXPECT_EQ(slurm_tasks_on_node("2(x3", 0), -1);
  EXPECT_EQ(slurm_tasks_on_node("two", 0), -1);
  EXPECT_EQ(slurm_tasks_on_node("", 0), -1);
}

}  // namespace
}  // namespace pha::parallel
