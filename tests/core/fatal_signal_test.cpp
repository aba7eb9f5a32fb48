// The crash report names the process, the signal and the caller of a null function pointer (the
// case Open MPI's handler printed as one libc frame), and the process still dies by the signal.
#include "core/fatal_signal.h"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdint>
#include <cstdlib>

namespace {

using Callback = void (*)();

// noinline: its return address is what the report must resolve to this test binary.
__attribute__((noinline)) void call_through(Callback callback) {
  volatile Callback hidden = callback;  // the compiler must not see that it is null
  hidden();
}

TEST(FatalSignalDeathTest, NullFunctionPointerNamesProcessAndCaller) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        pha::install_fatal_signal_report("rank 7 (host test-host)");
        call_through(nullptr);
      },
      testing::KilledBySignal(SIGSEGV),
      "pha: rank 7 \\(host test-host\\): SIGSEGV \\(invalid memory access\\) at address 0x0\n"
      "  faulting instruction 0x0\n"
      "  called from \\(null function pointer\\) 0x[0-9a-f]+ = "
      "[^\n]*fatal_signal_test\\(\\+0x[0-9a-f]+\\)\n"
      "  backtrace");
}

TEST(FatalSignalDeathTest, BadAddressIsReportedAndTheSignalKept) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        pha::install_fatal_signal_report("pid 1 (host h)");
        volatile std::uintptr_t address = 0x10;  // hidden from the compiler's bounds checks
        *reinterpret_cast<volatile int*>(address) = 1;
      },
      testing::KilledBySignal(SIGSEGV),
      "pha: pid 1 \\(host h\\): SIGSEGV \\(invalid memory access\\) at address 0x10\n"
      "  faulting instruction 0x[0-9a-f]+ = [^\n]*fatal_signal_test\\(\\+0x[0-9a-f]+\\)\n");
}

TEST(FatalSignalDeathTest, KeepsAUsersOpenMpiSignalSetting) {
  setenv("OMPI_MCA_opal_signal", "11", 1);
  pha::install_fatal_signal_report("pid 1 (host h)");
  EXPECT_STREQ(std::getenv("OMPI_MCA_opal_signal"), "11");
  unsetenv("OMPI_MCA_opal_signal");
  signal(SIGSEGV, SIG_DFL);
  signal(SIGBUS, SIG_DFL);
  signal(SIGFPE, SIG_DFL);
  signal(SIGILL, SIG_DFL);
}

}  // namespace
