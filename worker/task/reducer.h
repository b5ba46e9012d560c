// Reducer: consumes a whole stream of pairs sorted by key and emits output.
// The same interface serves combiners (run on one sorted map-output
// partition) and reducers (run on the merge of all map outputs' partition r).
//
// A reducer sees the entire sorted stream rather than one key group at a
// time, so an exec (Hadoop Streaming) reducer, which reads every sorted
// key<TAB>value line on stdin, fits the same interface as built-ins, which
// group by key themselves.
//
// Not thread-safe; one task thread drives a reducer and its input.
#ifndef AMPMR_WORKER_TASK_REDUCER_H_
#define AMPMR_WORKER_TASK_REDUCER_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "worker/task/emitter.h"

namespace ampmr::worker {

// A stream of pairs in ascending bytewise key order; pairs with equal keys
// keep the order they were emitted in (map output order, then map index).
class SortedPairs {
 public:
  virtual ~SortedPairs() = default;

  // Sets the views to the next pair and returns true; they stay valid until
  // the next call. Returns false at the end of the stream, and also on an
  // error (a corrupt input, cancellation), which status() then reports; the
  // task checks status() after the reducer returns.
  virtual bool Next(absl::string_view* key, absl::string_view* value) = 0;

  virtual absl::Status status() const { return absl::OkStatus(); }
};

class Reducer {
 public:
  virtual ~Reducer() = default;

  // Reads `in` to its end and emits to `out`. An error fails the attempt.
  // Combiner output must keep the input's key order (built-ins do).
  virtual absl::Status Reduce(SortedPairs* in, Emitter* out) = 0;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_REDUCER_H_
