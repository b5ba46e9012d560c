#include "worker/task/builtins.h"

#include <array>
#include <charconv>
#include <cstring>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace ampmr::worker {
namespace {

// Keys and values in error messages: escaped and cut short.
std::string Quote(absl::string_view s) {
  constexpr size_t kMax = 64;
  std::string out = absl::StrCat("\"", absl::CHexEscape(s.substr(0, kMax)), "\"");
  if (s.size() > kMax) absl::StrAppend(&out, "...");
  return out;
}

// Strips the line terminator ("\n" or "\r\n").
absl::string_view StripEol(absl::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// Calls fn(line) for each line of data, terminator stripped.
template <typename Fn>
void ForEachLine(absl::string_view data, Fn fn) {
  const char* p = data.data();
  const char* end = p + data.size();
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
    const char* next = nl == nullptr ? end : nl + 1;
    fn(StripEol(absl::string_view(p, next - p)));
    p = next;
  }
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

class WordCountMapper final : public Mapper {
 public:
  absl::Status Map(const MapInput& input, Emitter* out) override {
    const auto* p = reinterpret_cast<const unsigned char*>(input.data.data());
    const auto* end = p + input.data.size();
    while (p < end) {
      while (p < end && !kIsLetter[*p]) ++p;
      const unsigned char* word = p;
      while (p < end && kIsLetter[*p]) ++p;
      if (p != word) {
        out->Emit(absl::string_view(reinterpret_cast<const char*>(word), p - word), "1");
      }
    }
    return absl::OkStatus();
  }
};

class IdentityMapper final : public Mapper {
 public:
  absl::Status Map(const MapInput& input, Emitter* out) override {
    ForEachLine(input.data, [out](absl::string_view line) {
      size_t tab = line.find('\t');
      if (tab == absl::string_view::npos) {
        out->Emit(line, absl::string_view());
      } else {
        out->Emit(line.substr(0, tab), line.substr(tab + 1));
      }
    });
    return absl::OkStatus();
  }
};

class NoopMapper final : public Mapper {
 public:
  absl::Status Map(const MapInput&, Emitter*) override { return absl::OkStatus(); }
};

// Walks sorted pairs group by group: fold(key, value) for every pair, then
// flush(key) once at the end of each run of equal keys.
template <typename Fold, typename Flush>
absl::Status ForEachGroup(SortedPairs* in, Fold fold, Flush flush) {
  std::string key;  // the current group's key; `in` may reuse its buffers
  bool in_group = false;
  absl::string_view k;
  absl::string_view v;
  while (in->Next(&k, &v)) {
    if (!in_group || k != key) {
      if (in_group) flush(key);
      key.assign(k.data(), k.size());
      in_group = true;
    }
    AMPMR_RETURN_IF_ERROR(fold(key, v));
  }
  if (in_group) flush(key);
  return absl::OkStatus();
}

void EmitInt(Emitter* out, absl::string_view key, int64_t n) {
  char buf[24];
  char* end = std::to_chars(buf, buf + sizeof(buf), n).ptr;
  out->Emit(key, absl::string_view(buf, end - buf));
}

class SumReducer final : public Reducer {
 public:
  absl::Status Reduce(SortedPairs* in, Emitter* out) override {
    int64_t sum = 0;
    return ForEachGroup(
        in,
        [&sum](absl::string_view key, absl::string_view value) {
          int64_t x;
          AMPMR_RETURN_IF_ERROR(ParseSumValue(key, value, &x));
          return AddToSum(key, x, &sum);
        },
        [&sum, out](absl::string_view key) {
          EmitInt(out, key, sum);
          sum = 0;
        });
  }
};

class CountReducer final : public Reducer {
 public:
  absl::Status Reduce(SortedPairs* in, Emitter* out) override {
    int64_t count = 0;
    return ForEachGroup(
        in,
        [&count](absl::string_view, absl::string_view) {
          ++count;
          return absl::OkStatus();
        },
        [&count, out](absl::string_view key) {
          EmitInt(out, key, count);
          count = 0;
        });
  }
};

class IdentityReducer final : public Reducer {
 public:
  absl::Status Reduce(SortedPairs* in, Emitter* out) override {
    absl::string_view k;
    absl::string_view v;
    while (in->Next(&k, &v)) out->Emit(k, v);
    return absl::OkStatus();
  }
};

absl::Status NotBuiltin(const TaskSpec& spec, const char* role) {
  switch (spec.kind) {
    case TaskSpec::Kind::kNone:
      return absl::InvalidArgumentError(absl::StrCat("no ", role, " given"));
    case TaskSpec::Kind::kExec:
      return absl::UnimplementedError(absl::StrCat("exec ", role, "s are not supported yet"));
    case TaskSpec::Kind::kPlugin:
      return absl::UnimplementedError(absl::StrCat("plugin ", role, "s are not supported yet"));
    case TaskSpec::Kind::kBuiltin:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(role, " \"builtin:", spec.arg, "\": unknown built-in"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Mapper>> MakeMapper(const TaskSpec& spec) {
  if (spec.kind == TaskSpec::Kind::kBuiltin) {
    if (spec.arg == "wordcount") return std::make_unique<WordCountMapper>();
    if (spec.arg == "identity") return std::make_unique<IdentityMapper>();
    if (spec.arg == "noop") return std::make_unique<NoopMapper>();
  }
  return NotBuiltin(spec, "mapper");
}

absl::StatusOr<std::unique_ptr<Reducer>> MakeReducer(const TaskSpec& spec) {
  if (spec.kind == TaskSpec::Kind::kBuiltin) {
    if (spec.arg == "sum") return std::make_unique<SumReducer>();
    if (spec.arg == "count") return std::make_unique<CountReducer>();
    if (spec.arg == "identity") return std::make_unique<IdentityReducer>();
  }
  return NotBuiltin(spec, "reducer");
}

bool IsBuiltinSum(const TaskSpec& spec) {
  return spec.kind == TaskSpec::Kind::kBuiltin && spec.arg == "sum";
}

absl::Status ParseSumValue(absl::string_view key, absl::string_view value, int64_t* out) {
  if (absl::SimpleAtoi(value, out)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("sum: key ", Quote(key), ": value ",
                                                 Quote(value), " is not a 64-bit integer"));
}

absl::Status AddToSum(absl::string_view key, int64_t x, int64_t* sum) {
  if (!__builtin_add_overflow(*sum, x, sum)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("sum: key ", Quote(key), ": the sum overflows a 64-bit integer"));
}

}  // namespace ampmr::worker
