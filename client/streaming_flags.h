// `ampmr streaming`: Hadoop Streaming's own command line (README "Using it"),
// translated into the job flags `ampmr run` and `ampmr submit` take, so a
// user's `hadoop jar hadoop-streaming.jar ...` line runs unchanged:
//
//   -input PATH[,PATH...] (repeatable), -output DIR, -mapper CMD,
//   -reducer CMD|NONE|aggregate, -combiner CMD|aggregate, -cmdenv K=V,
//   -file PATH and -files A,B (--file; a command whose first word names a
//   shipped file runs it from the attempt's working directory), -numReduceTasks N,
//   -partitioner org.apache.hadoop.mapred.lib.KeyFieldBasedPartitioner,
//   -D PROP=VALUE (or -DPROP=VALUE) for the properties below,
//   and ampmr's own --master ADDR (else an embedded cluster) and --workers N.
//
// Commands become exec: specs; the Java IdentityMapper / IdentityReducer
// become builtin:identity. -D properties (with their older mapred.* names):
//   mapreduce.job.reduces                       --reduces
//   stream.num.map.output.key.fields            --key-fields
//   stream.map.output.field.separator           --field-separator
//   mapreduce.map.output.key.field.separator    must equal the above
//   mapreduce.partition.keypartitioner.options  -k1,K: --partition-fields K
//                                               (with KeyFieldBasedPartitioner)
//   mapreduce.partition.keycomparator.options   --sort-key (with the comparator
//                                               class KeyFieldBasedComparator)
//   mapreduce.job.output.key.comparator.class   KeyFieldBasedComparator only
//   mapreduce.job.name                          --name
//   mapreduce.output.fileoutputformat.compress(.codec)  GzipCodec or
//                                               ZStandardCodec: --compress-output
//   mapreduce.task.timeout                      --task-timeout (milliseconds)
//   mapreduce.map.maxattempts                   --max-attempts
// As in Hadoop, partitioner and comparator options count only with their
// classes. Anything else, option or property, is refused by name.
//
// No gRPC; the translation is unit-tested in tests/client.
#ifndef AMPMR_CLIENT_STREAMING_FLAGS_H_
#define AMPMR_CLIENT_STREAMING_FLAGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/job_flags.h"

namespace ampmr::client {

struct StreamingJob {
  JobFlags job;
  std::string master;   // --master; empty: an embedded cluster
  int32_t workers = 0;  // --workers for the embedded cluster; 0: one per core
  bool help = false;    // -h / -help / --help
};

// INVALID_ARGUMENT naming the option or property, e.g.
//   -D mapreduce.job.maps: not supported by ampmr streaming
//   -inputformat: not supported by ampmr streaming
absl::StatusOr<StreamingJob> ParseStreamingArgs(const std::vector<std::string>& args);

// What `ampmr streaming --help` prints.
extern const char kStreamingUsage[];

}  // namespace ampmr::client

#endif  // AMPMR_CLIENT_STREAMING_FLAGS_H_
