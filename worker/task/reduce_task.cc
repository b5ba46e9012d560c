#include "worker/task/reduce_task.h"

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <system_error>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/codec.h"
#include "common/status_macros.h"
#include "common/task_spec.h"
#include "worker/task/attempt_context.h"
#include "worker/task/counters.h"
#include "worker/task/file_writer.h"
#include "worker/task/key_partitioner.h"
#include "worker/task/line_emitter.h"
#include "worker/task/mapped_range.h"
#include "worker/task/merge.h"
#include "worker/task/task_factory.h"

namespace ampmr::worker {
namespace {

// Part files are written once, sequentially: a big buffer means few writes.
constexpr size_t kOutputBufferSize = size_t{4} << 20;
// Records between checks of the cancel flag and the progress clock.
constexpr int64_t kCheckInterval = 4096;

// Passes a merged stream through, counting records and key groups, touching
// the progress clock, and ending it early once the task is cancelled
// (CANCELLED) or has stalled (DEADLINE_EXCEEDED: in-process code that took
// longer than --task-timeout over one batch). A key group starts wherever
// the merge says the key changed.
class CountingPairs final : public SortedPairs {
 public:
  CountingPairs(MergingPairs* in, const std::atomic<bool>* cancelled, ProgressClock* progress)
      : in_(in), cancelled_(cancelled), progress_(progress) {}

  bool Next(absl::string_view* key, absl::string_view* value) override {
    if (!status_.ok()) return false;
    if (records_ % kCheckInterval == 0) {
      if (cancelled_ != nullptr && cancelled_->load(std::memory_order_relaxed)) {
        status_ = absl::CancelledError("cancelled");
        return false;
      }
      if (progress_->Stalled()) {
        status_ = progress_->StallError();
        return false;
      }
      progress_->Touch();
    }
    if (!in_->Next(key, value)) {
      status_ = in_->status();
      return false;
    }
    if (records_ == 0 || !in_->same_key()) ++groups_;
    ++records_;
    return true;
  }
  absl::Status status() const override { return status_; }

  int64_t records() const { return records_; }
  int64_t groups() const { return groups_; }

 private:
  MergingPairs* const in_;
  const std::atomic<bool>* const cancelled_;
  ProgressClock* const progress_;
  int64_t records_ = 0;
  int64_t groups_ = 0;
  absl::Status status_;
};

absl::StatusOr<TaskSpec> ReducerSpec(const v1::TaskContext& task) {
  if (task.reducer().empty()) return TaskSpec{TaskSpec::Kind::kBuiltin, "identity"};
  AMPMR_ASSIGN_OR_RETURN(TaskSpec spec, ParseTaskSpec(TaskRole::kReducer, task.reducer()));
  if (spec.kind == TaskSpec::Kind::kNone) {
    return absl::InvalidArgumentError("reducer \"none\": a map-only job has no reduce tasks");
  }
  return spec;
}

absl::Status MakeParentDirectory(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) return absl::OkStatus();
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec) {
    return absl::ErrnoToStatus(ec.value(), absl::StrCat("create directory ", parent.string()));
  }
  return absl::OkStatus();
}

// Maps every non-empty input; adds their sizes to *bytes.
absl::Status MapInputs(const std::vector<ReduceInput>& inputs,
                       std::vector<std::unique_ptr<MappedRange>>* maps, std::vector<RunInput>* runs,
                       int64_t* bytes) {
  for (const ReduceInput& in : inputs) {
    if (in.offset < 0 || in.length < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("input ", in.path, ": bad range offset=", in.offset, " length=", in.length));
    }
    if (in.length == 0) continue;
    AMPMR_ASSIGN_OR_RETURN(auto map, MappedRange::Open(in.path, in.offset, in.length));
    runs->push_back({map->data(), in.path, static_cast<uint64_t>(in.offset)});
    maps->push_back(std::move(map));
    *bytes += in.length;
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ReduceDone> RunReduce(const ReduceTaskOptions& options) {
  // Phases: make the reducer and map the inputs; create temp_path; merge and
  // reduce into it; close it and report. Any failure after the file exists
  // removes it.
  const v1::TaskContext& task = options.run.task();
  const std::string& temp_path = options.run.temp_path();
  if (temp_path.empty()) return absl::InvalidArgumentError("no temp_path to write to");
  AMPMR_ASSIGN_OR_RETURN(TaskSpec spec, ReducerSpec(task));
  AMPMR_ASSIGN_OR_RETURN(KeySpec keys, TaskKeySpec(task));
  const KeyComparator order(keys);
  AttemptContext context =
      AttemptContext::ForTask(task, /*is_map=*/false, options.cancelled, options.progress);
  context.keys = keys;
  context.working_dir = options.working_dir;
  context.stderr_log = options.stderr_log;
  context.run_as = options.run_as;
  AMPMR_ASSIGN_OR_RETURN(std::unique_ptr<Reducer> reducer, MakeReducer(spec, context));
  std::vector<std::unique_ptr<MappedRange>> maps;
  std::vector<RunInput> runs;
  int64_t shuffled_bytes = 0;
  AMPMR_RETURN_IF_ERROR(MapInputs(options.inputs, &maps, &runs, &shuffled_bytes));

  AMPMR_RETURN_IF_ERROR(MakeParentDirectory(temp_path));
  AMPMR_ASSIGN_OR_RETURN(auto file, FileWriter::Create(temp_path, kOutputBufferSize,
                                                       CodecOfOutputName(task.compress_output())));
  absl::Cleanup remove_output = [&temp_path] { ::unlink(temp_path.c_str()); };

  MergingPairs merged(runs, &order);
  CountingPairs counted(&merged, options.cancelled, context.progress.get());
  Counters counters;
  LineEmitter out(file.get(), &counters);
  absl::Status s = reducer->Reduce(&counted, &out);
  if (!s.ok()) {
    return Annotate(
        s, absl::StrCat("reducer ", task.reducer().empty() ? "builtin:identity" : task.reducer()));
  }
  AMPMR_RETURN_IF_ERROR(counted.status());
  AMPMR_RETURN_IF_ERROR(out.status());
  AMPMR_RETURN_IF_ERROR(file->Close());
  std::move(remove_output).Cancel();

  v1::ReduceDone done;
  v1::FrameworkCounters* framework = done.mutable_framework_counters();
  framework->set_reduce_input_groups(counted.groups());
  framework->set_reduce_input_records(counted.records());
  framework->set_reduce_output_records(out.lines());
  framework->set_shuffled_bytes(shuffled_bytes);
  done.set_attempt_id(task.attempt_id());
  done.set_output_bytes(static_cast<int64_t>(file->size()));
  done.mutable_counters()->insert(counters.begin(), counters.end());
  return done;
}

}  // namespace

absl::StatusOr<v1::ReduceDone> RunReduceTask(const ReduceTaskOptions& options) {
  absl::StatusOr<v1::ReduceDone> done = RunReduce(options);
  if (!done.ok()) {
    return Annotate(done.status(), absl::StrCat("attempt=", options.run.task().attempt_id()));
  }
  return done;
}

}  // namespace ampmr::worker
