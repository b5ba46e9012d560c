// The child's side of Subprocess::Start (common/subprocess.h): everything
// between vfork and exec. The parent builds a ChildPlan (no allocation is
// allowed in the child) and StartChild() runs it in a vfork()ed child, which
// resets every signal, takes its own process group, sets up exactly the
// planned descriptors, takes the identity, enters the directory and execs;
// a failure on the way is sent back as a ChildError over a close-on-exec pipe.
//
// Internal to common/subprocess.cc.
#ifndef AMPMR_COMMON_SUBPROCESS_CHILD_H_
#define AMPMR_COMMON_SUBPROCESS_CHILD_H_

#include <sys/types.h>

#include "common/subprocess.h"

namespace ampmr::subprocess_internal {

// What the child was doing when it failed before exec; it sends this and
// errno to the parent over a close-on-exec pipe (end of file means exec
// succeeded).
enum class Step : int { kMoveFd, kSetgroups, kSetgid, kSetuid, kChdir, kExec };
struct ChildError {
  Step step;
  int error;
  int fd;  // kMoveFd: the child's descriptor being set up
};

// Everything the child needs, built by the parent before vfork: the child
// only reads it (and writes `moved`) and makes system calls.
struct ChildPlan {
  const char* path;
  char* const* argv;
  char* const* envp;
  const char* working_dir;  // null: stay where the parent is
  // The child's descriptors: targets[i] becomes a copy of sources[i].
  const int* targets;
  const int* sources;
  int* moved;  // scratch, one per target
  int n_fds;
  // Above every target: where the sources are moved first, so that no dup2
  // overwrites a source another target still needs.
  int first_free;
  const RunAs* run_as;  // null: keep the parent's identity
  bool die_with_parent;
  pid_t parent;
  int error_fd;
};

// vfork()s a child that runs `plan`; returns its pid, or -1 with errno set.
// Returns once the child has exec'ed or exited.
pid_t StartChild(const ChildPlan& plan);

}  // namespace ampmr::subprocess_internal

#endif  // AMPMR_COMMON_SUBPROCESS_CHILD_H_
