// Helpers shared by the worker task tests: a scratch directory, file I/O,
// simple in-memory Emitter/SortedPairs, and straightforward reference
// computations the real code is checked against.
#ifndef AMPMR_TESTS_WORKER_TEST_UTIL_H_
#define AMPMR_TESTS_WORKER_TEST_UTIL_H_

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "worker/task/counters.h"
#include "worker/task/emitter.h"
#include "worker/task/record_io.h"
#include "worker/task/reducer.h"

namespace ampmr::worker::testing {

using Pairs = std::vector<std::pair<std::string, std::string>>;

// A fresh directory, removed with everything in it when the object dies.
class ScratchDir {
 public:
  ScratchDir() {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/ampmr-task-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp " << tmpl;
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string Join(absl::string_view name) const { return path_ + "/" + std::string(name); }
  // Names of the entries in the directory, sorted.
  std::vector<std::string> List() const { return ListOf(path_); }
  // Names of the entries in `dir`, sorted; none if it does not exist.
  static std::vector<std::string> ListOf(const std::string& dir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::string path_;
};

inline void WriteFile(const std::string& path, absl::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(out.good()) << path;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The gutenberg texts tests build corpora from ($AMPMR_GUTENBERG_DIR).
inline std::string GutenbergDir() {
  const char* dir = std::getenv("AMPMR_GUTENBERG_DIR");
  return dir != nullptr ? dir : "/work/shared/data/gutenberg";
}

// An Emitter that keeps everything it is given, in order.
class CollectingEmitter final : public Emitter {
 public:
  void Emit(absl::string_view key, absl::string_view value) override {
    pairs.emplace_back(std::string(key), std::string(value));
  }
  void IncrementCounter(absl::string_view name, int64_t amount) override {
    AddCounter(&counters, name, amount);
  }
  Pairs pairs;
  Counters counters;
};

// SortedPairs over a vector the test sorted itself.
class VectorPairs final : public SortedPairs {
 public:
  explicit VectorPairs(Pairs pairs) : pairs_(std::move(pairs)) {}
  bool Next(absl::string_view* key, absl::string_view* value) override {
    if (next_ == pairs_.size()) return false;
    *key = pairs_[next_].first;
    *value = pairs_[next_].second;
    ++next_;
    return true;
  }

 private:
  Pairs pairs_;
  size_t next_ = 0;
};

// A run of `pairs` in record format, one group per run of equal keys.
inline std::string EncodeRun(const Pairs& pairs) {
  std::string out;
  for (size_t i = 0; i < pairs.size();) {
    std::vector<absl::string_view> values;
    size_t j = i;
    for (; j < pairs.size() && pairs[j].first == pairs[i].first; ++j)
      values.push_back(pairs[j].second);
    AppendGroup(&out, pairs[i].first, values);
    i = j;
  }
  return out;
}

// Decodes a run; fails the test on corruption.
inline Pairs DecodeRun(absl::string_view data) {
  Pairs pairs;
  RecordReader reader(data, "run");
  absl::string_view k;
  absl::string_view v;
  while (reader.Next(&k, &v)) pairs.emplace_back(std::string(k), std::string(v));
  EXPECT_TRUE(reader.status().ok()) << reader.status();
  return pairs;
}

inline bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Word count the obvious way: word -> occurrences.
inline std::map<std::string, int64_t> NaiveWordCount(absl::string_view text) {
  std::map<std::string, int64_t> counts;
  std::string word;
  for (char c : text) {
    if (IsAsciiLetter(c)) {
      word.push_back(c);
    } else if (!word.empty()) {
      ++counts[word];
      word.clear();
    }
  }
  if (!word.empty()) ++counts[word];
  return counts;
}

// Parses key<TAB>value lines.
inline std::map<std::string, int64_t> ParseCountLines(absl::string_view text) {
  std::map<std::string, int64_t> counts;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    size_t tab = line.find('\t');
    EXPECT_NE(tab, std::string::npos) << line;
    if (tab == std::string::npos) continue;
    counts[line.substr(0, tab)] += std::stoll(line.substr(tab + 1));
  }
  return counts;
}

}  // namespace ampmr::worker::testing

#endif  // AMPMR_TESTS_WORKER_TEST_UTIL_H_
