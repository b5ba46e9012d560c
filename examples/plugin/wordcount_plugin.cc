// A word count plugin for ampmr: the same counts as builtin:wordcount with
// builtin:sum, written against the plugin interface (sdk/include/ampmr/plugin.h).
//
//   ampmr run --input books/ --output out --mapper plugin:build/lib/wordcount_plugin.so \
//             --combiner plugin:build/lib/wordcount_plugin.so \
//             --reducer plugin:build/lib/wordcount_plugin.so
//
// A word is a maximal run of ASCII letters. With --env wordcount_lowercase=1
// words are lowercased first. The mapper counts words and lines in the user
// counters wordcount.words and wordcount.lines.
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "ampmr/plugin.h"

namespace {

using ampmr::plugin::Output;
using ampmr::plugin::Status;
using ampmr::plugin::Task;
using ampmr::plugin::Values;

bool IsLetter(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

class WordCountMapper : public ampmr::plugin::Mapper {
 public:
  explicit WordCountMapper(const Task& task) {
    std::string_view value;
    lowercase_ = task.GetParameter("wordcount_lowercase", &value) && value == "1";
  }

  Status Map(std::string_view lines, Output& out) override {
    int64_t words = 0;
    size_t i = 0;
    while (i < lines.size()) {
      while (i < lines.size() && !IsLetter(lines[i])) {
        if (lines[i] == '\n') ++lines_;
        ++i;
      }
      size_t start = i;
      while (i < lines.size() && IsLetter(lines[i])) ++i;
      if (i == start) continue;
      ++words;
      std::string_view word = lines.substr(start, i - start);
      if (lowercase_) {
        lower_.assign(word);
        for (char& c : lower_) c = static_cast<char>(c | 0x20);  // ASCII letters only
        word = lower_;
      }
      out.Emit(word, "1");
    }
    if (!lines.empty() && lines.back() != '\n') ++lines_;  // the split's last line
    out.IncrementCounter("wordcount", "words", words);
    return Status::Ok();
  }

  Status Finish(Output& out) override {
    out.IncrementCounter("wordcount", "lines", lines_);
    return Status::Ok();
  }

 private:
  bool lowercase_ = false;
  int64_t lines_ = 0;
  std::string lower_;
};

// Adds the integer values of each word; also the combiner.
class SumReducer : public ampmr::plugin::Reducer {
 public:
  Status Reduce(std::string_view key, Values& values, Output& out) override {
    int64_t sum = 0;
    std::string_view value;
    while (values.Next(&value)) {
      int64_t x = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), x);
      if (ec != std::errc() || end != value.data() + value.size()) {
        return Status::Error("wordcount plugin: key \"" + std::string(key) + "\": value \"" +
                             std::string(value) + "\" is not an integer");
      }
      sum += x;
    }
    char buf[24];
    char* end = std::to_chars(buf, buf + sizeof(buf), sum).ptr;
    out.Emit(key, std::string_view(buf, end - buf));
    return Status::Ok();
  }
};

}  // namespace

AMPMR_PLUGIN("wordcount", ampmr::plugin::NewMapper<WordCountMapper>,
             ampmr::plugin::NewReducer<SumReducer>, ampmr::plugin::NewReducer<SumReducer>)
