// The planner: turns a job's inputs into map splits (README "Inputs").
// ExpandInputs resolves files, directories and globs into a list of files;
// PlanSplits cuts those files into line-aligned byte ranges.
//
// Both touch only the local file system and keep no state, so they may be
// called from any thread at once. They block on file I/O (stat, readdir, a
// few preads per split), so an event-loop thread should not call them for
// inputs it does not know to be small.
#ifndef AMPMR_MASTER_PLANNER_H_
#define AMPMR_MASTER_PLANNER_H_

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "master/split_plan.h"

namespace ampmr::master {

// Resolves each input to regular files:
//   - an existing file is taken as is, whatever its name;
//   - an existing directory contributes its regular files, recursively,
//     skipping every entry (file or directory) whose name starts with '.' or
//     '_', as Hadoop does (so a previous job's _SUCCESS is never read);
//   - anything else containing *, ?, [ or { is a glob(3) pattern (with brace
//     expansion); its matches are expanded as above, and names starting with
//     '.' or '_' are skipped. A pattern that matches nothing is an error.
// Symbolic links are followed; a directory reached twice through links is
// listed once. The result is sorted bytewise and has no duplicates. An input
// that expands to no files (an empty directory) is not an error.
//
// Errors name the path, e.g. NOT_FOUND "input /x/y: no such file or
// directory", PERMISSION_DENIED "input /x/y: permission denied",
// INVALID_ARGUMENT "input /x/*.txt: matches no files" or "input /dev/tty: not
// a regular file or directory".
absl::StatusOr<std::vector<std::string>> ExpandInputs(const std::vector<std::string>& inputs);

// What planning cost, for tests and metrics.
struct PlanStats {
  int64_t reads = 0;       // pread calls
  int64_t bytes_read = 0;  // bytes those calls returned
};

// Cuts each file into splits (compact ranges: split_plan.h): byte ranges that start at a line start and end
// right after a newline or at end of file, each at most `split_size` bytes
// unless a single line is longer (then that split is exactly that line).
// Every split is as long as that rule allows. An empty file makes no split.
// A compressed file (.gz, .bz2, .zst: common/codec.h) is one split, the
// whole file, whatever its size: it is decompressed as it is read.
// Splits come in the order of `files`, and in file order within a file;
// together they cover every byte of every file exactly once.
//
// Boundaries are found by pread of small windows near them, so planning a
// huge file reads little of it, and a file cut into very many small splits is
// read once, sequentially. If `stats` is not null, the cost is added to it.
//
// Planning stops as soon as the files would make more than `max_splits`
// splits: RESOURCE_EXHAUSTED "more than N splits", having made no more than N.
//
// REQUIRES: split_size > 0 (else INVALID_ARGUMENT). Errors name the path.
absl::StatusOr<SplitPlan> PlanSplits(const std::vector<std::string>& files, int64_t split_size,
                                     PlanStats* stats = nullptr,
                                     size_t max_splits = std::numeric_limits<size_t>::max());

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_PLANNER_H_
