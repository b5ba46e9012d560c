#include "client/progress.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/job_report.h"

namespace ampmr::client {
namespace {

// Back to column 0, the text, then erase whatever a longer line left behind.
constexpr char kReturn[] = "\r";
constexpr char kEraseToEnd[] = "\x1b[K";

void WriteAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n <= 0) return;  // a progress line is not worth an error
    done += static_cast<size_t>(n);
  }
}

}  // namespace

std::string FormatProgressLine(const v1::JobStatus& status, absl::Duration elapsed) {
  auto phase = [](const char* name, const v1::PhaseProgress& p) {
    std::string out = absl::StrCat("  ", name, " ", p.done(), "/", p.total());
    if (p.running() > 0) absl::StrAppend(&out, " (", p.running(), " running)");
    return out;
  };
  std::string line = absl::StrCat(StateName(status.state()), phase("map", status.map()));
  if (status.spec().reducer() != "none") absl::StrAppend(&line, phase("reduce", status.reduce()));
  int failed = status.map().failed_attempts() + status.reduce().failed_attempts();
  if (failed > 0) absl::StrAppend(&line, "  ", failed, " failed attempts");
  absl::StrAppend(&line, "  ", HumanDuration(elapsed));
  return line;
}

ProgressDisplay::ProgressDisplay(int fd, bool enabled)
    : fd_(fd), enabled_(enabled), start_(absl::Now()) {
  if (enabled_) ticker_ = std::thread([this] { Tick(); });
}

ProgressDisplay::~ProgressDisplay() { Finish(); }

void ProgressDisplay::Update(const v1::JobStatus& status) {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  last_ = status;
  have_status_ = true;
  DrawLocked();
}

void ProgressDisplay::Print(const std::string& text) {
  if (!enabled_) {
    WriteAll(fd_, text);
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  const bool drawn = have_status_ && !finished_;
  WriteAll(fd_, drawn ? absl::StrCat(kReturn, kEraseToEnd, text) : text);
  if (drawn) DrawLocked();
}

void ProgressDisplay::Finish() {
  if (!enabled_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    finished_ = true;
    if (have_status_) WriteAll(fd_, absl::StrCat(kReturn, kEraseToEnd));
  }
  wake_.notify_all();
  ticker_.join();
}

void ProgressDisplay::DrawLocked() {
  WriteAll(fd_,
           absl::StrCat(kReturn, FormatProgressLine(last_, absl::Now() - start_), kEraseToEnd));
}

void ProgressDisplay::Tick() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!finished_) {
    wake_.wait_for(lock, std::chrono::seconds(1));
    if (!finished_ && have_status_) DrawLocked();
  }
}

}  // namespace ampmr::client
