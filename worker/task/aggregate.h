// builtin:aggregate, Hadoop's aggregate package (ValueAggregatorReducer and
// ValueAggregatorCombiner) for streaming jobs: the mapper prefixes each key
// with the aggregation wanted, e.g. "LongValueSum:the<TAB>1", and the reducer
// writes the key without the prefix and the aggregate, as Hadoop formats it:
//
//   LongValueSum:K    V a long     the sum
//   LongValueMax:K / LongValueMin:K     the largest / smallest long
//   DoubleValueSum:K  V a double   the sum, as Java's Double.toString
//   StringValueMax:K / StringValueMin:K the bytewise largest / smallest value
//   UniqValueCount:K  V any text   the number of distinct values
//   ValueHistogram:K  V "VAL" or "VAL<TAB>COUNT" (COUNT defaults to 1)
//                     "N<TAB>MIN<TAB>MEDIAN<TAB>MAX<TAB>AVERAGE<TAB>STDDEV"
//                     over the counts of the N distinct values (average and
//                     standard deviation as Java doubles)
//
// As a combiner (a map-side task) it keeps the prefixed key and emits what
// the reducer can go on from: the sum, max or min, each distinct value once,
// or "VAL<TAB>COUNT" per histogram value. A key without one of these
// prefixes, or a number that does not parse, fails the attempt naming the key.
//
// Thread-compatible: one instance per task.
#ifndef AMPMR_WORKER_TASK_AGGREGATE_H_
#define AMPMR_WORKER_TASK_AGGREGATE_H_

#include <string>

#include "ampmr/plugin.h"

namespace ampmr::worker {

// The factory of builtin:aggregate.
plugin::Reducer* NewAggregateReducer(const plugin::Task* task);

// Java's Double.toString(d): "2.0", "0.5", "1.0E7", "1.234E-5", "NaN".
std::string JavaDoubleString(double d);

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_AGGREGATE_H_
