#include "launch/study_runner.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "launch/ini_sections.h"

namespace fs = std::filesystem;

namespace pha::launch {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;
volatile pid_t g_child = 0;

void on_signal(int) {
  g_interrupted = 1;
  if (g_child > 0) kill(g_child, SIGUSR1);  // pha train: checkpoint, then exit 75
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string this_executable() {
  return fs::read_symlink("/proc/self/exe").string();
}

// The launcher's words with {ranks} replaced; empty for one rank without a launcher.
std::vector<std::string> launcher_words(const StudySpec& spec) {
  std::string text = spec.launcher;
  if (text.empty() && spec.ranks > 1) text = "mpirun -np {ranks} --oversubscribe --bind-to none";
  for (size_t at; (at = text.find("{ranks}")) != std::string::npos;)
    text.replace(at, 7, std::to_string(spec.ranks));
  return split_words(text);
}

// Forks and execs `argv`; in the child, stdout and stderr go to `log` when given (appended), and
// the child is in its own process group (a terminal's Ctrl-C reaches only the study, which passes
// it on as SIGUSR1) and gets SIGUSR1 if the study dies.
pid_t spawn(const std::vector<std::string>& argv, const std::string& log, bool own_group) {
  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  PHA_REQUIRE(pid >= 0, "cannot start '{}': fork failed", argv[0]);
  if (pid == 0) {
    if (own_group) {
      setpgid(0, 0);
      prctl(PR_SET_PDEATHSIG, SIGUSR1);
    }
    if (!log.empty()) {
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd < 0) _exit(126);
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    // Open MPI refuses root without these; they change nothing for other users.
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    execvp(cargv[0], cargv.data());
    std::fprintf(stderr, "cannot run '%s': %s\n", cargv[0], std::strerror(errno));
    _exit(127);
  }
  return pid;
}

int wait_for(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return 1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

std::string timestamp() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
  return text;
}

}  // namespace

void install_study_signal_handlers() {
  this_executable();
  struct sigaction sa = {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGUSR1}) sigaction(sig, &sa, nullptr);
}

bool interrupted() {
  return g_interrupted != 0;
}

void check_cell_config(const StudyCell& cell) {
  const fs::path ini = fs::path(cell.dir) / "cell.ini";
  PHA_REQUIRE(!fs::exists(ini) || read_text(ini) == cell.ini,
              "cell {} was started with another configuration: {} differs from what the study "
              "file gives now (was the study file changed?). Restore the study file, or remove "
              "{} to run the cell afresh",
              cell.id, ini.string(), cell.dir);
}

void setup_cell(const StudyCell& cell) {
  check_cell_config(cell);
  const fs::path dir(cell.dir);
  fs::create_directories(dir);
  const fs::path ini = dir / "cell.ini";
  if (fs::exists(ini)) return;
  std::ofstream out(dir / "cell.ini.partial");
  out << cell.ini;
  out.close();
  PHA_REQUIRE(out.good(), "cannot write {}: check the study dir", ini.string());
  fs::rename(dir / "cell.ini.partial", ini);
}

int run_cell(const StudySpec& spec, const StudyCell& cell,
             const std::vector<std::string>& overrides) {
  setup_cell(cell);
  const fs::path dir(cell.dir);
  fs::remove(dir / "failed");
  std::vector<std::string> argv = launcher_words(spec);
  for (const std::string& a :
       std::vector<std::string>{this_executable(), "train", "--config", (dir / "cell.ini").string(),
                                "--train.resume=auto"})
    argv.push_back(a);
  argv.insert(argv.end(), overrides.begin(), overrides.end());
  const std::string log = (dir / "train.log").string();
  std::ofstream(log, std::ios::app)
      << fmt::format("\n=== pha study {}: {}\n", timestamp(), fmt::join(argv, " "));
  const pid_t pid = spawn(argv, log, true);
  g_child = pid;
  if (g_interrupted) kill(pid, SIGUSR1);  // a signal that came while starting it
  const int status = wait_for(pid);
  g_child = 0;
  if (status == 0) {
    std::ofstream(dir / "done") << timestamp() << "\n";
    // A finished cell never resumes: its checkpoints (GBs over a study) go; weights.h5 stays.
    fs::remove_all(dir / "checkpoints");
  } else if (status != 75) {
    std::ofstream(dir / "failed") << "pha train exited with status " << status << "\n";
  }
  return status;
}

int submit_slurm(const StudySpec& spec, const std::vector<const StudyCell*>& cells,
                 const std::vector<std::string>& overrides, const std::string& sbatch_args) {
  const fs::path slurm_dir = fs::absolute(spec.dir) / "slurm";
  fs::create_directories(slurm_dir);
  // One line per array task: the cell directory, then pha train's extra arguments.
  const std::time_t now = std::time(nullptr);
  const fs::path list = slurm_dir / fmt::format("cells-{}.txt", static_cast<long long>(now));
  {
    std::ofstream out(list);
    for (const StudyCell* c : cells) {
      setup_cell(*c);
      fs::remove(fs::path(c->dir) / "failed");
      out << c->dir;
      for (const std::string& o : overrides) out << " " << o;
      out << "\n";
    }
    PHA_REQUIRE(out.good(), "cannot write {}", list.string());
  }
  const std::string script = (fs::path(pha_home()) / "slurm" / "study-cell.sbatch").string();
  PHA_REQUIRE(fs::exists(script), "{} does not exist: set PHA_HOME to the pha repository", script);
  std::vector<std::string> args = {"sbatch", fmt::format("--array=0-{}", cells.size() - 1),
                                   fmt::format("--ntasks={}", spec.ranks),
                                   fmt::format("--job-name=pha-study-{}", spec.name),
                                   fmt::format("--output={}/%x-%A_%a.out", slurm_dir.string())};
  for (const std::string& w : split_words(sbatch_args)) args.push_back(w);
  args.push_back(script);
  args.push_back(list.string());
  setenv("PHA", this_executable().c_str(), 1);
  setenv("PHA_HOME", pha_home().c_str(), 1);
  fmt::print("study: {}\n", fmt::join(args, " "));
  return run_program("sbatch", std::vector<std::string>(args.begin() + 1, args.end()));
}

void lock_study_dir(const std::string& dir) {
  const std::string path = (fs::path(dir) / "study.lock").string();
  const int fd = open(path.c_str(), O_RDWR | O_CREAT, 0644);  // kept open: the lock lives with it
  PHA_REQUIRE(fd >= 0, "cannot open {}: {}", path, std::strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {};
    PHA_REQUIRE(read(fd, pid, sizeof pid - 1) >= 0, "cannot read {}", path);
    fail("another pha study (pid {}) is running on {}: wait for it, or stop it first",
         std::string(pid).substr(0, std::string(pid).find('\n')), dir);
  }
  const std::string me = std::to_string(getpid()) + "\n";
  PHA_REQUIRE(ftruncate(fd, 0) == 0 &&
                  pwrite(fd, me.data(), me.size(), 0) == static_cast<ssize_t>(me.size()),
              "cannot write {}", path);
}

int run_program(const std::string& program, const std::vector<std::string>& args) {
  std::vector<std::string> argv{program};
  argv.insert(argv.end(), args.begin(), args.end());
  return wait_for(spawn(argv, "", false));
}

std::string pha_home() {
  if (const char* home = std::getenv("PHA_HOME"); home && *home) return home;
  return PHA_SOURCE_DIR;
}

}  // namespace pha::launch
