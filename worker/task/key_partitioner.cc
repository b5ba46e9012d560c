#include "worker/task/key_partitioner.h"

namespace ampmr::worker {

absl::StatusOr<KeySpec> TaskKeySpec(const v1::TaskContext& task) {
  return MakeKeySpec(task.key_fields(), task.field_separator(), task.partition_fields(),
                     task.sort_key());
}

}  // namespace ampmr::worker
