// Exec (Hadoop Streaming) mappers, reducers and combiners: `exec:COMMAND`,
// run through /bin/sh -c, one process per task attempt (for a combiner, one
// per map output partition each time the map output buffer is spilled, which
// for a map task that fits in the buffer is once), via StreamingProcess.
//
//   mapper    stdin: the lines of the split, as they are in the file.
//             stdout: key<TAB>value lines (no tab: key = line, value empty).
//   reducer   stdin: key<TAB>value\n for every pair of the partition, sorted
//             by key. stdout: lines copied to the part file as written.
//   combiner  like a reducer on one sorted map output partition, but its
//             input lines are key SEPARATOR value (--field-separator) and
//             its output lines are split like the mapper's (the map output
//             re-sorts them).
//
// The environment is the worker's plus mapreduce_job_id,
// mapreduce_task_id, mapreduce_task_attempt_id, mapreduce_task_partition,
// mapreduce_task_ismap, for map-side tasks mapreduce_map_input_file,
// mapreduce_map_input_start and mapreduce_map_input_length, the older names
// scripts still read (mapred_job_id, mapred_tip_id, mapred_task_id,
// mapred_task_partition, mapred_task_is_map, map_input_file,
// map_input_start, map_input_length), and then every --env NAME=VALUE
// (which wins).
//
// Not thread-safe; one task thread drives each.
#ifndef AMPMR_WORKER_TASK_EXEC_TASK_H_
#define AMPMR_WORKER_TASK_EXEC_TASK_H_

#include <memory>
#include <string>
#include <vector>

#include "worker/task/attempt_context.h"
#include "worker/task/mapper.h"
#include "worker/task/reducer.h"

namespace ampmr::worker {

// The child's environment for `context`, as NAME=VALUE strings.
std::vector<std::string> StreamingEnvironment(const AttemptContext& context);

// The process starts at the first Map (or Finish, for an empty split).
std::unique_ptr<Mapper> MakeExecMapper(const std::string& command, const AttemptContext& context);

// Each Reduce call runs the command once over the whole stream.
std::unique_ptr<Reducer> MakeExecReducer(const std::string& command, const AttemptContext& context);

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_EXEC_TASK_H_
