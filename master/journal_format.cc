#include "master/journal_format.h"

#include <google/protobuf/io/coded_stream.h>

#include <cstdint>

#include "common/framework_counters.h"

namespace ampmr::master {
namespace {

using google::protobuf::io::CodedInputStream;

void AppendVarint(uint32_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

// Appends varint length + the message, serialized in place.
template <typename Message>
void AppendMessage(const Message& message, std::string* out) {
  size_t size = message.ByteSizeLong();
  AppendVarint(static_cast<uint32_t>(size), out);
  size_t at = out->size();
  out->resize(at + size);
  message.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(&(*out)[at]));
}

template <typename Message>
bool ReadMessage(CodedInputStream* in, Message* message) {
  uint32_t size;
  if (!in->ReadVarint32(&size)) return false;
  CodedInputStream::Limit limit = in->PushLimit(static_cast<int>(size));
  bool ok = message->ParseFromCodedStream(in) && in->ConsumedEntireMessage();
  in->PopLimit(limit);
  return ok;
}

}  // namespace

std::string EncodeSplits(const SplitPlan& splits) {
  std::string out;
  v1::Split s;
  for (const SplitRange& range : splits.ranges()) {
    s.set_path(splits.files()[range.file]);
    s.set_start(range.start);
    s.set_length(range.length);
    AppendMessage(s, &out);
  }
  return out;
}

bool DecodeSplits(const void* data, int size, SplitPlan* splits) {
  CodedInputStream in(static_cast<const uint8_t*>(data), size);
  in.SetTotalBytesLimit(INT32_MAX);
  v1::Split s;
  while (!in.ExpectAtEnd()) {
    if (!ReadMessage(&in, &s)) return false;
    splits->Add(s.path(), s.start(), s.length());
  }
  return true;
}

void AppendTaskRecord(bool is_map, int index, const std::string& worker_address,
                      const v1::Answer& answer, std::string* batch) {
  AppendVarint(is_map ? 0 : 1, batch);
  AppendVarint(static_cast<uint32_t>(index), batch);
  AppendVarint(static_cast<uint32_t>(worker_address.size()), batch);
  batch->append(worker_address);
  AppendMessage(answer, batch);
}

bool DecodeTaskRecords(const void* data, int size, std::vector<JournaledTask>* tasks) {
  CodedInputStream in(static_cast<const uint8_t*>(data), size);
  in.SetTotalBytesLimit(INT32_MAX);
  while (!in.ExpectAtEnd()) {
    JournaledTask task;
    uint32_t kind, index, length;
    if (!in.ReadVarint32(&kind) || kind > 1 || !in.ReadVarint32(&index) ||
        !in.ReadVarint32(&length) || !in.ReadString(&task.worker_address, length) ||
        !ReadMessage(&in, &task.result)) {
      return false;
    }
    task.is_map = kind == 0;
    task.index = static_cast<int>(index);
    if (task.is_map != task.result.has_map_done() || task.is_map == task.result.has_reduce_done()) {
      return false;
    }
    // By name, as a worker that predates framework_counters sent them.
    if (task.is_map) {
      WithNamedFrameworkCounters(task.result.mutable_map_done());
    } else {
      WithNamedFrameworkCounters(task.result.mutable_reduce_done());
    }
    auto* counters = task.is_map ? task.result.mutable_map_done()->mutable_counters()
                                 : task.result.mutable_reduce_done()->mutable_counters();
    task.counters.insert(counters->begin(), counters->end());
    counters->clear();
    task.attempt_id =
        task.is_map ? task.result.map_done().attempt_id() : task.result.reduce_done().attempt_id();
    tasks->push_back(std::move(task));
  }
  return true;
}

}  // namespace ampmr::master
