// Facts that travel with task errors between worker and master, as absl::Status
// payloads (carried in the session's Error.details).
#ifndef AMPMR_COMMON_TASK_ERRORS_H_
#define AMPMR_COMMON_TASK_ERRORS_H_

namespace ampmr {

// On a reduce attempt's error: the attempt id of a map output it could not
// fetch. The master re-runs that map task and does not count the failure.
inline constexpr char kLostMapOutputPayload[] = "ampmr/lost-map-output";

// On a call's error: the handler itself answered with it (its status byte),
// rather than the worker or the master failing to get an answer.
inline constexpr char kHandlerErrorPayload[] = "ampmr/handler-error";

// JobService.Call's trailing metadata on such an error, so clients can say
// whose error it is.
inline constexpr char kErrorSourceKey[] = "ampmr-error-source";
inline constexpr char kErrorSourceHandler[] = "handler";

}  // namespace ampmr

#endif  // AMPMR_COMMON_TASK_ERRORS_H_
