// Waiting for a job across restarts of the master: `ampmr wait` and
// `ampmr submit --wait`. A master journals its jobs and resumes them under the
// same ids when restarted on the same --data-dir, so a client that loses it
// keeps asking, with backoff, until it is back or time runs out. No gRPC in
// here.
#ifndef AMPMR_CLIENT_RECONNECTING_WATCH_H_
#define AMPMR_CLIENT_RECONNECTING_WATCH_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ampmr/v1/job.pb.h"
#include "client/clock.h"
#include "client/job_source.h"

namespace ampmr::client {

struct ReconnectOptions {
  // How long one outage may last before the wait gives up. Zero: never
  // reconnect; a lost master ends the wait at once (`ampmr run`, whose master
  // is its own child).
  absl::Duration timeout = absl::Seconds(60);
  // Pause before the first attempt; doubled after each failed one, up to
  // max_backoff.
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(2);
  // Where the pauses are taken; nullptr: the wall clock.
  Clock* clock = nullptr;
};

// The line printed on stderr when the master is lost.
std::string LostMasterNotice(const std::string& address);

// Watches `job_id` on `master` until it ends and returns its final status,
// calling `on_event` for every event. When the master is lost (UNAVAILABLE),
// calls `on_lost` with LostMasterNotice() once per outage (an outage ends
// when a new watch delivers an event), then asks for the job with GetJob
// after each backoff pause until the master answers, and watches again
// (or returns the status at once if the job ended meanwhile).
//
// Errors: UNAVAILABLE naming the master and options.timeout when it did not
// come back in time; NOT_FOUND when it came back without the job (restarted
// on another data dir); any other error of the master's, unchanged.
absl::StatusOr<v1::JobStatus> WatchJobWithReconnect(
    JobSource& master, const std::string& job_id, const ReconnectOptions& options,
    const std::function<void(const v1::JobStatus&)>& on_event,
    const std::function<void(const std::string&)>& on_lost);

}  // namespace ampmr::client

#endif  // AMPMR_CLIENT_RECONNECTING_WATCH_H_
