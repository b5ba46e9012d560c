#include "worker/handler_pool.h"

#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/hello_limits.h"
#include "worker/handler_slots.h"

namespace ampmr::worker {
namespace {

constexpr absl::string_view kBuiltinPrefix = "builtin:";

bool ValidName(absl::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '-' && c != '.') return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<HandlerSpec> ParseHandlerSpec(absl::string_view flag) {
  size_t eq = flag.find('=');
  if (eq == absl::string_view::npos || eq == 0 || eq + 1 == flag.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--handler: want NAME=COMMAND, got \"", flag, "\""));
  }
  HandlerSpec spec{std::string(flag.substr(0, eq)), std::string(flag.substr(eq + 1))};
  if (spec.name.size() > kMaxHandlerNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("--handler: name longer than ", kMaxHandlerNameBytes, " bytes"));
  }
  if (!ValidName(spec.name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--handler: name \"", spec.name, "\" may only use letters, digits, '_', '-' and '.'"));
  }
  if (absl::StartsWith(spec.command, kBuiltinPrefix) && spec.command != "builtin:echo") {
    return absl::InvalidArgumentError(absl::StrCat("--handler ", spec.name, ": unknown ",
                                                   spec.command, " (built-in: builtin:echo)"));
  }
  return spec;
}

absl::StatusOr<std::unique_ptr<HandlerPool>> HandlerPool::Start(HandlerPoolOptions options) {
  if (options.slots < 1) return absl::InvalidArgumentError("--slots: must be >= 1");
  if (options.max_calls < 0) {
    return absl::InvalidArgumentError("--handler-max-calls: must be >= 0");
  }
  std::set<std::string> seen;
  std::vector<std::unique_ptr<HandlerSlots>> handlers;
  for (const HandlerSpec& spec : options.handlers) {
    if (!ValidName(spec.name) || spec.command.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--handler: bad name or empty command for \"", spec.name, "\""));
    }
    if (!seen.insert(spec.name).second) {
      return absl::InvalidArgumentError(absl::StrCat("--handler ", spec.name, ": given twice"));
    }
    handlers.push_back(std::make_unique<HandlerSlots>(spec, options));
  }
  for (auto& h : handlers) {
    absl::Status started = h->Start();
    if (!started.ok()) return started;
  }
  return std::unique_ptr<HandlerPool>(new HandlerPool(std::move(handlers)));
}

HandlerPool::HandlerPool(std::vector<std::unique_ptr<HandlerSlots>> handlers)
    : handlers_(std::move(handlers)) {}

HandlerPool::~HandlerPool() { Stop(); }

HandlerSlots* HandlerPool::Find(const std::string& name) const {
  for (const auto& h : handlers_) {
    if (h->name() == name) return h.get();
  }
  return nullptr;
}

void HandlerPool::Call(HandlerCall call, Done done) {
  HandlerSlots* h = Find(call.handler);
  if (h == nullptr) {
    done(absl::NotFoundError(absl::StrCat("this worker has no handler \"", call.handler, "\"")));
    return;
  }
  h->Call(std::move(call), std::move(done));
}

void HandlerPool::Cancel(const std::string& call_id) {
  for (auto& h : handlers_) {
    if (h->Cancel(call_id)) return;
  }
}

void HandlerPool::DropQueued(const absl::Status& why) {
  for (auto& h : handlers_) h->DropQueued(why);
}

void HandlerPool::Stop() {
  for (auto& h : handlers_) h->Stop();
}

bool HandlerPool::WaitIdle(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  bool idle = true;
  for (auto& h : handlers_) idle = h->WaitIdle(deadline) && idle;
  return idle;
}

std::vector<std::string> HandlerPool::names() const {
  std::vector<std::string> out;
  for (const auto& h : handlers_) out.push_back(h->name());
  return out;
}

std::vector<int64_t> HandlerPool::ChildPids(const std::string& handler) const {
  HandlerSlots* h = Find(handler);
  return h == nullptr ? std::vector<int64_t>() : h->pids();
}

}  // namespace ampmr::worker
