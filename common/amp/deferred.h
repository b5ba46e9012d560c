// Deferred<T>: a one-shot result that arrives later, after Twisted's Deferred.
//
// A Deferred fires once, with a value (Callback) or an error (Errback). Callbacks
// added before it fires run when it fires, in the order they were added; callbacks
// added after it fired run at once. Cancel() asks the producer to stop (through the
// canceller given at construction) and, if the Deferred still has not fired, fires
// it with CANCELLED.
//
// Deferred is a cheap handle: copies share one state. It is NOT thread-safe: a
// Deferred and all its copies belong to one thread (a Loop).
//
// As in Twisted, an error nobody handled is reported: when the last handle to a
// Deferred that failed goes away and no errback observed the error (AddErrback,
// AddBoth, or a DeferredList with consume_errors), a warning is logged.
#ifndef AMPMR_COMMON_AMP_DEFERRED_H_
#define AMPMR_COMMON_AMP_DEFERRED_H_

#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/logging.h"

namespace ampmr::amp {

template <typename T>
class Deferred {
 public:
  using Result = absl::StatusOr<T>;
  using Canceller = std::function<void(Deferred<T>)>;

  // `canceller`, if given, runs on Cancel() before the Deferred has fired.
  explicit Deferred(Canceller canceller = nullptr) : state_(std::make_shared<State>()) {
    state_->canceller = std::move(canceller);
  }

  static Deferred Succeed(T value) {
    Deferred d;
    d.Callback(std::move(value));
    return d;
  }
  static Deferred Fail(absl::Status status) {
    Deferred d;
    d.Errback(std::move(status));
    return d;
  }

  // Fires the Deferred. Returns false (and does nothing) if it had fired already:
  // the first result wins, so a late answer after a cancel is harmless.
  bool Callback(T value) { return Fire(Result(std::move(value))); }
  bool Errback(absl::Status status) {
    if (status.ok()) status = absl::InternalError("Errback with an OK status");
    return Fire(Result(std::move(status)));
  }
  bool Fire(Result result) {
    if (state_->result.has_value()) return false;
    state_->result.emplace(std::move(result));
    RunCallbacks();
    return true;
  }

  // `fn` sees the result, value or error. Counts as handling an error.
  void AddBoth(std::function<void(const Result&)> fn) {
    state_->callbacks.push_back({std::move(fn), /*handles_error=*/true});
    if (state_->result.has_value()) RunCallbacks();
  }
  // `on_value` runs on success; `on_error`, if given, on failure.
  void AddCallbacks(std::function<void(const T&)> on_value,
                    std::function<void(const absl::Status&)> on_error) {
    bool handles = static_cast<bool>(on_error);
    state_->callbacks.push_back(
        {[on_value = std::move(on_value), on_error = std::move(on_error)](const Result& r) {
           if (r.ok()) {
             if (on_value) on_value(*r);
           } else if (on_error) {
             on_error(r.status());
           }
         },
         handles});
    if (state_->result.has_value()) RunCallbacks();
  }
  void AddCallback(std::function<void(const T&)> on_value) {
    AddCallbacks(std::move(on_value), nullptr);
  }
  void AddErrback(std::function<void(const absl::Status&)> on_error) {
    AddCallbacks(nullptr, std::move(on_error));
  }

  // Observes the result without handling an error (DeferredList without
  // consume_errors uses this, as Twisted's DeferredList passes failures on).
  void AddObserver(std::function<void(const Result&)> fn) {
    state_->callbacks.push_back({std::move(fn), /*handles_error=*/false});
    if (state_->result.has_value()) RunCallbacks();
  }

  // Marks a failure as handled without adding a callback.
  void ConsumeError() { state_->error_handled = true; }

  // Cancels: runs the canceller, then fires with CANCELLED if still unfired.
  // No-op after the Deferred fired.
  void Cancel() {
    if (state_->result.has_value()) return;
    if (state_->canceller) {
      Canceller c = std::move(state_->canceller);
      state_->canceller = nullptr;
      c(*this);
    }
    if (!state_->result.has_value()) Errback(absl::CancelledError("Deferred cancelled"));
  }

  bool fired() const { return state_->result.has_value(); }
  // REQUIRES: fired().
  const Result& result() const { return *state_->result; }
  // True if it failed and nothing has handled the error yet.
  bool HasUnhandledError() const {
    return state_->result.has_value() && !state_->result->ok() && !state_->error_handled;
  }

  bool SameAs(const Deferred& other) const { return state_ == other.state_; }

 private:
  struct Callback_ {
    std::function<void(const Result&)> fn;
    bool handles_error;
  };
  struct State {
    ~State() {
      if (result.has_value() && !result->ok() && !error_handled) {
        AMPMR_LOG(WARNING) << "Unhandled error in Deferred: " << result->status();
      }
    }
    std::optional<Result> result;
    std::vector<Callback_> callbacks;
    Canceller canceller;
    bool error_handled = false;
    bool running = false;
  };

  void RunCallbacks() {
    // A callback may add callbacks or drop the last outside handle.
    std::shared_ptr<State> keep = state_;
    if (keep->running) return;
    keep->running = true;
    keep->canceller = nullptr;
    size_t i = 0;
    while (i < keep->callbacks.size()) {
      Callback_ cb = std::move(keep->callbacks[i++]);
      if (cb.handles_error) keep->error_handled = true;
      cb.fn(*keep->result);
    }
    keep->callbacks.clear();
    keep->running = false;
  }

  std::shared_ptr<State> state_;
};

}  // namespace ampmr::amp

#endif  // AMPMR_COMMON_AMP_DEFERRED_H_
