#include "worker/task/run_writer.h"

#include <utility>

#include "common/logging.h"

namespace ampmr::worker {

namespace {

// Large buffers: a spill writes up to the whole buffer limit at once.
constexpr size_t kRunBufferSize = size_t{4} << 20;

}  // namespace

absl::StatusOr<std::unique_ptr<RunWriter>> RunWriter::Create(std::string path, int partitions,
                                                             Counters* user_counters) {
  auto writer = RecordWriter::Create(std::move(path), kRunBufferSize);
  if (!writer.ok()) return writer.status();
  return std::unique_ptr<RunWriter>(
      new RunWriter(std::move(writer).value(), partitions, user_counters));
}

RunWriter::RunWriter(std::unique_ptr<RecordWriter> writer, int partitions, Counters* user_counters)
    : writer_(std::move(writer)), user_counters_(user_counters), extents_(partitions) {}

void RunWriter::StartPartition(int partition) {
  AMPMR_CHECK(partition > current_ && partition < static_cast<int>(extents_.size()))
      << "partition " << partition << " after " << current_;
  if (status_.ok()) status_ = writer_->EndGroup();
  const uint64_t offset = writer_->offset();
  extents_[current_].length = offset - extents_[current_].offset;
  for (int p = current_ + 1; p <= partition; ++p) extents_[p].offset = offset;
  current_ = partition;
}

void RunWriter::Emit(absl::string_view key, absl::string_view value) {
  if (!status_.ok()) return;
  status_ = writer_->Add(key, value);
  ++extents_[current_].records;
}

void RunWriter::IncrementCounter(absl::string_view name, int64_t amount) {
  AddCounter(user_counters_, name, amount);
}

absl::StatusOr<std::vector<PartitionExtent>> RunWriter::Finish() {
  const int last = static_cast<int>(extents_.size()) - 1;
  if (current_ < last) StartPartition(last);
  if (status_.ok()) status_ = writer_->EndGroup();
  extents_[last].length = writer_->offset() - extents_[last].offset;
  if (!status_.ok()) return status_;
  absl::Status s = writer_->Close();
  if (!s.ok()) return s;
  return extents_;
}

}  // namespace ampmr::worker
