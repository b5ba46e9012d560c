#include "worker/task/map_task.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <system_error>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/codec.h"
#include "common/status_macros.h"
#include "common/task_spec.h"
#include "worker/task/attempt_context.h"
#include "worker/task/counters.h"
#include "worker/task/file_writer.h"
#include "worker/task/key_partitioner.h"
#include "worker/task/key_sampler.h"
#include "worker/task/line_emitter.h"
#include "worker/task/mapper.h"
#include "worker/task/task_factory.h"

namespace ampmr::worker {
namespace {

// Part files are written once, sequentially: a big buffer means few writes.
constexpr size_t kPartFileBufferSize = size_t{4} << 20;

bool IsCancelled(const std::atomic<bool>* cancelled) {
  return cancelled != nullptr && cancelled->load(std::memory_order_relaxed);
}

// Lines in a chunk of whole lines; the split's last line may lack its '\n'.
int64_t CountLines(absl::string_view chunk) {
  int64_t n = std::count(chunk.begin(), chunk.end(), '\n');
  if (!chunk.empty() && chunk.back() != '\n') ++n;
  return n;
}

absl::Status MakeDirectory(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::ErrnoToStatus(ec.value(), absl::StrCat("create directory ", dir));
  }
  return absl::OkStatus();
}

absl::StatusOr<TaskSpec> CombinerSpec(const v1::TaskContext& task) {
  if (task.combiner().empty()) return TaskSpec();
  return ParseTaskSpec(TaskRole::kCombiner, task.combiner());
}

// Feeds the split to the mapper chunk by chunk; counts input records. `Out`
// is an Emitter with a sticky status(): the map output collector, or the
// part file of a map-only job.
template <typename Out>
absl::Status MapSplit(const MapTaskOptions& options, ProgressClock* progress, Mapper* mapper,
                      Out* collector, int64_t* input_records) {
  const v1::RunMap& run = options.run;
  const v1::Split& split = run.split();
  AMPMR_ASSIGN_OR_RETURN(
      auto reader,
      options.input_files != nullptr
          ? SplitReader::Open(options.input_files, run.task().job_id(), split.path(), split.start(),
                              split.length(), options.read_block_size)
          : SplitReader::Open(split.path(), split.start(), split.length(),
                              options.read_block_size));
  MapInput input;
  input.path = split.path();
  input.start = split.start();
  input.length = split.length();
  // A sampling task maps only the whole lines in its first sample_bytes.
  const int64_t limit = run.sample_bytes() > 0 ? run.sample_bytes() : INT64_MAX;
  int64_t taken = 0;
  while (taken < limit) {
    if (IsCancelled(options.cancelled)) return absl::CancelledError("cancelled");
    AMPMR_RETURN_IF_ERROR(reader->Next(&input.data, &input.offset));
    if (input.data.empty()) break;
    if (limit - taken < static_cast<int64_t>(input.data.size())) {
      size_t nl = input.data.rfind('\n', static_cast<size_t>(limit - taken));
      input.data = input.data.substr(0, nl == absl::string_view::npos ? 0 : nl + 1);
      taken = limit;
      if (input.data.empty()) break;
    } else {
      taken += static_cast<int64_t>(input.data.size());
    }
    *input_records += CountLines(input.data);
    absl::Status s = mapper->Map(input, collector);
    // An exec mapper stops itself when it stalls; in-process code cannot be
    // interrupted, so a call that stalled past the timeout fails on return.
    if (s.ok() && progress->Stalled()) s = progress->StallError();
    if (!s.ok()) {
      return Annotate(s, absl::StrCat("mapper ", run.task().mapper(), " on ", split.path()));
    }
    progress->Touch();
    AMPMR_RETURN_IF_ERROR(collector->status());
  }
  absl::Status s = mapper->Finish(collector);
  if (!s.ok()) return Annotate(s, absl::StrCat("mapper ", run.task().mapper()));
  return collector->status();
}

void SetInputCounters(const MapTaskOptions& options, int64_t input_records,
                      v1::FrameworkCounters* counters) {
  counters->set_map_input_records(input_records);
  counters->set_map_input_bytes(options.run.split().length());
}

// A map-only job (reducer "none"): the mapper's pairs go straight, in map
// order, to the part file <output_dir>/part-NNNNN (NNNNN: the map index) as
// key<TAB>value lines. No partitioning, sorting or combiner, as in Hadoop.
absl::StatusOr<v1::MapDone> RunMapOnly(const MapTaskOptions& options, ProgressClock* progress,
                                       Mapper* mapper) {
  const v1::TaskContext& task = options.run.task();
  AMPMR_RETURN_IF_ERROR(MakeDirectory(options.run.output_dir()));
  const Codec codec = CodecOfOutputName(task.compress_output());
  const std::string path = absl::StrFormat("%s/part-%05d%s", options.run.output_dir(),
                                           task.partition(), CodecSuffix(codec));
  AMPMR_ASSIGN_OR_RETURN(auto file, FileWriter::Create(path, kPartFileBufferSize, codec));
  absl::Cleanup remove_output = [&path] { ::unlink(path.c_str()); };
  Counters counters;
  LineEmitter out(file.get(), &counters);
  int64_t input_records = 0;
  AMPMR_RETURN_IF_ERROR(MapSplit(options, progress, mapper, &out, &input_records));
  AMPMR_RETURN_IF_ERROR(file->Close());
  std::move(remove_output).Cancel();

  v1::MapDone done;
  done.set_attempt_id(task.attempt_id());
  done.set_output_path(path);
  SetInputCounters(options, input_records, done.mutable_framework_counters());
  done.mutable_framework_counters()->set_map_output_records(out.lines());
  done.mutable_counters()->insert(counters.begin(), counters.end());
  return done;
}

// A --total-order sampling task: the keys the mapper emits over the first
// sample_bytes of the split, for the master to cut the key range with.
absl::StatusOr<v1::MapDone> RunSample(const MapTaskOptions& options, ProgressClock* progress,
                                      Mapper* mapper, const KeySpec& keys) {
  KeySampler sampler(keys);
  int64_t input_records = 0;
  AMPMR_RETURN_IF_ERROR(MapSplit(options, progress, mapper, &sampler, &input_records));
  v1::MapDone done;
  done.set_attempt_id(options.run.task().attempt_id());
  for (std::string& key : sampler.keys()) done.add_sample_keys(std::move(key));
  return done;
}

absl::StatusOr<v1::MapDone> RunMap(const MapTaskOptions& options) {
  // Phases: check the request and make the mapper and collector; map the
  // split; finish the output file; report.
  const v1::TaskContext& task = options.run.task();
  const std::string& attempt = task.attempt_id();
  if (attempt.empty() || absl::StrContains(attempt, '/')) {
    return absl::InvalidArgumentError(absl::StrCat("bad attempt id \"", attempt, "\""));
  }
  AMPMR_ASSIGN_OR_RETURN(TaskSpec mapper_spec, ParseTaskSpec(TaskRole::kMapper, task.mapper()));
  AMPMR_ASSIGN_OR_RETURN(KeySpec keys, TaskKeySpec(task));
  AttemptContext context = AttemptContext::ForMap(options.run, options.cancelled, options.progress);
  context.keys = keys;
  context.working_dir = options.working_dir;
  context.stderr_log = options.stderr_log;
  context.run_as = options.run_as;
  AMPMR_ASSIGN_OR_RETURN(std::unique_ptr<Mapper> mapper, MakeMapper(mapper_spec, context));
  if (options.run.sample_bytes() > 0) {
    return RunSample(options, context.progress.get(), mapper.get(), keys);
  }
  if (!options.run.output_dir().empty()) {
    return RunMapOnly(options, context.progress.get(), mapper.get());
  }
  if (task.reduces() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("reduces must be at least 1, got ", task.reduces()));
  }
  AMPMR_ASSIGN_OR_RETURN(TaskSpec combiner_spec, CombinerSpec(task));
  const std::string prefix = absl::StrCat(options.work_dir, "/", attempt);

  MapOutputOptions output_options;
  output_options.partitions = task.reduces();
  output_options.keys = keys;
  if (task.cut_points_size() > 0) {
    if (task.cut_points_size() != task.reduces() - 1) {
      return absl::InvalidArgumentError(absl::StrCat("want ", task.reduces() - 1,
                                                     " cut points, got ", task.cut_points_size()));
    }
    output_options.cut_points.assign(task.cut_points().begin(), task.cut_points().end());
  }
  output_options.combiner = std::move(combiner_spec);
  output_options.combiner_context = context;
  output_options.buffer_limit = options.buffer_limit;
  output_options.spill_prefix = prefix;
  output_options.cancelled = options.cancelled;
  AMPMR_ASSIGN_OR_RETURN(auto collector, MapOutputCollector::Create(std::move(output_options)));

  int64_t input_records = 0;
  AMPMR_RETURN_IF_ERROR(
      MapSplit(options, context.progress.get(), mapper.get(), collector.get(), &input_records));
  const std::string output_path = prefix + ".out";
  AMPMR_ASSIGN_OR_RETURN(std::vector<PartitionExtent> extents, collector->Finish(output_path));

  v1::MapDone done;
  done.set_attempt_id(attempt);
  bool empty = true;
  for (const PartitionExtent& e : extents) empty = empty && e.length == 0;
  if (!empty) done.set_output_path(output_path);  // no output, no file
  for (const PartitionExtent& e : extents) {
    v1::PartitionInfo* info = done.add_partitions();
    info->set_offset(static_cast<int64_t>(e.offset));
    info->set_length(static_cast<int64_t>(e.length));
    info->set_records(static_cast<int64_t>(e.records));
  }
  SetInputCounters(options, input_records, done.mutable_framework_counters());
  Counters user_counters;
  collector->AddCountersTo(done.mutable_framework_counters(), &user_counters);
  done.mutable_counters()->insert(user_counters.begin(), user_counters.end());
  return done;
}

}  // namespace

absl::StatusOr<v1::MapDone> RunMapTask(const MapTaskOptions& options) {
  absl::StatusOr<v1::MapDone> done = RunMap(options);
  if (!done.ok()) {
    return Annotate(done.status(), absl::StrCat("attempt=", options.run.task().attempt_id()));
  }
  return done;
}

}  // namespace ampmr::worker
