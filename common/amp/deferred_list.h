// DeferredList and GatherResults: Twisted's aggregation of many Deferreds.
//
// DeferredList(ds, options) returns a Deferred that fires:
//   - by default, once every input fired, with one result per input in input
//     order (each an absl::StatusOr: ok() is Twisted's success flag);
//   - with fire_on_one_callback, at the first success, with `index` naming it;
//   - with fire_on_one_errback, at the first failure, as an error carrying the
//     child's code and message and the child's index (FirstErrorIndex()).
// An empty list fires at once with no results (as in Twisted, not when
// fire_on_one_callback is set: then it never fires). Cancelling the returned
// Deferred cancels every input that has not fired. With consume_errors the
// inputs' errors count as handled; without it they stay unhandled for their
// owners to deal with, as in Twisted.
//
// GatherResults(ds) is DeferredList with fire_on_one_errback, unwrapped into a
// vector of values. Same threading rule as Deferred: one thread.
#ifndef AMPMR_COMMON_AMP_DEFERRED_LIST_H_
#define AMPMR_COMMON_AMP_DEFERRED_LIST_H_

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/amp/deferred.h"

namespace ampmr::amp {

struct DeferredListOptions {
  bool fire_on_one_callback = false;
  bool fire_on_one_errback = false;
  bool consume_errors = false;
};

template <typename T>
struct DeferredListResult {
  // One entry per input, in input order. nullopt: the input had not fired when
  // the list fired (only with fire_on_one_*).
  std::vector<std::optional<absl::StatusOr<T>>> results;
  // With fire_on_one_callback: the index of the first success; else -1.
  int index = -1;
};

inline constexpr char kFirstErrorPayload[] = "type.ampmr/FirstError";

// The index of the input whose failure failed a fire_on_one_errback list.
inline std::optional<int> FirstErrorIndex(const absl::Status& status) {
  auto payload = status.GetPayload(kFirstErrorPayload);
  int index;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &index)) {
    return std::nullopt;
  }
  return index;
}

template <typename T>
Deferred<DeferredListResult<T>> DeferredList(std::vector<Deferred<T>> inputs,
                                             DeferredListOptions options = {}) {
  using Out = Deferred<DeferredListResult<T>>;
  struct Shared {
    DeferredListResult<T> result;
    size_t remaining = 0;
    // The inputs still to be cancelled if the list is: an input leaves when it
    // fires, all leave when the list fires. (An unfired input's callback holds
    // `Shared`, so holding fired ones here would only keep them alive.)
    std::vector<std::optional<Deferred<T>>> unfired;
  };
  auto shared = std::make_shared<Shared>();
  shared->result.results.resize(inputs.size());
  shared->remaining = inputs.size();
  shared->unfired.assign(inputs.begin(), inputs.end());
  std::weak_ptr<Shared> weak = shared;
  Out out([weak](Out) {
    if (auto s = weak.lock()) {
      std::vector<std::optional<Deferred<T>>> copy = s->unfired;
      for (auto& d : copy) {
        if (d.has_value()) d->Cancel();
      }
    }
  });
  if (inputs.empty()) {
    if (!options.fire_on_one_callback) out.Callback(DeferredListResult<T>{});
    return out;
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto on_result = [shared, out, i, options](const absl::StatusOr<T>& r) mutable {
      shared->result.results[i] = r;
      shared->unfired[i].reset();
      --shared->remaining;
      if (out.fired()) return;
      if (r.ok() && options.fire_on_one_callback) {
        shared->result.index = static_cast<int>(i);
        for (auto& d : shared->unfired) d.reset();
        out.Callback(shared->result);
      } else if (!r.ok() && options.fire_on_one_errback) {
        absl::Status first(r.status().code(), r.status().message());
        first.SetPayload(kFirstErrorPayload, absl::Cord(absl::StrCat(i)));
        for (auto& d : shared->unfired) d.reset();
        out.Errback(first);
      } else if (shared->remaining == 0) {
        out.Callback(shared->result);
      }
    };
    if (options.consume_errors) {
      inputs[i].AddBoth(std::move(on_result));
    } else {
      inputs[i].AddObserver(std::move(on_result));
    }
  }
  return out;
}

template <typename T>
Deferred<std::vector<T>> GatherResults(std::vector<Deferred<T>> inputs,
                                       bool consume_errors = false) {
  DeferredListOptions options;
  options.fire_on_one_errback = true;
  options.consume_errors = consume_errors;
  Deferred<DeferredListResult<T>> list = DeferredList(std::move(inputs), options);
  Deferred<std::vector<T>> out([list](Deferred<std::vector<T>>) mutable { list.Cancel(); });
  list.AddBoth([out](const absl::StatusOr<DeferredListResult<T>>& r) mutable {
    if (!r.ok()) {
      out.Errback(r.status());
      return;
    }
    std::vector<T> values;
    values.reserve(r->results.size());
    for (const auto& one : r->results) values.push_back(**one);
    out.Callback(std::move(values));
  });
  return out;
}

}  // namespace ampmr::amp

#endif  // AMPMR_COMMON_AMP_DEFERRED_LIST_H_
