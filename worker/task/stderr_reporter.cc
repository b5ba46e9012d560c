#include "worker/task/stderr_reporter.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "worker/task/utf8.h"

namespace ampmr::worker {
namespace {

constexpr absl::string_view kCounterPrefix = "reporter:counter:";
constexpr absl::string_view kStatusPrefix = "reporter:status:";

// "GROUP,COUNTER,AMOUNT" -> ("GROUP.COUNTER", AMOUNT). The group is what
// precedes the first comma and the amount what follows the last, so a counter
// name may itself hold commas.
bool ParseCounter(absl::string_view spec, std::string* name, int64_t* amount) {
  size_t first = spec.find(',');
  size_t last = spec.rfind(',');
  if (first == absl::string_view::npos || first == last) return false;
  absl::string_view group = spec.substr(0, first);
  absl::string_view counter = spec.substr(first + 1, last - first - 1);
  if (group.empty() || counter.empty()) return false;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(spec.substr(last + 1)), amount)) return false;
  *name = ToPrintableUtf8(absl::StrCat(group, ".", counter));
  return true;
}

}  // namespace

void StderrReporter::OnLine(absl::string_view line, Emitter* out) {
  absl::string_view text = absl::StripSuffix(line, "\r");
  if (absl::ConsumePrefix(&text, kCounterPrefix)) {
    std::string name;
    int64_t amount;
    if (ParseCounter(text, &name, &amount)) {
      out->IncrementCounter(name, amount);
      return;
    }
  } else if (absl::ConsumePrefix(&text, kStatusPrefix)) {
    status_ = ToPrintableUtf8(text);
    return;
  }
  Keep(line);
}

void StderrReporter::Keep(absl::string_view line) {
  // Of a long line, its end says most.
  std::string kept = line.size() <= kTailBytes
                         ? ToPrintableUtf8(line)
                         : "..." + ToPrintableUtf8(line.substr(line.size() - kTailBytes));
  tail_bytes_ += kept.size();
  tail_.push_back(std::move(kept));
  while (tail_.size() > kTailLines || (tail_.size() > 1 && tail_bytes_ > kTailBytes)) {
    tail_bytes_ -= tail_.front().size();
    tail_.pop_front();
  }
}

std::string StderrReporter::Tail() const {
  std::string joined = absl::StrJoin(tail_, " | ");
  if (joined.size() > kTailBytes) {
    size_t start = joined.size() - kTailBytes;
    while (start < joined.size() && (joined[start] & 0xc0) == 0x80) ++start;  // whole characters
    joined = absl::StrCat("...", joined.substr(start));
  }
  return joined;
}

}  // namespace ampmr::worker
