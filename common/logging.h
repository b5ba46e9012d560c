// Minimal logging to stderr: severity, time, thread, file:line, message.
//   AMPMR_LOG(INFO) << "worker joined worker=" << id;
// Thread-safe: each message is written with one write(2).
#ifndef AMPMR_COMMON_LOGGING_H_
#define AMPMR_COMMON_LOGGING_H_

#include <sstream>

namespace ampmr {

enum class LogSeverity { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kFatal = 4 };

// Messages below this severity are dropped. Default kInfo; AMPMR_LOG_LEVEL
// (debug|info|warning|error) in the environment overrides it at start.
void SetMinLogSeverity(LogSeverity severity);
bool LogEnabled(LogSeverity severity);

// Sets the program name shown in each line (for example "master").
void SetLogProgramName(const char* name);

class LogMessage {
 public:
  LogMessage(LogSeverity severity, const char* file, int line);
  ~LogMessage();  // writes; aborts for kFatal
  std::ostream& stream() { return stream_; }

 private:
  LogSeverity severity_;
  std::ostringstream stream_;
};

}  // namespace ampmr

#define AMPMR_LOG_SEVERITY_DEBUG ::ampmr::LogSeverity::kDebug
#define AMPMR_LOG_SEVERITY_INFO ::ampmr::LogSeverity::kInfo
#define AMPMR_LOG_SEVERITY_WARNING ::ampmr::LogSeverity::kWarning
#define AMPMR_LOG_SEVERITY_ERROR ::ampmr::LogSeverity::kError
#define AMPMR_LOG_SEVERITY_FATAL ::ampmr::LogSeverity::kFatal

#define AMPMR_LOG(sev)                                  \
  if (!::ampmr::LogEnabled(AMPMR_LOG_SEVERITY_##sev)) { \
  } else                                                \
    ::ampmr::LogMessage(AMPMR_LOG_SEVERITY_##sev, __FILE__, __LINE__).stream()

// For programmer errors only, never for input from users or the network.
#define AMPMR_CHECK(cond)                                                          \
  if (cond) {                                                                      \
  } else                                                                           \
    ::ampmr::LogMessage(::ampmr::LogSeverity::kFatal, __FILE__, __LINE__).stream() \
        << "Check failed: " #cond " "

#endif  // AMPMR_COMMON_LOGGING_H_
