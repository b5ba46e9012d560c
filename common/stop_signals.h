// SIGTERM and SIGINT for the daemons (ampmr-master, ampmr-worker): blocked in
// every thread, then taken synchronously by the main thread with sigwait.
#ifndef AMPMR_COMMON_STOP_SIGNALS_H_
#define AMPMR_COMMON_STOP_SIGNALS_H_

#include <pthread.h>
#include <signal.h>

namespace ampmr {

// Blocks SIGTERM and SIGINT (threads started later inherit the mask) and
// ignores SIGPIPE. REQUIRES: called before any thread starts.
inline sigset_t BlockStopSignals() {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return stop;
}

// Waits for one of the blocked stop signals and returns it.
inline int WaitForStopSignal(const sigset_t& stop) {
  int sig = 0;
  sigwait(&stop, &sig);
  return sig;
}

}  // namespace ampmr

#endif  // AMPMR_COMMON_STOP_SIGNALS_H_
