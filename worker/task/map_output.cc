#include "worker/task/map_output.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "worker/task/builtins.h"
#include "worker/task/line_scan.h"
#include "worker/task/mapped_range.h"
#include "worker/task/stable_hash.h"
#include "worker/task/task_factory.h"

namespace ampmr::worker {
namespace {

absl::Status CancelledError() { return absl::CancelledError("cancelled"); }

std::string SpecText(const TaskSpec& spec) {
  switch (spec.kind) {
    case TaskSpec::Kind::kBuiltin:
      return absl::StrCat("builtin:", spec.arg);
    case TaskSpec::Kind::kExec:
      return absl::StrCat("exec:", spec.arg);
    case TaskSpec::Kind::kPlugin:
      return absl::StrCat("plugin:", spec.arg);
    case TaskSpec::Kind::kNone:
      break;
  }
  return "none";
}

// Collects a combiner's output into a SortBuffer of one partition, to be
// sorted before it is written; its lines split as the mapper's are; user
// counters go to the collector's.
class SortingEmitter final : public Emitter {
 public:
  SortingEmitter(SortBuffer* buffer, const KeySpec* keys, Counters* user_counters)
      : buffer_(buffer), keys_(keys), user_counters_(user_counters) {}

  void EmitLine(absl::string_view line) override {
    absl::string_view key;
    absl::string_view value;
    SplitMapOutputLine(*keys_, line, &key, &value);
    Emit(key, value);
  }

  void Emit(absl::string_view key, absl::string_view value) override {
    if (!status_.ok()) return;
    if (key.size() > SortBuffer::kMaxFieldSize || value.size() > SortBuffer::kMaxFieldSize) {
      status_ = absl::InvalidArgumentError(absl::StrCat("combiner output pair too large: key ",
                                                        key.size(), " bytes, value ", value.size(),
                                                        " bytes"));
      return;
    }
    buffer_->Add(key, value, [](absl::string_view) { return 0; });
  }
  void IncrementCounter(absl::string_view name, int64_t amount) override {
    AddCounter(user_counters_, name, amount);
  }
  const absl::Status& status() const { return status_; }

 private:
  SortBuffer* const buffer_;
  const KeySpec* const keys_;
  Counters* const user_counters_;
  absl::Status status_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<MapOutputCollector>> MapOutputCollector::Create(
    MapOutputOptions options) {
  if (options.partitions < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("map output: want at least 1 partition, got ", options.partitions));
  }
  std::unique_ptr<Reducer> combiner;
  if (options.combiner.kind != TaskSpec::Kind::kNone) {
    auto made = MakeCombiner(options.combiner, options.combiner_context);
    if (!made.ok()) return Annotate(made.status(), "combiner");
    combiner = std::move(made).value();
  }
  return std::unique_ptr<MapOutputCollector>(
      new MapOutputCollector(std::move(options), std::move(combiner)));
}

MapOutputCollector::MapOutputCollector(MapOutputOptions options, std::unique_ptr<Reducer> combiner)
    : options_(std::move(options)),
      order_(options_.keys),
      partitioner_(options_.partitions, &order_, options_.cut_points),
      combiner_(std::move(combiner)),
      combine_merges_(IsBuiltinSum(options_.combiner)),
      resort_combined_(combiner_ != nullptr && options_.combiner.kind != TaskSpec::Kind::kBuiltin),
      sums_(IsBuiltinSum(options_.combiner) ? std::make_unique<SumTable>() : nullptr),
      buffer_(sums_ ? nullptr : std::make_unique<SortBuffer>(options_.partitions)),
      combined_(resort_combined_ ? std::make_unique<SortBuffer>(1) : nullptr) {}

MapOutputCollector::~MapOutputCollector() { RemoveFiles(); }

void MapOutputCollector::RemoveFiles() {
  if (!unfinished_path_.empty()) ::unlink(unfinished_path_.c_str());
  unfinished_path_.clear();
  for (const Run& run : runs_) ::unlink(run.path.c_str());
  runs_.clear();
}

void MapOutputCollector::Emit(absl::string_view key, absl::string_view value) {
  ++output_records_;
  if (!status_.ok()) return;
  if (sums_ != nullptr) {
    EmitToSums(key, value);
    return;
  }
  if (key.size() > SortBuffer::kMaxFieldSize || value.size() > SortBuffer::kMaxFieldSize) {
    status_ = absl::InvalidArgumentError(absl::StrCat("map output pair too large: key ", key.size(),
                                                      " bytes, value ", value.size(), " bytes"));
    return;
  }
  buffer_->Add(key, value, [this](absl::string_view k) { return partitioner_.Of(k); });
  if (buffer_->memory_usage() > options_.buffer_limit) status_ = Spill();
}

void MapOutputCollector::EmitLine(absl::string_view line) {
  absl::string_view key;
  absl::string_view value;
  SplitMapOutputLine(options_.keys, line, &key, &value);
  Emit(key, value);
}

void MapOutputCollector::EmitLines(absl::string_view lines) {
  if (buffer_ == nullptr) {
    Emitter::EmitLines(lines);
    return;
  }
  constexpr int kBatch = SortBuffer::kMaxBatch;
  absl::string_view keys[kBatch];
  absl::string_view values[kBatch];
  int n = 0;
  bool too_large = false;
  const char* const end = lines.data() + lines.size();
  const auto partition_of = [this](absl::string_view k) { return partitioner_.Of(k); };
  const auto add_batch = [&] {
    if (too_large) {  // a line over 4 GiB: let Emit say which
      for (int i = 0; i < n; ++i) Emit(keys[i], values[i]);
    } else {
      output_records_ += n;
      if (status_.ok()) {
        buffer_->AddBatch(keys, values, n, partition_of, end);
        if (buffer_->memory_usage() > options_.buffer_limit) status_ = Spill();
      }
    }
    n = 0;
    too_large = false;
  };
  if (options_.keys.key_fields == 1) {
    // The key ends at the line's first separator: both found in one scan.
    ForEachLine(lines.data(), end, options_.keys.separator,
                [&](const char* line, const char* separator, const char* line_end) {
                  too_large |= static_cast<size_t>(line_end - line) > SortBuffer::kMaxFieldSize;
                  if (separator == nullptr) {
                    keys[n] = absl::string_view(line, static_cast<size_t>(line_end - line));
                    values[n] = absl::string_view();
                  } else {
                    keys[n] = absl::string_view(line, static_cast<size_t>(separator - line));
                    values[n] = absl::string_view(separator + 1,
                                                  static_cast<size_t>(line_end - separator - 1));
                  }
                  if (++n == kBatch) add_batch();
                });
  } else {
    for (const char* p = lines.data(); p < end;) {
      const char* nl = FindByte(p, end, '\n');
      if (nl == nullptr) nl = end;
      const auto size = static_cast<size_t>(nl - p);
      too_large |= size > SortBuffer::kMaxFieldSize;
      SplitMapOutputLine(options_.keys, absl::string_view(p, size), &keys[n], &values[n]);
      p = nl + 1;
      if (++n == kBatch) add_batch();
    }
  }
  if (n > 0) add_batch();
}

void MapOutputCollector::EmitToSums(absl::string_view key, absl::string_view value) {
  ++combine_input_records_;
  int64_t x;
  if (value.size() == 1 && value[0] >= '0' && value[0] <= '9') {
    x = value[0] - '0';  // word count's "1", without a general parse
  } else {
    status_ = ParseSumValue(key, value, &x);
    if (!status_.ok()) return;
  }
  status_ = sums_->Add(key, x);
  if (status_.ok() && sums_->memory_usage() > options_.buffer_limit) status_ = Spill();
}

void MapOutputCollector::IncrementCounter(absl::string_view name, int64_t amount) {
  AddCounter(&user_counters_, name, amount);
}

bool MapOutputCollector::Cancelled() const {
  return options_.cancelled != nullptr && options_.cancelled->load(std::memory_order_relaxed);
}

bool MapOutputCollector::HasBuffered() const {
  return sums_ != nullptr ? sums_->keys() > 0 : buffer_->pairs() > 0;
}

absl::StatusOr<std::unique_ptr<RunWriter>> MapOutputCollector::CreateRun(const std::string& path) {
  if (!made_dir_) {
    // Made by the first file, so an attempt that writes none costs no syscall.
    const size_t slash = options_.spill_prefix.rfind('/');
    if (slash != std::string::npos && slash > 0) {
      const std::string dir = options_.spill_prefix.substr(0, slash);
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      if (ec) return absl::ErrnoToStatus(ec.value(), absl::StrCat("create directory ", dir));
    }
    made_dir_ = true;
  }
  return RunWriter::Create(path, options_.partitions, &user_counters_);
}

absl::Status MapOutputCollector::Spill() {
  if (Cancelled()) return CancelledError();
  Run& run = runs_.emplace_back();
  run.path = absl::StrCat(options_.spill_prefix, ".spill-", runs_.size() - 1);
  AMPMR_ASSIGN_OR_RETURN(auto writer, CreateRun(run.path));
  AMPMR_RETURN_IF_ERROR(WriteBuffered(writer.get()));
  AMPMR_ASSIGN_OR_RETURN(run.extents, writer->Finish());
  run.size = writer->bytes();
  spilled_bytes_ += static_cast<int64_t>(run.size);
  return absl::OkStatus();
}

absl::Status MapOutputCollector::WriteBuffered(RunWriter* out) {
  if (sums_ != nullptr) return WriteSums(out);
  buffer_->Sort(&order_);
  for (int p = 0; p < options_.partitions; ++p) {
    if (Cancelled()) return CancelledError();
    if (p > 0) out->StartPartition(p);
    if (combiner_ != nullptr) {
      std::unique_ptr<SortBuffer::Partition> pairs = buffer_->Sorted(p);
      combine_input_records_ += static_cast<int64_t>(pairs->size());
      AMPMR_RETURN_IF_ERROR(Combine(pairs.get(), out));
      combine_output_records_ += static_cast<int64_t>(out->records(p));
    } else {
      buffer_->WriteSorted(p, out);
    }
    AMPMR_RETURN_IF_ERROR(out->status());
  }
  buffer_->Clear();
  return absl::OkStatus();
}

absl::Status MapOutputCollector::Combine(SortedPairs* in, RunWriter* out) {
  if (!resort_combined_) {
    return Annotate(combiner_->Reduce(in, out), "combiner " + SpecText(options_.combiner));
  }
  SortingEmitter sorting(combined_.get(), &options_.keys, &user_counters_);
  AMPMR_RETURN_IF_ERROR(
      Annotate(combiner_->Reduce(in, &sorting), "combiner " + SpecText(options_.combiner)));
  AMPMR_RETURN_IF_ERROR(sorting.status());
  combined_->Sort(&order_);
  combined_->WriteSorted(0, out);
  combined_->Clear();
  return absl::OkStatus();
}

absl::Status MapOutputCollector::WriteSums(RunWriter* out) {
  const auto partitions = sums_->SortedByPartition(partitioner_, order_);
  for (int p = 0; p < options_.partitions; ++p) {
    if (Cancelled()) return CancelledError();
    if (p > 0) out->StartPartition(p);
    for (const SumTable::Entry* e : partitions[p]) {
      char buf[24];
      char* end = std::to_chars(buf, buf + sizeof(buf), e->second).ptr;
      out->Emit(e->first, absl::string_view(buf, end - buf));
    }
    AMPMR_RETURN_IF_ERROR(out->status());
  }
  combine_output_records_ += static_cast<int64_t>(sums_->keys());
  sums_->Clear();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<PartitionExtent>> MapOutputCollector::Finish(const std::string& path) {
  // Phases: (1) if nothing was spilled, write the buffer as the output run
  // itself; else spill the rest and merge all runs; (2) rename into place;
  // (3) drop the spill runs.
  AMPMR_RETURN_IF_ERROR(status_);
  if (Cancelled()) return CancelledError();
  if (runs_.empty() && !HasBuffered()) {
    // No output at all: no file (creating one per tiny task is costly).
    return std::vector<PartitionExtent>(options_.partitions);
  }
  const std::string tmp = path + ".tmp";
  std::vector<PartitionExtent> extents;
  if (runs_.empty()) {
    unfinished_path_ = tmp;
    AMPMR_ASSIGN_OR_RETURN(auto writer, CreateRun(tmp));
    AMPMR_RETURN_IF_ERROR(WriteBuffered(writer.get()));
    AMPMR_ASSIGN_OR_RETURN(extents, writer->Finish());
    spilled_bytes_ += static_cast<int64_t>(writer->bytes());
  } else {
    if (HasBuffered()) AMPMR_RETURN_IF_ERROR(Spill());
    unfinished_path_ = tmp;
    AMPMR_ASSIGN_OR_RETURN(extents, MergeRuns(tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("rename ", tmp, " to ", path));
  }
  unfinished_path_.clear();
  RemoveFiles();
  return extents;
}

absl::StatusOr<std::vector<PartitionExtent>> MapOutputCollector::MergeRuns(
    const std::string& path) {
  std::vector<std::unique_ptr<MappedRange>> maps;
  for (const Run& run : runs_) {
    AMPMR_ASSIGN_OR_RETURN(maps.emplace_back(), MappedRange::Open(run.path, 0, run.size));
  }
  AMPMR_ASSIGN_OR_RETURN(auto writer, CreateRun(path));
  for (int p = 0; p < options_.partitions; ++p) {
    if (Cancelled()) return CancelledError();
    if (p > 0) writer->StartPartition(p);
    std::vector<RunInput> inputs;
    uint64_t records = 0;
    for (size_t i = 0; i < runs_.size(); ++i) {
      const PartitionExtent& e = runs_[i].extents[p];
      if (e.length == 0) continue;
      inputs.push_back({maps[i]->data().substr(e.offset, e.length), runs_[i].path, e.offset});
      records += e.records;
    }
    AMPMR_RETURN_IF_ERROR(MergePartition(p, inputs, records, writer.get()));
  }
  AMPMR_ASSIGN_OR_RETURN(auto extents, writer->Finish());
  spilled_bytes_ += static_cast<int64_t>(writer->bytes());
  return extents;
}

absl::Status MapOutputCollector::MergePartition(int partition, const std::vector<RunInput>& inputs,
                                                uint64_t records, RunWriter* out) {
  MergingPairs merged(inputs, &order_);
  if (combine_merges_) {
    combine_input_records_ += static_cast<int64_t>(records);
    AMPMR_RETURN_IF_ERROR(combiner_->Reduce(&merged, out));
    combine_output_records_ += static_cast<int64_t>(out->records(partition));
  } else {
    absl::string_view k;
    absl::string_view v;
    while (merged.Next(&k, &v)) out->Emit(k, v);
  }
  AMPMR_RETURN_IF_ERROR(merged.status());
  return out->status();
}

void MapOutputCollector::AddCountersTo(v1::FrameworkCounters* framework, Counters* user) const {
  framework->set_map_output_records(output_records_);
  framework->set_combine_input_records(combine_input_records_);
  framework->set_combine_output_records(combine_output_records_);
  framework->set_spilled_bytes(spilled_bytes_);
  for (const auto& [name, value] : user_counters_) AddCounter(user, name, value);
}

}  // namespace ampmr::worker
