#include "client/reconnecting_watch.h"

#include <algorithm>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "client/job_report.h"

namespace ampmr::client {
namespace {

bool MasterLost(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable;
}

// MasterClient's errors start with "master at ADDR: "; the give-up message
// names the master already.
absl::string_view Reason(const absl::Status& status, const std::string& address) {
  absl::string_view why = status.message();
  absl::ConsumePrefix(&why, absl::StrCat("master at ", address, ": "));
  return why;
}

// Asks for the job after each backoff pause until the master answers, gives
// up at `give_up`. `why` is how the master was lost.
absl::StatusOr<v1::JobStatus> Reconnect(JobSource& master, const std::string& job_id,
                                        const ReconnectOptions& options, Clock& clock,
                                        absl::Time give_up, absl::Status why) {
  absl::Duration backoff = options.initial_backoff;
  for (;;) {
    const absl::Duration left = give_up - clock.Now();
    if (left <= absl::ZeroDuration()) {
      return absl::UnavailableError(
          absl::StrCat("lost the master at ", master.address(), " while waiting for job ", job_id,
                       " and it did not come back within ", absl::FormatDuration(options.timeout),
                       ": ", Reason(why, master.address())));
    }
    clock.SleepFor(std::min(backoff, left));
    backoff = std::min(backoff * 2, options.max_backoff);
    absl::StatusOr<v1::JobStatus> status = master.GetJob(job_id);
    if (status.ok()) return status;
    if (status.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(
          absl::StrCat("job ", job_id, " is unknown to the master at ", master.address(),
                       " since it came back (restarted with another --data-dir?)"));
    }
    if (!MasterLost(status.status())) return status;
    why = status.status();
  }
}

}  // namespace

std::string LostMasterNotice(const std::string& address) {
  return absl::StrCat("ampmr: lost the master at ", address, "; reconnecting...\n");
}

absl::StatusOr<v1::JobStatus> WatchJobWithReconnect(
    JobSource& master, const std::string& job_id, const ReconnectOptions& options,
    const std::function<void(const v1::JobStatus&)>& on_event,
    const std::function<void(const std::string&)>& on_lost) {
  RealClock real_clock;
  Clock& clock = options.clock != nullptr ? *options.clock : real_clock;
  // While the master is away: when this outage's time runs out. A watch that
  // fails before its first event has not ended the outage.
  std::optional<absl::Time> give_up;
  for (;;) {
    bool heard = false;
    absl::StatusOr<v1::JobStatus> watched =
        master.WatchJob(job_id, [&](const v1::JobStatus& status) {
          heard = true;
          on_event(status);
        });
    if (watched.ok() || !MasterLost(watched.status()) || options.timeout <= absl::ZeroDuration()) {
      return watched;
    }
    if (heard || !give_up.has_value()) {
      on_lost(LostMasterNotice(master.address()));
      give_up = clock.Now() + options.timeout;
    }
    absl::StatusOr<v1::JobStatus> status =
        Reconnect(master, job_id, options, clock, *give_up, watched.status());
    if (!status.ok()) return status;
    if (IsFinal(status->state())) {
      on_event(*status);
      return status;
    }
  }
}

}  // namespace ampmr::client
