#include "common/grpc_log.h"

#include <grpc/support/log.h>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "common/log_limiter.h"
#include "common/logging.h"

namespace ampmr {
namespace {

std::atomic<bool> quiet_logs{false};

LogLimiter& Limiter() {
  static LogLimiter* limiter = new LogLimiter(absl::Minutes(1));
  return *limiter;
}

void Route(gpr_log_func_args* args) {
  if (args->severity != GPR_LOG_SEVERITY_ERROR && !LogEnabled(LogSeverity::kDebug)) return;
  if (quiet_logs && !LogEnabled(LogSeverity::kDebug)) return;
  int64_t skipped = 0;
  if (!Limiter().Allow(absl::StrCat(args->file, ":", args->line), &skipped)) return;
  const LogSeverity severity =
      args->severity == GPR_LOG_SEVERITY_ERROR ? LogSeverity::kWarning : LogSeverity::kDebug;
  LogMessage(severity, args->file, args->line).stream()
      << "grpc: " << args->message
      << (skipped > 0 ? absl::StrCat(" (", skipped, " more like it since the last such line)")
                      : std::string());
}

}  // namespace

void RouteGrpcLogs(bool quiet) {
  quiet_logs = quiet;
  gpr_set_log_function(Route);
}

}  // namespace ampmr
