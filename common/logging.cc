#include "common/logging.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include "absl/strings/ascii.h"

namespace ampmr {
namespace {

LogSeverity InitialSeverity() {
  const char* env = std::getenv("AMPMR_LOG_LEVEL");
  if (env == nullptr) return LogSeverity::kInfo;
  std::string level = absl::AsciiStrToLower(env);
  if (level == "debug") return LogSeverity::kDebug;
  if (level == "warning") return LogSeverity::kWarning;
  if (level == "error") return LogSeverity::kError;
  return LogSeverity::kInfo;
}

std::atomic<int> min_severity{static_cast<int>(InitialSeverity())};
std::atomic<const char*> program_name{"ampmr"};

const char* SeverityLetter(LogSeverity s) {
  switch (s) {
    case LogSeverity::kDebug:
      return "D";
    case LogSeverity::kInfo:
      return "I";
    case LogSeverity::kWarning:
      return "W";
    case LogSeverity::kError:
      return "E";
    case LogSeverity::kFatal:
      return "F";
  }
  return "?";
}

}  // namespace

void SetMinLogSeverity(LogSeverity severity) { min_severity.store(static_cast<int>(severity)); }

bool LogEnabled(LogSeverity severity) {
  return static_cast<int>(severity) >= min_severity.load(std::memory_order_relaxed);
}

void SetLogProgramName(const char* name) { program_name.store(name); }

LogMessage::LogMessage(LogSeverity severity, const char* file, int line) : severity_(severity) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  localtime_r(&ts.tv_sec, &tm);
  char when[32];
  strftime(when, sizeof(when), "%m%d %H:%M:%S", &tm);
  const char* base = std::strrchr(file, '/');
  char micros[8];
  snprintf(micros, sizeof(micros), ".%06ld", ts.tv_nsec / 1000);
  stream_ << SeverityLetter(severity) << when << micros << ' ' << program_name.load() << ' '
          << static_cast<long>(syscall(SYS_gettid)) << ' ' << (base ? base + 1 : file) << ':'
          << line << "] ";
}

LogMessage::~LogMessage() {
  stream_ << '\n';
  std::string text = stream_.str();
  ssize_t unused = ::write(STDERR_FILENO, text.data(), text.size());
  (void)unused;
  if (severity_ == LogSeverity::kFatal) std::abort();
}

}  // namespace ampmr
