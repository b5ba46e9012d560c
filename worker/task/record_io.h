// The record format of spill runs and map outputs. A run is key groups back
// to back: one key, then the values of that key's records that follow one
// another in the run, then a zero byte:
//   group = varint64 key length | key bytes | value... | 0x00
//   value = varint64 (value length + 1) | value bytes
// with LEB128 varints (7 bits a byte, low bits first). A group has at least
// one value. A key's records may be split over several groups in a row (a
// writer need not merge them); readers see the same records either way. A
// map output file is R runs (one per partition) concatenated, each a whole
// number of groups.
//
// Keys repeat in sorted runs (word count: 785K records, 22K keys per 4 MiB
// split), so a key is written, shuffled and merged once per group rather
// than once per record, and a value of one byte takes two.
//
// RecordWriter appends records to a new file through FileWriter's buffer.
// RecordReader walks records of an in-memory byte range (a mapped file range)
// and reports corrupt or truncated input as DATA_LOSS naming the file and the
// offset of the bad group or value; it never reads outside its range.
//
// Neither is thread-safe; each has one owner.
#ifndef AMPMR_WORKER_TASK_RECORD_IO_H_
#define AMPMR_WORKER_TASK_RECORD_IO_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "worker/task/copy_bytes.h"
#include "worker/task/file_writer.h"

namespace ampmr::worker {

// The number of the format above, bumped whenever it changes: a reducer and
// the holder of a map output check that they agree (ShuffleService), so that
// workers of builds that write different formats refuse each other's map
// outputs instead of misreading them.
inline constexpr uint32_t kRecordFormat = 2;
// The one line for a holder and a reducer that disagree on it.
std::string RecordFormatMismatch(uint32_t holder_format, uint32_t reader_format);

constexpr size_t kMaxVarint64Length = 10;

// Writes v at dst (which must have kMaxVarint64Length bytes); returns the end.
inline char* EncodeVarint64(char* dst, uint64_t v) {
  auto* p = reinterpret_cast<unsigned char*>(dst);
  while (v >= 0x80) {
    *p++ = static_cast<unsigned char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<unsigned char>(v);
  return reinterpret_cast<char*>(p);
}

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

inline size_t VarintLength(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// The most bytes EncodeValue writes for `value`.
inline size_t MaxEncodedValueSize(absl::string_view value) {
  return kMaxVarint64Length + value.size();
}

// The bytes EncodeValue writes for `value`.
inline size_t EncodedValueSize(absl::string_view value) {
  return VarintLength(uint64_t{value.size()} + 1) + value.size();
}

// Writes one value of a group at dst (which must have
// MaxEncodedValueSize(value) bytes); returns the end.
inline char* EncodeValue(char* dst, absl::string_view value) {
  return CopyBytes(EncodeVarint64(dst, uint64_t{value.size()} + 1), value);
}

// Appends one group: `key` and its values. REQUIRES: values not empty.
void AppendGroup(std::string* dst, absl::string_view key,
                 const std::vector<absl::string_view>& values);

class RecordWriter {
 public:
  // Creates (or truncates) `path`; its parent directory must exist.
  static absl::StatusOr<std::unique_ptr<RecordWriter>> Create(
      std::string path, size_t buffer_size = FileWriter::kDefaultBufferSize);

  // Appends a record: to the open group if `key` is its key (one started by
  // Add), else in a new group.
  absl::Status Add(absl::string_view key, absl::string_view value) {
    if (!group_open_ || !group_key_known_ || key != group_key_) {
      absl::Status s = StartGroup(key);
      if (!s.ok()) return s;
      group_key_.assign(key.data(), key.size());
      group_key_known_ = true;
    }
    if (char* p = file_->Room(MaxEncodedValueSize(value))) {
      file_->Commit(static_cast<size_t>(EncodeValue(p, value) - p));
      return absl::OkStatus();
    }
    char header[kMaxVarint64Length];
    absl::Status s = file_->Append(
        absl::string_view(header, EncodeVarint64(header, uint64_t{value.size()} + 1) - header));
    return s.ok() ? file_->Append(value) : s;
  }

  // Ends the open group, if any, and opens one for `key`, whose values
  // follow by AddEncodedValues (at least one value before the group ends).
  absl::Status StartGroup(absl::string_view key);
  // Appends values already encoded (EncodeValue) to the open group.
  absl::Status AddEncodedValues(absl::string_view values) { return file_->Append(values); }
  // Ends the open group, if any.
  absl::Status EndGroup() {
    if (!group_open_) return absl::OkStatus();
    group_open_ = false;
    return file_->Append(absl::string_view("\0", 1));
  }

  // Ends the open group, flushes and closes. REQUIRES: not closed yet.
  absl::Status Close();

  // Bytes written so far (an open group's end not counted): after EndGroup,
  // the offset the next group will start at.
  uint64_t offset() const { return file_->size(); }
  const std::string& path() const { return file_->path(); }

 private:
  explicit RecordWriter(std::unique_ptr<FileWriter> file) : file_(std::move(file)) {}

  std::unique_ptr<FileWriter> file_;
  bool group_open_ = false;
  bool group_key_known_ = false;  // group_key_ is the open group's key
  std::string group_key_;
};

class RecordReader {
 public:
  // Reads the records in `data`. `name` (a path) and `base_offset` (the file
  // offset of data[0]) only serve error messages.
  RecordReader(absl::string_view data, absl::string_view name, uint64_t base_offset = 0);

  // Sets the views to the next record and returns true; they point into
  // `data`, and a group's records share one key view. Returns false at the
  // end of the data or on corruption; then status() says which.
  bool Next(absl::string_view* key, absl::string_view* value) {
    if (in_group_ && pos_ < limit_) {
      // The common case: a value under 127 bytes continuing the group.
      const auto n = static_cast<unsigned char>(*pos_);
      if (n != 0 && n < 0x80 && static_cast<size_t>(limit_ - pos_) >= n) {
        *key = key_;
        *value = absl::string_view(pos_ + 1, n - 1);
        pos_ += n;
        new_group_ = false;
        return true;
      }
    }
    return NextSlow(key, value);
  }

  const absl::Status& status() const { return status_; }

  // Whether the record Next last returned starts a group: false means it
  // has the key of the one before it.
  bool new_group() const { return new_group_; }

 private:
  bool NextSlow(absl::string_view* key, absl::string_view* value);
  // Reads one value at pos_ into *value; false (and corrupt) if there is
  // none or it overruns; *end is set when it is the group's end instead.
  bool ReadValue(absl::string_view* value, bool* end);
  bool Corrupt(const char* at, absl::string_view why);

  const char* base_;
  const char* pos_;
  const char* limit_;
  absl::string_view key_;  // the open group's
  bool in_group_ = false;
  bool new_group_ = false;
  std::string name_;
  uint64_t base_offset_;
  absl::Status status_;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_RECORD_IO_H_
