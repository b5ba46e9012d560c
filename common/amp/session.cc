#include "common/amp/session.h"

#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace ampmr::amp {

v1::Error ToErrorProto(const absl::Status& status) {
  v1::Error error;
  error.set_code(static_cast<int>(status.code()));
  error.set_description(std::string(status.message()));
  // Status payloads travel as details, so typed facts (which map output a
  // reducer could not fetch) reach the peer along with the code.
  status.ForEachPayload([&error](absl::string_view type_url, const absl::Cord& payload) {
    (*error.mutable_details())[std::string(type_url)] = std::string(payload);
  });
  return error;
}

absl::Status FromErrorProto(const v1::Error& error) {
  int code = error.code();
  if (code <= 0 || code > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    return absl::UnknownError(
        absl::StrCat("peer sent error code ", code, ": ", error.description()));
  }
  absl::Status status(static_cast<absl::StatusCode>(code), error.description());
  for (const auto& [type_url, payload] : error.details()) {
    status.SetPayload(type_url, absl::Cord(payload));
  }
  return status;
}

Session::Session(std::shared_ptr<Transport> transport, std::string name)
    : transport_(std::move(transport)), name_(std::move(name)) {}

Session::~Session() { FailAll(absl::UnavailableError(absl::StrCat(name_, ": session destroyed"))); }

void Session::SetResponder(v1::Command::KindCase kind, Responder responder) {
  responders_[static_cast<int>(kind)] = std::move(responder);
}

void Session::SetReadThreadResponder(v1::Command::KindCase kind, Responder responder) {
  read_thread_responders_[static_cast<int>(kind)] = std::move(responder);
}

bool Session::HandleOnReadThread(v1::Box* box) {
  if (*closed_) return false;  // HandleBox drops it
  if (box->batch_size() == 0) return !TakeOnReadThread(box);
  // Compacts what is left in place: a carrier of attempts with no call in it
  // is posted as it came, with no box moved or made.
  auto* batch = box->mutable_batch();
  int kept = 0;
  for (int i = 0; i < batch->size(); ++i) {
    if (TakeOnReadThread(batch->Mutable(i))) continue;
    if (kept != i) batch->SwapElements(kept, i);
    ++kept;
  }
  batch->DeleteSubrange(kept, batch->size() - kept);
  return kept > 0;
}

bool Session::TakeOnReadThread(v1::Box* box) {
  if (box->has_answer()) return AnswerOnThisThread(box->ask(), box->mutable_answer());
  if (box->has_error()) return AnswerOnThisThread(box->ask(), FromErrorProto(box->error()));
  if (!box->has_command()) return false;
  auto it = read_thread_responders_.find(static_cast<int>(box->command().kind_case()));
  if (it == read_thread_responders_.end()) return false;
  if (box->ask() == 0) {
    it->second(std::move(*box->mutable_command()), [](absl::StatusOr<v1::Answer>) {});
  } else {
    it->second(std::move(*box->mutable_command()), MakeReply(box->ask()));
  }
  return true;
}

bool Session::AnswerOnThisThread(uint64_t ask, absl::StatusOr<v1::Answer*> answer) {
  ReadThreadAnswer handler;
  {
    std::lock_guard<std::mutex> lock(read_thread_mu_);
    auto it = read_thread_answers_.find(ask);
    if (it == read_thread_answers_.end()) return false;
    handler = std::move(it->second);
    read_thread_answers_.erase(it);
  }
  handler(std::move(answer));
  return true;
}

Deferred<v1::Answer> Session::CallRemote(v1::Command command) {
  if (*closed_) {
    return Deferred<v1::Answer>::Fail(
        absl::UnavailableError(absl::StrCat(name_, ": connection lost")));
  }
  uint64_t ask = next_ask_++;
  // The canceller only forgets the ask; whether the peer should stop work is
  // the caller's business (it may send a Cancel command).
  Deferred<v1::Answer> d([this, ask, closed = closed_](Deferred<v1::Answer>) {
    if (*closed) return;
    pending_.erase(ask);
  });
  pending_.emplace(ask, d);
  v1::Box box;
  box.set_ask(ask);
  *box.mutable_command() = std::move(command);
  transport_->Send(std::move(box));
  return d;
}

bool Session::CallFromAnyThread(v1::Command command, ReadThreadAnswer answer) {
  uint64_t ask = next_ask_++;
  {
    // Under the lock, so FailAll (which sets closed_ first) either sees this
    // ask or this sees closed_.
    std::lock_guard<std::mutex> lock(read_thread_mu_);
    if (*closed_) return false;
    read_thread_answers_.emplace(ask, std::move(answer));
  }
  v1::Box box;
  box.set_ask(ask);
  *box.mutable_command() = std::move(command);
  transport_->Send(std::move(box));
  return true;
}

void Session::SendNoAnswer(v1::Command command) {
  if (*closed_) return;
  v1::Box box;
  *box.mutable_command() = std::move(command);
  transport_->Send(std::move(box));
}

void Session::HandleBox(v1::Box box) {
  if (*closed_) return;
  if (box.batch_size() > 0) {
    for (auto& inner : *box.mutable_batch()) HandleBox(std::move(inner));
    return;
  }
  switch (box.body_case()) {
    case v1::Box::kCommand:
      HandleCommand(box.ask(), std::move(*box.mutable_command()));
      return;
    case v1::Box::kAnswer:
      HandleAnswer(box.ask(), std::move(*box.mutable_answer()));
      return;
    case v1::Box::kError:
      HandleAnswer(box.ask(), FromErrorProto(box.error()));
      return;
    case v1::Box::BODY_NOT_SET:
      break;
  }
  if (box.ask() != 0) {
    MakeReply(box.ask())(absl::InvalidArgumentError("malformed box: no command, answer or error"));
  } else {
    AMPMR_LOG(WARNING) << name_ << ": dropped a malformed box with no body";
  }
}

void Session::HandleCommand(uint64_t ask, v1::Command command) {
  auto it = responders_.find(static_cast<int>(command.kind_case()));
  if (it == responders_.end()) {
    absl::Status unknown = absl::UnimplementedError(
        command.kind_case() == v1::Command::KIND_NOT_SET
            ? std::string("unknown command")
            : absl::StrCat("no responder for command ", command.kind_case()));
    if (ask != 0) {
      MakeReply(ask)(unknown);
    } else {
      AMPMR_LOG(WARNING) << name_ << ": dropped: " << unknown.message();
    }
    return;
  }
  // A copy: the responder may replace itself (SetResponder) while it runs.
  Responder responder = it->second;
  if (ask == 0) {
    responder(std::move(command), [](absl::StatusOr<v1::Answer>) {});
  } else {
    responder(std::move(command), MakeReply(ask));
  }
}

Session::Reply Session::MakeReply(uint64_t ask) const {
  return [transport = transport_, closed = closed_, ask,
          replied = std::make_shared<std::atomic<bool>>(false)](absl::StatusOr<v1::Answer> result) {
    if (closed->load() || replied->exchange(true)) return;
    v1::Box box;
    box.set_ask(ask);
    if (result.ok()) {
      *box.mutable_answer() = std::move(*result);
    } else {
      *box.mutable_error() = ToErrorProto(result.status());
    }
    transport->Send(std::move(box));
  };
}

void Session::HandleAnswer(uint64_t ask, absl::StatusOr<v1::Answer> result) {
  auto it = pending_.find(ask);
  if (it == pending_.end()) {
    if (result.ok() ? AnswerOnThisThread(ask, &*result)
                    : AnswerOnThisThread(ask, result.status())) {
      return;
    }
    // A late answer to a cancelled ask, or a peer's mistake: nothing waits for it.
    AMPMR_LOG(DEBUG) << name_ << ": answer for unknown ask=" << ask << " dropped";
    return;
  }
  Deferred<v1::Answer> d = it->second;
  pending_.erase(it);
  d.Fire(std::move(result));
}

void Session::HandleClosed(const absl::Status& why) {
  if (*closed_) return;
  *closed_ = true;
  FailAll(absl::UnavailableError(absl::StrCat(name_, ": connection lost: ", why.ToString())));
}

void Session::Close(const absl::Status& why) {
  if (*closed_) return;
  *closed_ = true;
  transport_->Close(why);
  FailAll(absl::UnavailableError(absl::StrCat(name_, ": session closed: ", why.message())));
}

void Session::FailAll(const absl::Status& why) {
  *closed_ = true;
  std::vector<Deferred<v1::Answer>> failing;
  failing.reserve(pending_.size());
  for (auto& [ask, d] : pending_) failing.push_back(d);
  pending_.clear();
  absl::flat_hash_map<uint64_t, ReadThreadAnswer> answers;
  {
    std::lock_guard<std::mutex> lock(read_thread_mu_);
    answers.swap(read_thread_answers_);
  }
  for (auto& d : failing) d.Errback(why);
  for (auto& [ask, answer] : answers) answer(why);
}

}  // namespace ampmr::amp
