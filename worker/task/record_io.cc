#include "worker/task/record_io.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace ampmr::worker {
namespace {

// Decodes a varint from [*p, limit). Returns false if it is truncated or
// longer than a uint64 allows.
inline bool DecodeVarint64(const char** p, const char* limit, uint64_t* v) {
  const auto* q = reinterpret_cast<const unsigned char*>(*p);
  const auto* end = reinterpret_cast<const unsigned char*>(limit);
  if (q < end && *q < 0x80) {  // the common case: lengths under 128
    *v = *q;
    *p += 1;
    return true;
  }
  uint64_t result = 0;
  for (int shift = 0; shift <= 63 && q < end; shift += 7) {
    uint64_t byte = *q++;
    if (shift == 63 && byte > 1) return false;
    result |= (byte & 0x7f) << shift;
    if (byte < 0x80) {
      *v = result;
      *p = reinterpret_cast<const char*>(q);
      return true;
    }
  }
  return false;
}

}  // namespace

size_t EncodedRecordSize(absl::string_view key, absl::string_view value) {
  return VarintLength(key.size()) + VarintLength(value.size()) + key.size() + value.size();
}

void AppendRecord(std::string* dst, absl::string_view key, absl::string_view value) {
  char header[2 * kMaxVarint64Length];
  char* end = EncodeVarint64(header, key.size());
  end = EncodeVarint64(end, value.size());
  dst->append(header, end - header);
  dst->append(key.data(), key.size());
  dst->append(value.data(), value.size());
}

absl::StatusOr<std::unique_ptr<RecordWriter>> RecordWriter::Create(std::string path,
                                                                   size_t buffer_size) {
  auto file = FileWriter::Create(std::move(path), buffer_size);
  if (!file.ok()) return file.status();
  return std::unique_ptr<RecordWriter>(new RecordWriter(std::move(file).value()));
}

RecordReader::RecordReader(absl::string_view data, absl::string_view name, uint64_t base_offset)
    : base_(data.data()),
      pos_(data.data()),
      limit_(data.data() + data.size()),
      record_(data.data()),
      name_(name),
      base_offset_(base_offset) {}

bool RecordReader::Next(absl::string_view* key, absl::string_view* value) {
  if (pos_ == limit_ || !status_.ok()) return false;
  const char* record = pos_;
  const char* p = pos_;
  uint64_t key_size;
  uint64_t value_size;
  if (!DecodeVarint64(&p, limit_, &key_size)) return Corrupt(record, "bad key length");
  if (!DecodeVarint64(&p, limit_, &value_size)) return Corrupt(record, "bad value length");
  const uint64_t left = static_cast<uint64_t>(limit_ - p);
  if (key_size > left || value_size > left - key_size) {
    return Corrupt(record, absl::StrCat("record of ", key_size, "+", value_size,
                                        " bytes overruns the end (", left, " bytes left)"));
  }
  *key = absl::string_view(p, key_size);
  *value = absl::string_view(p + key_size, value_size);
  record_ = record;
  pos_ = p + key_size + value_size;
  return true;
}

bool RecordReader::Corrupt(const char* record, absl::string_view why) {
  status_ = absl::DataLossError(absl::StrCat("corrupt record in ", name_, " at offset ",
                                             base_offset_ + (record - base_), ": ", why));
  pos_ = limit_;
  return false;
}

}  // namespace ampmr::worker
