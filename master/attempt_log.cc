#include "master/attempt_log.h"

#include <algorithm>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace ampmr::master {
namespace {

double Seconds(absl::Time t) { return absl::ToDoubleSeconds(t - absl::UnixEpoch()); }

// The first line of `error`, cut to `max` bytes without splitting a UTF-8
// sequence.
std::string FirstLine(absl::string_view error, size_t max) {
  error = error.substr(0, error.find('\n'));
  if (error.size() <= max) return std::string(error);
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(error[cut]) & 0xC0) == 0x80) --cut;
  return absl::StrCat(error.substr(0, cut), "...");
}

ClusterMetrics::Attempts* Kind(ClusterMetrics* metrics, bool reduce) {
  if (metrics == nullptr) return nullptr;
  return reduce ? &metrics->reduce : &metrics->map;
}

}  // namespace

AttemptLog::AttemptLog(absl::Time begin, ClusterMetrics* metrics)
    : begin_(begin), metrics_(metrics) {}

uint32_t AttemptLog::Millis(absl::Time t) const {
  int64_t ms = absl::ToInt64Milliseconds(t - begin_);
  return static_cast<uint32_t>(
      std::clamp<int64_t>(ms, 0, std::numeric_limits<uint32_t>::max() - 1));
}

uint16_t AttemptLog::Intern(std::vector<std::string>* names, absl::string_view name,
                            size_t max) {
  // Most attempts come from a few names: look from the newest.
  for (size_t i = names->size(); i-- > 0;) {
    if ((*names)[i] == name) return static_cast<uint16_t>(i);
  }
  if (names->size() >= max) return static_cast<uint16_t>(max - 1);  // shares the last
  names->emplace_back(name);
  return static_cast<uint16_t>(names->size() - 1);
}

void AttemptLog::Started(bool reduce, int index, int attempt, const std::string& attempt_id,
                         const std::string& worker_id, bool backup, absl::Time now) {
  if (ClusterMetrics::Attempts* m = Kind(metrics_, reduce)) ++m->started;
  if (records_.size() >= kMaxRecords) {
    ++dropped_;
    return;
  }
  // attempt_id is PREFIX-TASK-aN; keep PREFIX once.
  std::string suffix = absl::StrCat("-", reduce ? "r" : "m", index, "-a", attempt);
  absl::string_view prefix = attempt_id;
  if (absl::EndsWith(prefix, suffix)) prefix.remove_suffix(suffix.size());
  Record r;
  r.task = static_cast<uint32_t>(index) | (reduce ? kReduceBit : 0);
  r.start_ms = Millis(now);
  r.end_ms = 0;
  r.error = 0;
  r.worker = Intern(&workers_, worker_id, 65535);
  r.attempt = static_cast<uint16_t>(std::min(attempt, 65535));
  r.state = v1::ATTEMPT_RUNNING;
  r.prefix = static_cast<uint8_t>(Intern(&prefixes_, prefix, 255));
  r.backup = backup ? 1 : 0;
  running_[attempt_id] = static_cast<uint32_t>(records_.size());
  records_.push_back(r);
}

void AttemptLog::Ended(const std::string& attempt_id, v1::AttemptState state, absl::Time now,
                       absl::string_view error, int64_t shuffled_bytes) {
  auto it = running_.find(attempt_id);
  if (it == running_.end()) return;
  Record& r = records_[it->second];
  running_.erase(it);
  r.state = static_cast<uint8_t>(state);
  r.end_ms = std::max(Millis(now), r.start_ms);
  bool reduce = (r.task & kReduceBit) != 0;
  if (state == v1::ATTEMPT_FAILED) {
    ++(reduce ? failed_reduce_ : failed_map_);
    // The record names the attempt; a worker's "attempt=ID: " prefix is redundant.
    std::string named = absl::StrCat("attempt=", attempt_id, ": ");
    if (absl::StartsWith(error, named)) error.remove_prefix(named.size());
    if (errors_.size() < kMaxErrors) {
      errors_.push_back(FirstLine(error, kErrorBytes));
      r.error = static_cast<uint32_t>(errors_.size());
    }
    if (first_failed_.size() < static_cast<size_t>(kSummaryFailures)) {
      first_failed_.push_back(static_cast<uint32_t>(&r - records_.data()));
    }
  }
  ClusterMetrics::Attempts* m = Kind(metrics_, reduce);
  if (m == nullptr) return;
  switch (state) {
    case v1::ATTEMPT_SUCCEEDED:
      ++m->succeeded;
      m->seconds.Observe(static_cast<double>(r.end_ms - r.start_ms) / 1000);
      metrics_->shuffled_bytes += shuffled_bytes;
      break;
    case v1::ATTEMPT_FAILED:
      ++m->failed;
      break;
    case v1::ATTEMPT_KILLED:
      ++m->killed;
      break;
    case v1::ATTEMPT_LOST:
      ++m->lost;
      break;
    default:
      break;
  }
}

v1::AttemptInfo AttemptLog::Info(const Record& r) const {
  bool reduce = (r.task & kReduceBit) != 0;
  std::string task_id = absl::StrCat(reduce ? "r" : "m", r.task & ~kReduceBit);
  v1::AttemptInfo info;
  info.set_attempt_id(absl::StrCat(prefixes_[r.prefix], "-", task_id, "-a", r.attempt));
  info.set_task_id(std::move(task_id));
  info.set_attempt(r.attempt);
  info.set_worker_id(workers_[r.worker]);
  info.set_start_time(Seconds(begin_ + absl::Milliseconds(r.start_ms)));
  if (r.state != v1::ATTEMPT_RUNNING) {
    info.set_end_time(Seconds(begin_ + absl::Milliseconds(r.end_ms)));
  }
  info.set_state(static_cast<v1::AttemptState>(r.state));
  if (r.error != 0) {
    info.set_error(errors_[r.error - 1]);
  } else if (r.state == v1::ATTEMPT_FAILED) {
    info.set_error(absl::StrCat("(not kept: more than ", kMaxErrors, " failed attempts)"));
  }
  info.set_backup(r.backup != 0);
  return info;
}

void AttemptLog::FillStatus(v1::JobStatus* status) const {
  status->mutable_map()->set_failed_attempts(failed_map_);
  status->mutable_reduce()->set_failed_attempts(failed_reduce_);
  status->clear_failed_attempts();
  for (uint32_t i : first_failed_) *status->add_failed_attempts() = Info(records_[i]);
}

v1::ListTasksResponse AttemptLog::ListTasks(const v1::ListTasksRequest& request, int maps,
                                            int reduces, const DescribeTask& describe) const {
  const size_t total = static_cast<size_t>(maps) + static_cast<size_t>(reduces);
  auto global = [maps](const Record& r) -> size_t {
    uint32_t index = r.task & ~kReduceBit;
    return (r.task & kReduceBit) != 0 ? static_cast<size_t>(maps) + index : index;
  };
  std::vector<bool> failed(total, false);
  for (const Record& r : records_) {
    size_t g = global(r);
    if (r.state == v1::ATTEMPT_FAILED && g < total) failed[g] = true;
  }
  // Failed tasks first, then (unless failed_only) the others, each by index.
  std::vector<uint32_t> order;
  for (size_t g = 0; g < total; ++g) {
    if (failed[g]) order.push_back(static_cast<uint32_t>(g));
  }
  if (!request.failed_only()) {
    for (size_t g = 0; g < total; ++g) {
      if (!failed[g]) order.push_back(static_cast<uint32_t>(g));
    }
  }
  v1::ListTasksResponse response;
  response.set_total(static_cast<int32_t>(order.size()));
  response.set_dropped_attempts(dropped_);
  size_t begin = std::min(order.size(), static_cast<size_t>(std::max(0, request.offset())));
  size_t end = request.limit() > 0
                   ? std::min(order.size(), begin + static_cast<size_t>(request.limit()))
                   : order.size();
  // Where each listed task sits in the answer.
  absl::flat_hash_map<uint32_t, int> slot;
  for (size_t i = begin; i < end; ++i) {
    uint32_t g = order[i];
    bool reduce = g >= static_cast<uint32_t>(maps);
    int index = reduce ? static_cast<int>(g) - maps : static_cast<int>(g);
    v1::TaskInfo* info = response.add_tasks();
    info->set_task_id(absl::StrCat(reduce ? "r" : "m", index));
    info->set_reduce(reduce);
    describe(reduce, index, info);
    slot[g] = response.tasks_size() - 1;
  }
  for (const Record& r : records_) {
    auto it = slot.find(static_cast<uint32_t>(global(r)));
    if (it != slot.end()) *response.mutable_tasks(it->second)->add_attempts() = Info(r);
  }
  return response;
}

absl::StatusOr<v1::AttemptInfo> AttemptLog::Find(bool reduce, int index, int attempt) const {
  uint32_t task = static_cast<uint32_t>(index) | (reduce ? kReduceBit : 0);
  const Record* found = nullptr;
  for (const Record& r : records_) {
    if (r.task != task) continue;
    if (attempt == 0 || r.attempt == attempt) found = &r;
  }
  if (found == nullptr) {
    std::string task_id = absl::StrCat(reduce ? "r" : "m", index);
    return absl::NotFoundError(attempt == 0 ? absl::StrCat("task ", task_id, " has no attempt")
                                            : absl::StrCat("task ", task_id, " has no attempt ",
                                                           attempt));
  }
  return Info(*found);
}

std::vector<v1::AttemptInfo> AttemptLog::Latest(size_t limit) const {
  size_t from = records_.size() > limit ? records_.size() - limit : 0;
  std::vector<v1::AttemptInfo> out;
  out.reserve(records_.size() - from);
  for (size_t i = from; i < records_.size(); ++i) out.push_back(Info(records_[i]));
  return out;
}

size_t AttemptLog::MemoryBytes() const {
  size_t bytes = records_.capacity() * sizeof(Record) +
                 first_failed_.capacity() * sizeof(uint32_t) +
                 running_.capacity() * (sizeof(std::string) + sizeof(uint32_t) + 1);
  for (const auto* names : {&workers_, &prefixes_, &errors_}) {
    bytes += names->capacity() * sizeof(std::string);
    for (const std::string& s : *names) bytes += s.capacity() > 15 ? s.capacity() + 1 : 0;
  }
  return bytes;
}

}  // namespace ampmr::master
