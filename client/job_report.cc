#include "client/job_report.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"

namespace ampmr::client {
namespace {

using Row = std::vector<std::string>;

absl::Time FromEpochSeconds(double seconds) { return absl::UnixEpoch() + absl::Seconds(seconds); }

// Ages in tables: "5s", "3m", "2h", "4d"; "-" when there is no time.
std::string FormatAge(double epoch_seconds, absl::Time now) {
  if (epoch_seconds <= 0) return "-";
  const int64_t s =
      std::max<int64_t>(0, absl::ToInt64Seconds(now - FromEpochSeconds(epoch_seconds)));
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrCat(s / 60, "m");
  if (s < 86400) return absl::StrCat(s / 3600, "h");
  return absl::StrCat(s / 86400, "d");
}

std::string DoneOfTotal(const v1::PhaseProgress& p) {
  return absl::StrCat(p.done(), "/", p.total());
}

bool IsMapOnly(const v1::JobStatus& status) { return status.spec().reducer() == "none"; }

// Left-aligned columns two spaces apart; the last column is not padded.
std::string FormatTable(const std::vector<Row>& rows) {
  std::vector<size_t> width;
  for (const Row& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  std::string out;
  for (const Row& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      out += row[i];
      if (i + 1 < row.size()) out.append(width[i] - row[i].size() + 2, ' ');
    }
    out += '\n';
  }
  return out;
}

// "key:" padded so the values line up, as in the summary and `status`.
class KeyValues {
 public:
  void Add(absl::string_view key, std::string value) {
    lines_.emplace_back(absl::StrCat(key, ":"), std::move(value));
  }
  std::string Format() const {
    size_t width = 0;
    for (const auto& line : lines_) width = std::max(width, line.first.size());
    std::string out;
    for (const auto& line : lines_) {
      absl::StrAppend(&out, line.first, std::string(width - line.first.size() + 2, ' '),
                      line.second, "\n");
    }
    return out;
  }

 private:
  std::vector<std::pair<std::string, std::string>> lines_;
};

// "counters:" and one indented "name value" line per counter, sorted by
// name (the proto map has no order), values aligned.
std::string FormatCounters(const v1::JobStatus& status) {
  if (status.counters().empty()) return "";
  std::vector<std::pair<std::string, int64_t>> counters(status.counters().begin(),
                                                        status.counters().end());
  std::sort(counters.begin(), counters.end());
  size_t width = 0;
  for (const auto& c : counters) width = std::max(width, c.first.size());
  std::string out = "counters:\n";
  for (const auto& c : counters) {
    absl::StrAppend(&out, "  ", c.first, std::string(width - c.first.size() + 2, ' '), c.second,
                    "\n");
  }
  return out;
}

std::string FormatLocalTime(double epoch_seconds) {
  if (epoch_seconds <= 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", FromEpochSeconds(epoch_seconds),
                          absl::LocalTimeZone());
}

// "status:" and one line per running attempt that reported one:
//   m3 on w2 (j1-m3-a1): 40% of the split
std::string FormatTaskStatuses(const v1::JobStatus& status) {
  if (status.task_statuses().empty()) return "";
  std::string out = "status:\n";
  for (const v1::TaskStatus& s : status.task_statuses()) {
    absl::StrAppend(&out, "  ", s.task_id(), " on ", s.worker_id(), " (", s.attempt_id(),
                    "): ", s.status(), "\n");
  }
  return out;
}

std::string PhaseDetail(const v1::PhaseProgress& p) {
  std::string out = absl::StrCat(DoneOfTotal(p), " done, ", p.running(), " running");
  if (p.failed_attempts() > 0) absl::StrAppend(&out, ", ", p.failed_attempts(), " failed attempts");
  return out;
}

int FailedAttempts(const v1::JobStatus& status) {
  return status.map().failed_attempts() + status.reduce().failed_attempts();
}

// "failed:" and one line per failed attempt the master listed (the first
// few), then how many more there were:
//   m0 attempt 1 on w2: mapper exec:./map.py: exited with status 1; stderr: ...
std::string FormatFailedAttempts(const v1::JobStatus& status) {
  if (status.failed_attempts().empty()) return "";
  std::string out = "failed:\n";
  for (const v1::AttemptInfo& a : status.failed_attempts()) {
    absl::StrAppend(&out, "  ", a.task_id(), " attempt ", a.attempt(), " on ", a.worker_id(), ": ",
                    a.error(), "\n");
  }
  int more = FailedAttempts(status) - status.failed_attempts_size();
  if (more > 0) {
    absl::StrAppend(&out, "  ... and ", more, " more (ampmr logs ", status.job_id(),
                    " TASK, or the dashboard)\n");
  }
  return out;
}

}  // namespace

std::string StateName(v1::JobState state) {
  const std::string& name = v1::JobState_Name(state);
  return name.empty() ? absl::StrCat("STATE_", static_cast<int>(state)) : name;
}

bool IsFinal(v1::JobState state) {
  return state == v1::SUCCEEDED || state == v1::FAILED || state == v1::CANCELLED;
}

std::string HumanDuration(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  char buf[32];
  if (d < absl::Minutes(1)) {
    snprintf(buf, sizeof(buf), "%.1fs", absl::ToDoubleSeconds(d));
    return buf;
  }
  const int64_t s = absl::ToInt64Seconds(d);
  if (s < 3600) {
    snprintf(buf, sizeof(buf), "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
  } else if (s < 86400) {
    snprintf(buf, sizeof(buf), "%" PRId64 "h%02" PRId64 "m", s / 3600, s / 60 % 60);
  } else {
    snprintf(buf, sizeof(buf), "%" PRId64 "d%02" PRId64 "h", s / 86400, s / 3600 % 24);
  }
  return buf;
}

absl::Duration JobElapsed(const v1::JobStatus& status, absl::Time now) {
  if (status.submit_time() <= 0) return absl::ZeroDuration();
  const absl::Time end = status.end_time() > 0 ? FromEpochSeconds(status.end_time()) : now;
  return std::max(absl::ZeroDuration(), end - FromEpochSeconds(status.submit_time()));
}

std::string FormatJobSummary(const v1::JobStatus& status, absl::Time now) {
  KeyValues kv;
  kv.Add("job", status.job_id());
  kv.Add("state", StateName(status.state()));
  kv.Add("elapsed", HumanDuration(JobElapsed(status, now)));
  kv.Add("output", status.spec().output());
  kv.Add("map", DoneOfTotal(status.map()));
  if (!IsMapOnly(status)) kv.Add("reduce", DoneOfTotal(status.reduce()));
  if (FailedAttempts(status) > 0) kv.Add("failed attempts", absl::StrCat(FailedAttempts(status)));
  return kv.Format() + FormatFailedAttempts(status) + FormatCounters(status);
}

std::string FormatJobStatus(const v1::JobStatus& status, absl::Time now) {
  const v1::JobSpec& spec = status.spec();
  KeyValues kv;
  kv.Add("job", status.job_id());
  if (!spec.name().empty()) kv.Add("name", spec.name());
  kv.Add("state", StateName(status.state()));
  if (!status.error().empty()) kv.Add("error", status.error());
  kv.Add("mapper", spec.mapper());
  kv.Add("reducer", spec.reducer().empty() ? "builtin:identity" : spec.reducer());
  if (!spec.combiner().empty()) kv.Add("combiner", spec.combiner());
  kv.Add("inputs", absl::StrJoin(spec.inputs(), " "));
  kv.Add("output", spec.output());
  kv.Add("map", PhaseDetail(status.map()));
  if (!IsMapOnly(status)) kv.Add("reduce", PhaseDetail(status.reduce()));
  if (FailedAttempts(status) > 0) kv.Add("failed attempts", absl::StrCat(FailedAttempts(status)));
  kv.Add("submitted", FormatLocalTime(status.submit_time()));
  if (status.end_time() > 0) kv.Add("ended", FormatLocalTime(status.end_time()));
  kv.Add("elapsed", HumanDuration(JobElapsed(status, now)));
  return kv.Format() + FormatTaskStatuses(status) + FormatFailedAttempts(status) +
         FormatCounters(status);
}

std::string FormatJobsTable(const google::protobuf::RepeatedPtrField<v1::JobStatus>& jobs,
                            absl::Time now) {
  std::vector<Row> rows = {{"ID", "STATE", "MAP", "REDUCE", "NAME", "AGE"}};
  for (const v1::JobStatus& job : jobs) {
    rows.push_back({job.job_id(), StateName(job.state()), DoneOfTotal(job.map()),
                    IsMapOnly(job) ? "-" : DoneOfTotal(job.reduce()),
                    job.spec().name().empty() ? job.spec().mapper() : job.spec().name(),
                    FormatAge(job.submit_time(), now)});
  }
  return FormatTable(rows);
}

std::string FormatWorkersTable(const google::protobuf::RepeatedPtrField<v1::WorkerInfo>& workers,
                               absl::Time now) {
  std::vector<Row> rows = {
      {"ID", "HOST", "PID", "SLOTS", "RUNNING", "DONE", "HEARTBEAT", "HANDLERS"}};
  for (const v1::WorkerInfo& w : workers) {
    rows.push_back({w.worker_id(), w.host(), absl::StrCat(w.pid()), absl::StrCat(w.slots()),
                    absl::StrCat(w.running()), absl::StrCat(w.tasks_done()),
                    FormatAge(w.last_heartbeat_time(), now),
                    w.handlers().empty() ? "-" : absl::StrJoin(w.handlers(), ",")});
  }
  std::string out = FormatTable(rows);
  // What looks wrong, under the table, one line per worker.
  for (const v1::WorkerInfo& w : workers) {
    if (w.warning().empty() && !w.unreachable()) continue;
    absl::StrAppend(&out, w.worker_id(), ": ", w.unreachable() ? "unreachable: " : "warning: ",
                    w.warning(), "\n");
  }
  return out;
}

std::string ToJsonLine(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  // Printing a well-formed message to a string cannot fail.
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

}  // namespace ampmr::client
