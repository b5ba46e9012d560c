// Facts that travel with task errors between worker and master, as absl::Status
// payloads (carried in the session's Error.details).
#ifndef AMPMR_COMMON_TASK_ERRORS_H_
#define AMPMR_COMMON_TASK_ERRORS_H_

namespace ampmr {

// On a reduce attempt's error: the attempt id of a map output it could not
// fetch. The master re-runs that map task and does not count the failure.
inline constexpr char kLostMapOutputPayload[] = "ampmr/lost-map-output";

}  // namespace ampmr

#endif  // AMPMR_COMMON_TASK_ERRORS_H_
