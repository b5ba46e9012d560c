#include "worker/task/exec_task.h"

#include <cstring>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "worker/task/copy_bytes.h"
#include "worker/task/spare_buffer.h"
#include "worker/task/streaming_process.h"

extern char** environ;

namespace ampmr::worker {
namespace {

// Hadoop 1's environment names, and the mapreduce_* name each copies.
constexpr std::pair<const char*, const char*> kOlderNames[] = {
    {"mapred_job_id", "mapreduce_job_id"},
    {"mapred_tip_id", "mapreduce_task_id"},
    {"mapred_task_id", "mapreduce_task_attempt_id"},
    {"mapred_task_partition", "mapreduce_task_partition"},
    {"mapred_task_is_map", "mapreduce_task_ismap"},
    {"map_input_file", "mapreduce_map_input_file"},
    {"map_input_start", "mapreduce_map_input_start"},
    {"map_input_length", "mapreduce_map_input_length"},
};

// Input for a reducer's stdin is written in blocks of about this size.
constexpr size_t kInputBlock = size_t{1} << 20;

StreamingOptions Options(const std::string& command, const AttemptContext& context) {
  StreamingOptions options;
  options.command = command;
  options.env = StreamingEnvironment(context);
  options.cancelled = context.cancelled;
  options.progress = context.progress;
  options.working_dir = context.working_dir;
  options.stderr_log = context.stderr_log;
  options.run_as = context.run_as;
  return options;
}

class ExecMapper final : public Mapper {
 public:
  ExecMapper(std::string command, const AttemptContext& context)
      : options_(Options(command, context)) {}

  absl::Status Map(const MapInput& input, Emitter* out) override {
    AMPMR_RETURN_IF_ERROR(StartOnce());
    return process_->Write(input.data, out);
  }

  absl::Status Finish(Emitter* out) override {
    AMPMR_RETURN_IF_ERROR(StartOnce());
    return process_->Finish(out);
  }

 private:
  absl::Status StartOnce() {
    if (process_ != nullptr) return absl::OkStatus();
    AMPMR_ASSIGN_OR_RETURN(process_, StreamingProcess::Start(options_));
    return absl::OkStatus();
  }

  const StreamingOptions options_;
  std::unique_ptr<StreamingProcess> process_;
};

class ExecReducer final : public Reducer {
 public:
  // A combiner (a map-side context) gets key SEPARATOR value lines, which
  // split back into the same pair; a reducer gets key TAB value, as Hadoop
  // Streaming writes them.
  ExecReducer(std::string command, const AttemptContext& context)
      : options_(Options(command, context)),
        separator_(context.is_map ? context.keys.separator : '\t') {}

  absl::Status Reduce(SortedPairs* in, Emitter* out) override {
    AMPMR_ASSIGN_OR_RETURN(std::unique_ptr<StreamingProcess> process,
                           StreamingProcess::Start(options_));
    // Lines are formatted into one block, written when the next would not
    // fit; a line longer than the block goes on its own.
    SpareBuffer block(kInputBlock);
    size_t used = 0;
    absl::string_view key;
    absl::string_view value;
    while (in->Next(&key, &value)) {
      const size_t n = key.size() + value.size() + 2;
      if (kInputBlock - used < n) {
        AMPMR_RETURN_IF_ERROR(process->Write(absl::string_view(block.get(), used), out));
        used = 0;
        if (n > kInputBlock) {
          AMPMR_RETURN_IF_ERROR(
              process->Write(absl::StrCat(key, std::string(1, separator_), value, "\n"), out));
          continue;
        }
      }
      char* p = CopyBytes(block.get() + used, key);
      *p++ = separator_;
      p = CopyBytes(p, value);
      *p++ = '\n';
      used = static_cast<size_t>(p - block.get());
    }
    // A broken input stream (cancelled, corrupt) fails the task; the process
    // is killed rather than told its input ended.
    AMPMR_RETURN_IF_ERROR(in->status());
    AMPMR_RETURN_IF_ERROR(process->Write(absl::string_view(block.get(), used), out));
    return process->Finish(out);
  }

 private:
  const StreamingOptions options_;
  const char separator_;
};

}  // namespace

std::vector<std::string> StreamingEnvironment(const AttemptContext& context) {
  std::map<std::string, std::string> set = {
      {"mapreduce_job_id", context.job_id},
      {"mapreduce_task_id", context.task_id},
      {"mapreduce_task_attempt_id", context.attempt_id},
      {"mapreduce_task_partition", absl::StrCat(context.partition)},
      {"mapreduce_task_ismap", context.is_map ? "true" : "false"},
  };
  if (context.is_map) {
    set["mapreduce_map_input_file"] = context.input_file;
    set["mapreduce_map_input_start"] = absl::StrCat(context.input_start);
    set["mapreduce_map_input_length"] = absl::StrCat(context.input_length);
  }
  // The names scripts written for Hadoop 1 still read.
  for (const auto& [old_name, name] : kOlderNames) {
    auto it = set.find(name);
    if (it != set.end()) set[old_name] = it->second;
  }
  for (const auto& [name, value] : context.env) set[name] = value;

  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (eq == nullptr) continue;
    if (set.count(std::string(*e, eq - *e)) > 0) continue;
    env.emplace_back(*e);
  }
  for (const auto& [name, value] : set) env.push_back(absl::StrCat(name, "=", value));
  return env;
}

std::unique_ptr<Mapper> MakeExecMapper(const std::string& command, const AttemptContext& context) {
  return std::make_unique<ExecMapper>(command, context);
}

std::unique_ptr<Reducer> MakeExecReducer(const std::string& command,
                                         const AttemptContext& context) {
  return std::make_unique<ExecReducer>(command, context);
}

}  // namespace ampmr::worker
