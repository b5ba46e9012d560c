#include "worker/task/builtins.h"

#include <charconv>
#include <cstring>
#include <string>
#include <string_view>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "worker/task/aggregate.h"

namespace ampmr::worker {
namespace {

using plugin::Output;
using plugin::Status;
using plugin::Values;

absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

Status FromAbsl(const absl::Status& s) {
  return s.ok() ? Status() : Status::Error(std::string(s.message()));
}

// Keys and values in error messages: escaped and cut short.
std::string Quote(absl::string_view s) {
  constexpr size_t kMax = 64;
  std::string out = absl::StrCat("\"", absl::CHexEscape(s.substr(0, kMax)), "\"");
  if (s.size() > kMax) absl::StrAppend(&out, "...");
  return out;
}

class IsLetterTable {
 public:
  constexpr IsLetterTable() : table_() {
    for (int c = 'A'; c <= 'Z'; ++c) table_[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) table_[c] = true;
  }
  bool operator[](unsigned char c) const { return table_[c]; }

 private:
  bool table_[256];
};
constexpr IsLetterTable kIsLetter;

// Scans whole chunks rather than lines: a word never spans a newline.
class WordCountMapper final : public plugin::Mapper {
 public:
  Status Map(std::string_view lines, Output& out) override {
    const auto* p = reinterpret_cast<const unsigned char*>(lines.data());
    const auto* end = p + lines.size();
    while (p < end) {
      while (p < end && !kIsLetter[*p]) ++p;
      const unsigned char* word = p;
      while (p < end && kIsLetter[*p]) ++p;
      if (p != word) {
        out.Emit(std::string_view(reinterpret_cast<const char*>(word), p - word), "1");
      }
    }
    return Status();
  }
};

// Not a plugin: it hands each line to the emitter whole (EmitLine), so the
// line splits into key and value as an exec mapper's would (--key-fields,
// --field-separator; by default at the first tab).
class IdentityMapper final : public Mapper {
 public:
  absl::Status Map(const MapInput& input, Emitter* out) override {
    absl::string_view lines = input.data;
    while (!lines.empty()) {
      size_t nl = lines.find('\n');
      absl::string_view line = lines.substr(0, nl);
      lines.remove_prefix(nl == absl::string_view::npos ? lines.size() : nl + 1);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      out->EmitLine(line);
    }
    return absl::OkStatus();
  }
};

class NoopMapper final : public plugin::Mapper {
 public:
  Status Map(std::string_view, Output&) override { return Status(); }
};

void EmitInt(Output& out, std::string_view key, int64_t n) {
  char buf[24];
  char* end = std::to_chars(buf, buf + sizeof(buf), n).ptr;
  out.Emit(key, std::string_view(buf, end - buf));
}

class SumReducer final : public plugin::Reducer {
 public:
  Status Reduce(std::string_view key, Values& values, Output& out) override {
    int64_t sum = 0;
    std::string_view value;
    while (values.Next(&value)) {
      int64_t x;
      absl::Status s = ParseSumValue(Absl(key), Absl(value), &x);
      if (s.ok()) s = AddToSum(Absl(key), x, &sum);
      if (!s.ok()) return FromAbsl(s);
    }
    EmitInt(out, key, sum);
    return Status();
  }
};

class CountReducer final : public plugin::Reducer {
 public:
  Status Reduce(std::string_view key, Values& values, Output& out) override {
    int64_t count = 0;
    std::string_view value;
    while (values.Next(&value)) ++count;
    EmitInt(out, key, count);
    return Status();
  }
};

class IdentityReducer final : public plugin::Reducer {
 public:
  Status Reduce(std::string_view key, Values& values, Output& out) override {
    std::string_view value;
    while (values.Next(&value)) out.Emit(key, value);
    return Status();
  }
};

}  // namespace

plugin::NewMapperFn BuiltinMapper(absl::string_view name) {
  if (name == "wordcount") return plugin::NewMapper<WordCountMapper>;
  if (name == "noop") return plugin::NewMapper<NoopMapper>;
  return nullptr;
}

std::unique_ptr<Mapper> NativeBuiltinMapper(absl::string_view name) {
  if (name == "identity") return std::make_unique<IdentityMapper>();
  return nullptr;
}

plugin::NewReducerFn BuiltinReducer(absl::string_view name) {
  if (name == "sum") return plugin::NewReducer<SumReducer>;
  if (name == "count") return plugin::NewReducer<CountReducer>;
  if (name == "identity") return plugin::NewReducer<IdentityReducer>;
  if (name == "aggregate") return NewAggregateReducer;
  return nullptr;
}

bool IsBuiltinSum(const TaskSpec& spec) {
  return spec.kind == TaskSpec::Kind::kBuiltin && spec.arg == "sum";
}

absl::Status ParseSumValue(absl::string_view key, absl::string_view value, int64_t* out) {
  if (absl::SimpleAtoi(value, out)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("sum: key ", Quote(key), ": value ", Quote(value), " is not a 64-bit integer"));
}

absl::Status AddToSum(absl::string_view key, int64_t x, int64_t* sum) {
  if (!__builtin_add_overflow(*sum, x, sum)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("sum: key ", Quote(key), ": the sum overflows a 64-bit integer"));
}

}  // namespace ampmr::worker
