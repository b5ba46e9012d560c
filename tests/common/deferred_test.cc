#include "common/amp/deferred.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace ampmr::amp {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(DeferredTest, CallbacksAddedBeforeFiringRunInOrderWhenItFires) {
  Deferred<int> d;
  std::vector<std::string> order;
  d.AddCallback([&](const int& v) { order.push_back("first " + std::to_string(v)); });
  d.AddBoth([&](const absl::StatusOr<int>& r) { order.push_back("both " + std::to_string(*r)); });
  d.AddCallbacks([&](const int& v) { order.push_back("third " + std::to_string(v)); },
                 [&](const absl::Status&) { order.push_back("wrong: errback"); });
  EXPECT_TRUE(order.empty());
  EXPECT_FALSE(d.fired());

  EXPECT_TRUE(d.Callback(7));
  EXPECT_THAT(order, ElementsAre("first 7", "both 7", "third 7"));
  EXPECT_TRUE(d.fired());
  EXPECT_THAT(d.result(), IsOk());
  EXPECT_EQ(*d.result(), 7);
}

TEST(DeferredTest, ErrorGoesToErrbacksOnly) {
  Deferred<int> d;
  std::vector<std::string> order;
  d.AddCallback([&](const int&) { order.push_back("wrong: callback"); });
  d.AddErrback([&](const absl::Status& s) { order.push_back("errback " + s.ToString()); });
  d.AddBoth(
      [&](const absl::StatusOr<int>& r) { order.push_back("both " + r.status().ToString()); });
  EXPECT_TRUE(d.Errback(absl::NotFoundError("job=j1")));
  EXPECT_THAT(order, ElementsAre("errback NOT_FOUND: job=j1", "both NOT_FOUND: job=j1"));
  EXPECT_THAT(d.result(), StatusIs(absl::StatusCode::kNotFound, "job=j1"));
}

TEST(DeferredTest, CallbackAddedAfterFiringRunsAtOnce) {
  Deferred<std::string> d;
  d.Callback("done");
  std::string seen;
  d.AddCallback([&](const std::string& v) { seen = v; });
  EXPECT_EQ(seen, "done");

  absl::Status seen_error;
  Deferred<int> failed = Deferred<int>::Fail(absl::AbortedError("retry"));
  failed.AddErrback([&](const absl::Status& s) { seen_error = s; });
  EXPECT_THAT(seen_error, StatusIs(absl::StatusCode::kAborted, "retry"));
}

TEST(DeferredTest, CallbackAddedFromACallbackRunsAfterTheOnesAlreadyQueued) {
  Deferred<int> d;
  std::vector<std::string> order;
  d.AddCallback([&](const int&) {
    order.push_back("a");
    d.AddCallback([&](const int&) { order.push_back("added by a"); });
  });
  d.AddCallback([&](const int&) { order.push_back("b"); });
  d.Callback(1);
  EXPECT_THAT(order, ElementsAre("a", "b", "added by a"));
}

TEST(DeferredTest, FiresOnlyOnceAndTheFirstResultWins) {
  Deferred<int> d;
  int calls = 0;
  d.AddBoth([&](const absl::StatusOr<int>&) { ++calls; });
  EXPECT_TRUE(d.Callback(1));
  EXPECT_FALSE(d.Callback(2));
  EXPECT_FALSE(d.Errback(absl::InternalError("late")));
  EXPECT_FALSE(d.Fire(3));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(*d.result(), 1);
}

TEST(DeferredTest, CopiesShareOneResult) {
  Deferred<int> d;
  Deferred<int> copy = d;
  EXPECT_TRUE(copy.SameAs(d));
  EXPECT_FALSE(Deferred<int>().SameAs(d));
  copy.Callback(5);
  EXPECT_TRUE(d.fired());
  EXPECT_EQ(*d.result(), 5);
  EXPECT_FALSE(d.Callback(6));
}

TEST(DeferredTest, SucceedAndFailAreAlreadyFired) {
  Deferred<int> ok = Deferred<int>::Succeed(3);
  ASSERT_TRUE(ok.fired());
  EXPECT_EQ(*ok.result(), 3);
  Deferred<int> bad = Deferred<int>::Fail(absl::UnavailableError("gone"));
  ASSERT_TRUE(bad.fired());
  EXPECT_THAT(bad.result(), StatusIs(absl::StatusCode::kUnavailable, "gone"));
  bad.ConsumeError();
}

TEST(DeferredTest, ErrbackWithOkStatusIsAnInternalError) {
  Deferred<int> d;
  EXPECT_TRUE(d.Errback(absl::OkStatus()));
  EXPECT_THAT(d.result(), StatusIs(absl::StatusCode::kInternal));
  d.ConsumeError();
}

TEST(DeferredTest, CancelRunsTheCancellerThenFailsWithCancelled) {
  int canceller_runs = 0;
  bool was_unfired_in_canceller = false;
  Deferred<int> d([&](Deferred<int> self) {
    ++canceller_runs;
    was_unfired_in_canceller = !self.fired();
  });
  absl::Status seen;
  d.AddErrback([&](const absl::Status& s) { seen = s; });
  d.Cancel();
  EXPECT_EQ(canceller_runs, 1);
  EXPECT_TRUE(was_unfired_in_canceller);
  EXPECT_THAT(seen, StatusIs(absl::StatusCode::kCancelled));
  EXPECT_THAT(d.result(), StatusIs(absl::StatusCode::kCancelled));

  // A late answer after the cancel is harmless and changes nothing.
  EXPECT_FALSE(d.Callback(42));
  d.Cancel();
  EXPECT_EQ(canceller_runs, 1);
  EXPECT_THAT(d.result(), StatusIs(absl::StatusCode::kCancelled));
}

TEST(DeferredTest, CancellerMayFireWithItsOwnResult) {
  Deferred<int> d([](Deferred<int> self) { self.Errback(absl::AbortedError("stopped early")); });
  d.Cancel();
  EXPECT_THAT(d.result(), StatusIs(absl::StatusCode::kAborted, "stopped early"));
  d.ConsumeError();

  Deferred<int> partial([](Deferred<int> self) { self.Callback(-1); });
  partial.Cancel();
  EXPECT_THAT(partial.result(), IsOk());
  EXPECT_EQ(*partial.result(), -1);
}

TEST(DeferredTest, CancelWithoutCancellerFailsWithCancelled) {
  Deferred<int> d;
  d.Cancel();
  EXPECT_THAT(d.result(), StatusIs(absl::StatusCode::kCancelled));
  d.ConsumeError();
}

TEST(DeferredTest, CancelAfterFiringIsANoOp) {
  int canceller_runs = 0;
  Deferred<int> d([&](Deferred<int>) { ++canceller_runs; });
  d.Callback(9);
  d.Cancel();
  EXPECT_EQ(canceller_runs, 0);
  EXPECT_THAT(d.result(), IsOk());
  EXPECT_EQ(*d.result(), 9);
}

TEST(DeferredTest, UnhandledErrorIsTrackedUntilAnErrbackSeesIt) {
  Deferred<int> d;
  EXPECT_FALSE(d.HasUnhandledError());  // not fired
  d.AddCallback([](const int&) {});     // a value-only callback does not handle errors
  d.Errback(absl::InternalError("boom"));
  EXPECT_TRUE(d.HasUnhandledError());
  d.AddErrback([](const absl::Status&) {});
  EXPECT_FALSE(d.HasUnhandledError());
}

TEST(DeferredTest, AddBothHandlesAnErrorButAnObserverDoesNot) {
  Deferred<int> observed;
  bool observer_saw_error = false;
  observed.AddObserver([&](const absl::StatusOr<int>& r) { observer_saw_error = !r.ok(); });
  observed.Errback(absl::InternalError("boom"));
  EXPECT_TRUE(observer_saw_error);
  EXPECT_TRUE(observed.HasUnhandledError());
  observed.AddBoth([](const absl::StatusOr<int>&) {});
  EXPECT_FALSE(observed.HasUnhandledError());
}

TEST(DeferredTest, ConsumeErrorMarksAFailureHandled) {
  Deferred<int> d = Deferred<int>::Fail(absl::InternalError("boom"));
  EXPECT_TRUE(d.HasUnhandledError());
  d.ConsumeError();
  EXPECT_FALSE(d.HasUnhandledError());
}

TEST(DeferredTest, SuccessIsNeverAnUnhandledError) {
  Deferred<int> d = Deferred<int>::Succeed(1);
  EXPECT_FALSE(d.HasUnhandledError());
}

TEST(DeferredTest, CallbackMayDropTheLastOutsideHandle) {
  auto holder = std::make_unique<Deferred<int>>();
  std::vector<std::string> order;
  holder->AddCallback([&](const int&) {
    holder.reset();  // the Deferred's state must survive its own callbacks
    order.push_back("first");
  });
  holder->AddCallback([&](const int&) { order.push_back("second"); });
  EXPECT_TRUE(holder->Callback(1));  // the handle firing it is gone meanwhile
  EXPECT_THAT(order, ElementsAre("first", "second"));
}

}  // namespace
}  // namespace ampmr::amp
