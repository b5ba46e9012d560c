// The record format of spill runs and map outputs: each record is
//   varint64 key length | varint64 value length | key bytes | value bytes
// with LEB128 varints (7 bits a byte, low bits first). A run is records back
// to back; a map output file is R runs (one per partition) concatenated.
//
// RecordWriter appends records to a new file through FileWriter's buffer.
// RecordReader walks records of an in-memory byte range (a mapped file range)
// and reports corrupt or truncated input as DATA_LOSS naming the file and the
// offset of the bad record; it never reads outside its range.
//
// Neither is thread-safe; each has one owner.
#ifndef AMPMR_WORKER_TASK_RECORD_IO_H_
#define AMPMR_WORKER_TASK_RECORD_IO_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "worker/task/copy_bytes.h"
#include "worker/task/file_writer.h"

namespace ampmr::worker {

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

inline size_t VarintLength(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Bytes that the record (key, value) takes.
size_t EncodedRecordSize(absl::string_view key, absl::string_view value);

// Appends the encoded record to *dst.
void AppendRecord(std::string* dst, absl::string_view key, absl::string_view value);

class RecordWriter {
 public:
  // Creates (or truncates) `path`; its parent directory must exist.
  static absl::StatusOr<std::unique_ptr<RecordWriter>> Create(
      std::string path, size_t buffer_size = FileWriter::kDefaultBufferSize);

  absl::Status Add(absl::string_view key, absl::string_view value) {
    // Encoded straight into the file's buffer when it has the room.
    if (char* p = file_->Room(2 * kMaxVarint64Length + key.size() + value.size())) {
      char* const start = p;
      p = EncodeVarint64(p, key.size());
      p = EncodeVarint64(p, value.size());
      p = CopyBytes(p, key);
      p = CopyBytes(p, value);
      file_->Commit(static_cast<size_t>(p - start));
      return absl::OkStatus();
    }
    char header[2 * kMaxVarint64Length];
    char* end = EncodeVarint64(header, key.size());
    end = EncodeVarint64(end, value.size());
    absl::Status s = file_->Append(absl::string_view(header, end - header));
    if (s.ok()) s = file_->Append(key);
    if (s.ok()) s = file_->Append(value);
    return s;
  }

  // Appends records already encoded (a slice of a run).
  absl::Status AddEncoded(absl::string_view records) { return file_->Append(records); }

  // Flushes and closes. REQUIRES: not closed yet.
  absl::Status Close() { return file_->Close(); }

  // Bytes written so far: the offset the next record will start at.
  uint64_t offset() const { return file_->size(); }
  const std::string& path() const { return file_->path(); }

 private:
  explicit RecordWriter(std::unique_ptr<FileWriter> file) : file_(std::move(file)) {}
  std::unique_ptr<FileWriter> file_;
};

class RecordReader {
 public:
  // Reads the records in `data`. `name` (a path) and `base_offset` (the file
  // offset of data[0]) only serve error messages.
  RecordReader(absl::string_view data, absl::string_view name, uint64_t base_offset = 0);

  // Sets the views to the next record and returns true; they point into
  // `data`. Returns false at the end of the data or on corruption; then
  // status() says which.
  bool Next(absl::string_view* key, absl::string_view* value);

  const absl::Status& status() const { return status_; }

  // The encoded bytes of the record Next last returned, for copying it
  // without re-encoding.
  absl::string_view record() const { return absl::string_view(record_, pos_ - record_); }

 private:
  bool Corrupt(const char* record, absl::string_view why);

  const char* base_;
  const char* pos_;
  const char* limit_;
  const char* record_;  // start of the record Next last returned
  std::string name_;
  uint64_t base_offset_;
  absl::Status status_;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_RECORD_IO_H_
