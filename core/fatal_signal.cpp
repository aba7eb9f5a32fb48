#include "core/fatal_signal.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <signal.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace pha {
namespace {

// The handler may use only async-signal-safe calls: everything it prints is prepared here, at
// install time, in static storage (a handler has no other way to reach it).
char g_who[128];

void write_text(const char* text) {
  const ssize_t ignored = write(STDERR_FILENO, text, std::strlen(text));
  (void)ignored;
}

// Hexadecimal without printf (not async-signal-safe).
void write_hex(std::uintptr_t value) {
  char digits[2 + 2 * sizeof(value) + 1];
  int n = sizeof(digits) - 1;
  digits[n] = '\0';
  do {
    digits[--n] = "0123456789abcdef"[value & 0xf];
    value >>= 4;
  } while (value != 0);
  digits[--n] = 'x';
  digits[--n] = '0';
  write_text(digits + n);
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGSEGV:
      return "SIGSEGV (invalid memory access)";
    case SIGBUS:
      return "SIGBUS (bus error)";
    case SIGFPE:
      return "SIGFPE (arithmetic exception)";
    case SIGILL:
      return "SIGILL (illegal instruction: a build for another CPU?)";
    default:
      return "fatal signal";
  }
}

// "  return address 0x7f.. = pha(+0x1234)": the object and offset addr2line needs.
void write_code_address(const char* label, void* address) {
  write_text(label);
  write_hex(reinterpret_cast<std::uintptr_t>(address));
  Dl_info info;
  if (dladdr(address, &info) != 0 && info.dli_fname != nullptr) {
    write_text(" = ");
    write_text(info.dli_fname);
    write_text("(+");
    write_hex(reinterpret_cast<std::uintptr_t>(address) -
              reinterpret_cast<std::uintptr_t>(info.dli_fbase));
    write_text(")");
  }
  write_text("\n");
}

void report(int sig, siginfo_t* info, void* context) {
  write_text("pha: ");
  write_text(g_who);
  write_text(": ");
  write_text(signal_name(sig));
  write_text(" at address ");
  write_hex(reinterpret_cast<std::uintptr_t>(info->si_addr));
  write_text("\n");
#if defined(__x86_64__)
  const auto* uc = static_cast<const ucontext_t*>(context);
  void* pc = reinterpret_cast<void*>(uc->uc_mcontext.gregs[REG_RIP]);
  write_code_address("  faulting instruction ", pc);
  if (pc == nullptr) {
    // A call through a null function pointer: the unwinder finds no frame at pc 0, but the
    // call pushed its return address, at the top of the stack.
    void* const* sp = reinterpret_cast<void* const*>(uc->uc_mcontext.gregs[REG_RSP]);
    write_code_address("  called from (null function pointer) ", *sp);
  }
#else
  (void)context;
#endif
  write_text("  backtrace (addr2line -e OBJECT -f -C OFFSET):\n");
  void* frames[64];
  const int n = backtrace(frames, 64);
  backtrace_symbols_fd(frames, n, STDERR_FILENO);
  // SA_RESETHAND restored the default action: the process ends by this signal, as it would
  // have without the report.
  raise(sig);
}

}  // namespace

void install_fatal_signal_report(const std::string& who) {
  std::strncpy(g_who, who.c_str(), sizeof(g_who) - 1);
  // backtrace() loads libgcc on its first call (malloc): do it now, not inside the handler.
  void* warm[2];
  backtrace(warm, 2);
  // Open MPI installs its handlers for these signals in MPI_Init unless opal_signal is empty.
  setenv("OMPI_MCA_opal_signal", "", 0);
  // The handler runs on an alternate stack so that a stack overflow is reported too.
  static char alternate_stack[64 * 1024];
  stack_t stack = {};
  stack.ss_sp = alternate_stack;
  stack.ss_size = sizeof(alternate_stack);
  sigaltstack(&stack, nullptr);
  struct sigaction action = {};
  action.sa_sigaction = report;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) sigaction(sig, &action, nullptr);
}

}  // namespace pha
