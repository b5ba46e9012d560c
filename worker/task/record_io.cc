#include "worker/task/record_io.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace ampmr::worker {

std::string RecordFormatMismatch(uint32_t holder_format, uint32_t reader_format) {
  return absl::StrCat("map output record format mismatch: the holder writes format ",
                      holder_format, ", the reducer reads format ", reader_format,
                      " (0: an ampmr build from before formats were numbered); run one ampmr "
                      "version on every worker");
}
void AppendGroup(std::string* dst, absl::string_view key,
                 const std::vector<absl::string_view>& values) {
  char buf[kMaxVarint64Length];
  dst->append(buf, EncodeVarint64(buf, key.size()) - buf);
  dst->append(key.data(), key.size());
  for (absl::string_view v : values) {
    dst->append(buf, EncodeVarint64(buf, uint64_t{v.size()} + 1) - buf);
    dst->append(v.data(), v.size());
  }
  dst->push_back('\0');
}

absl::StatusOr<std::unique_ptr<RecordWriter>> RecordWriter::Create(std::string path,
                                                                   size_t buffer_size) {
  auto file = FileWriter::Create(std::move(path), buffer_size);
  if (!file.ok()) return file.status();
  return std::unique_ptr<RecordWriter>(new RecordWriter(std::move(file).value()));
}

absl::Status RecordWriter::StartGroup(absl::string_view key) {
  absl::Status s = EndGroup();
  if (!s.ok()) return s;
  group_open_ = true;
  group_key_known_ = false;
  if (char* p = file_->Room(kMaxVarint64Length + key.size())) {
    file_->Commit(static_cast<size_t>(CopyBytes(EncodeVarint64(p, key.size()), key) - p));
    return absl::OkStatus();
  }
  char header[kMaxVarint64Length];
  s = file_->Append(absl::string_view(header, EncodeVarint64(header, key.size()) - header));
  return s.ok() ? file_->Append(key) : s;
}

absl::Status RecordWriter::Close() {
  absl::Status s = EndGroup();
  absl::Status closed = file_->Close();
  return s.ok() ? closed : s;
}

RecordReader::RecordReader(absl::string_view data, absl::string_view name, uint64_t base_offset)
    : base_(data.data()),
      pos_(data.data()),
      limit_(data.data() + data.size()),
      name_(name),
      base_offset_(base_offset) {}

bool RecordReader::ReadValue(absl::string_view* value, bool* end) {
  const char* at = pos_;
  const char* p = pos_;
  uint64_t n;
  if (p == limit_) return Corrupt(at, "group not ended");
  if (!DecodeVarint64(&p, limit_, &n)) return Corrupt(at, "bad value length");
  *end = n == 0;
  if (n == 0) {
    pos_ = p;
    return true;
  }
  const uint64_t size = n - 1;
  const uint64_t left = static_cast<uint64_t>(limit_ - p);
  if (size > left) {
    return Corrupt(
        at, absl::StrCat("value of ", size, " bytes overruns the end (", left, " bytes left)"));
  }
  *value = absl::string_view(p, size);
  pos_ = p + size;
  return true;
}

bool RecordReader::NextSlow(absl::string_view* key, absl::string_view* value) {
  if (!status_.ok()) return false;
  bool end = false;
  if (in_group_) {
    if (!ReadValue(value, &end)) return false;
    if (!end) {
      *key = key_;
      new_group_ = false;
      return true;
    }
    in_group_ = false;
  }
  if (pos_ == limit_) return false;
  const char* group = pos_;
  const char* p = pos_;
  uint64_t key_size;
  if (!DecodeVarint64(&p, limit_, &key_size)) return Corrupt(group, "bad key length");
  const uint64_t left = static_cast<uint64_t>(limit_ - p);
  if (key_size > left) {
    return Corrupt(group, absl::StrCat("key of ", key_size, " bytes overruns the end (", left,
                                       " bytes left)"));
  }
  key_ = absl::string_view(p, key_size);
  pos_ = p + key_size;
  if (!ReadValue(value, &end)) return false;
  if (end) return Corrupt(group, "group with no values");
  *key = key_;
  in_group_ = true;
  new_group_ = true;
  return true;
}

bool RecordReader::Corrupt(const char* at, absl::string_view why) {
  status_ = absl::DataLossError(absl::StrCat("corrupt record in ", name_, " at offset ",
                                             base_offset_ + (at - base_), ": ", why));
  pos_ = limit_;
  in_group_ = false;
  return false;
}

}  // namespace ampmr::worker
