#include "common/amp/deferred_list.h"

#include <memory>
#include <optional>
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
using ::testing::Optional;

using ListResult = absl::StatusOr<DeferredListResult<int>>;

std::vector<Deferred<int>> MakeInputs(int n) { return std::vector<Deferred<int>>(n); }

TEST(DeferredListTest, ResultsAreInInputOrderWhateverTheFiringOrder) {
  auto inputs = MakeInputs(3);
  Deferred<DeferredListResult<int>> list = DeferredList(inputs);
  std::optional<ListResult> got;
  list.AddBoth([&](const ListResult& r) { got = r; });

  inputs[2].Callback(20);
  inputs[0].Callback(0);
  EXPECT_FALSE(got.has_value()) << "fired before every input fired";
  inputs[1].Callback(10);

  ASSERT_TRUE(got.has_value());
  ASSERT_THAT(*got, IsOk());
  const auto& results = (*got)->results;
  ASSERT_EQ(results.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(results[i].has_value());
    ASSERT_THAT(*results[i], IsOk());
    EXPECT_EQ(**results[i], i * 10);
  }
  EXPECT_EQ((*got)->index, -1);
}

TEST(DeferredListTest, ByDefaultFailuresAreResultsNotAFailedList) {
  auto inputs = MakeInputs(2);
  auto list = DeferredList(inputs);
  std::optional<ListResult> got;
  list.AddBoth([&](const ListResult& r) { got = r; });
  inputs[0].Errback(absl::NotFoundError("input /x missing"));
  EXPECT_FALSE(got.has_value());
  inputs[1].Callback(1);
  ASSERT_TRUE(got.has_value());
  ASSERT_THAT(*got, IsOk());
  EXPECT_THAT(*(*got)->results[0], StatusIs(absl::StatusCode::kNotFound, "input /x missing"));
  EXPECT_EQ(*(*(*got)->results[1]), 1);
  inputs[0].ConsumeError();
}

TEST(DeferredListTest, AlreadyFiredInputsCount) {
  std::vector<Deferred<int>> inputs = {Deferred<int>::Succeed(1), Deferred<int>::Succeed(2)};
  auto list = DeferredList(inputs);
  ASSERT_TRUE(list.fired());
  ASSERT_THAT(list.result(), IsOk());
  EXPECT_EQ(*(*list.result()->results[1]), 2);
}

TEST(DeferredListTest, FireOnOneCallbackFiresAtTheFirstSuccessWithItsIndex) {
  auto inputs = MakeInputs(3);
  DeferredListOptions options;
  options.fire_on_one_callback = true;
  auto list = DeferredList(inputs, options);
  std::optional<ListResult> got;
  list.AddBoth([&](const ListResult& r) { got = r; });

  inputs[0].Errback(absl::AbortedError("attempt failed"));
  EXPECT_FALSE(got.has_value()) << "an error must not fire a fire_on_one_callback list";
  inputs[2].Callback(22);
  ASSERT_TRUE(got.has_value());
  ASSERT_THAT(*got, IsOk());
  EXPECT_EQ((*got)->index, 2);
  EXPECT_EQ(*(*(*got)->results[2]), 22);
  EXPECT_THAT(*(*got)->results[0], StatusIs(absl::StatusCode::kAborted));
  EXPECT_FALSE((*got)->results[1].has_value()) << "input 1 had not fired";

  // Later results do not fire the list again.
  inputs[1].Callback(11);
  EXPECT_EQ((*got)->index, 2);
  inputs[0].ConsumeError();
}

TEST(DeferredListTest, FireOnOneCallbackWithNoSuccessFiresWithAllResults) {
  auto inputs = MakeInputs(2);
  DeferredListOptions options;
  options.fire_on_one_callback = true;
  options.consume_errors = true;
  auto list = DeferredList(inputs, options);
  inputs[0].Errback(absl::AbortedError("a"));
  EXPECT_FALSE(list.fired());
  inputs[1].Errback(absl::AbortedError("b"));
  ASSERT_TRUE(list.fired());
  ASSERT_THAT(list.result(), IsOk());
  EXPECT_EQ(list.result()->index, -1);
  EXPECT_THAT(*list.result()->results[1], StatusIs(absl::StatusCode::kAborted, "b"));
}

TEST(DeferredListTest, FireOnOneErrbackFailsWithTheFirstErrorAndItsIndex) {
  auto inputs = MakeInputs(3);
  DeferredListOptions options;
  options.fire_on_one_errback = true;
  auto list = DeferredList(inputs, options);
  std::optional<ListResult> got;
  list.AddBoth([&](const ListResult& r) { got = r; });

  inputs[0].Callback(0);
  EXPECT_FALSE(got.has_value());
  inputs[2].Errback(absl::FailedPreconditionError("job=j7 task=m12 attempts exhausted"));
  ASSERT_TRUE(got.has_value());
  EXPECT_THAT(
      *got, StatusIs(absl::StatusCode::kFailedPrecondition, "job=j7 task=m12 attempts exhausted"));
  EXPECT_THAT(FirstErrorIndex(got->status()), Optional(2));

  // A second failure does not change the list's error.
  inputs[1].Errback(absl::DataLossError("later"));
  EXPECT_THAT(list.result(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(FirstErrorIndex(list.result().status()), Optional(2));
  inputs[1].ConsumeError();
  inputs[2].ConsumeError();
}

TEST(DeferredListTest, FireOnOneErrbackWithAllSuccessesFiresWithResults) {
  auto inputs = MakeInputs(2);
  DeferredListOptions options;
  options.fire_on_one_errback = true;
  auto list = DeferredList(inputs, options);
  inputs[1].Callback(1);
  inputs[0].Callback(0);
  ASSERT_TRUE(list.fired());
  ASSERT_THAT(list.result(), IsOk());
  EXPECT_EQ(*(*list.result()->results[0]), 0);
}

TEST(DeferredListTest, FirstErrorIndexIsAbsentOnOtherStatuses) {
  EXPECT_EQ(FirstErrorIndex(absl::InternalError("x")), std::nullopt);
  EXPECT_EQ(FirstErrorIndex(absl::OkStatus()), std::nullopt);
}

TEST(DeferredListTest, WithoutConsumeErrorsChildErrorsStayUnhandled) {
  auto inputs = MakeInputs(2);
  auto list = DeferredList(inputs);
  inputs[0].Errback(absl::InternalError("boom"));
  inputs[1].Callback(1);
  ASSERT_TRUE(list.fired());
  EXPECT_TRUE(inputs[0].HasUnhandledError())
      << "as in Twisted, the list passes failures on to their owners";
  inputs[0].ConsumeError();
}

TEST(DeferredListTest, WithConsumeErrorsChildErrorsAreHandled) {
  auto inputs = MakeInputs(2);
  DeferredListOptions options;
  options.consume_errors = true;
  auto list = DeferredList(inputs, options);
  inputs[0].Errback(absl::InternalError("boom"));
  inputs[1].Errback(absl::InternalError("bang"));
  ASSERT_TRUE(list.fired());
  EXPECT_FALSE(inputs[0].HasUnhandledError());
  EXPECT_FALSE(inputs[1].HasUnhandledError());
  EXPECT_FALSE(list.HasUnhandledError());  // the list itself succeeded
}

TEST(DeferredListTest, EmptyListFiresAtOnceWithNoResults) {
  auto list = DeferredList(std::vector<Deferred<int>>{});
  ASSERT_TRUE(list.fired());
  ASSERT_THAT(list.result(), IsOk());
  EXPECT_TRUE(list.result()->results.empty());

  DeferredListOptions errback;
  errback.fire_on_one_errback = true;
  EXPECT_TRUE(DeferredList(std::vector<Deferred<int>>{}, errback).fired());
}

TEST(DeferredListTest, EmptyListWithFireOnOneCallbackNeverFires) {
  DeferredListOptions options;
  options.fire_on_one_callback = true;
  auto list = DeferredList(std::vector<Deferred<int>>{}, options);
  EXPECT_FALSE(list.fired());
}

TEST(DeferredListTest, CancellingTheListCancelsTheUnfiredChildren) {
  std::vector<int> cancelled;
  std::vector<Deferred<int>> inputs;
  for (int i = 0; i < 3; ++i) {
    inputs.emplace_back([&cancelled, i](Deferred<int>) { cancelled.push_back(i); });
  }
  auto list = DeferredList(inputs);
  inputs[1].Callback(1);
  list.Cancel();

  EXPECT_THAT(cancelled, ElementsAre(0, 2));
  EXPECT_THAT(inputs[0].result(), StatusIs(absl::StatusCode::kCancelled));
  EXPECT_THAT(inputs[1].result(), IsOk());
  EXPECT_THAT(inputs[2].result(), StatusIs(absl::StatusCode::kCancelled));
  // As in Twisted, the list then fires with every child's result.
  ASSERT_TRUE(list.fired());
  ASSERT_THAT(list.result(), IsOk());
  EXPECT_THAT(*list.result()->results[0], StatusIs(absl::StatusCode::kCancelled));
  EXPECT_EQ(*(*list.result()->results[1]), 1);
  inputs[0].ConsumeError();
  inputs[2].ConsumeError();
}

TEST(DeferredListTest, CancellingAFireOnOneErrbackListFailsItCancelled) {
  auto inputs = MakeInputs(2);
  DeferredListOptions options;
  options.fire_on_one_errback = true;
  options.consume_errors = true;
  auto list = DeferredList(inputs, options);
  list.Cancel();
  EXPECT_THAT(list.result(), StatusIs(absl::StatusCode::kCancelled));
  EXPECT_THAT(inputs[1].result(), StatusIs(absl::StatusCode::kCancelled));
  list.ConsumeError();
}

TEST(DeferredListTest, CancellingAFiredListLeavesTheChildrenAlone) {
  auto inputs = MakeInputs(2);
  DeferredListOptions options;
  options.fire_on_one_callback = true;
  auto list = DeferredList(inputs, options);
  inputs[0].Callback(0);
  ASSERT_TRUE(list.fired());
  list.Cancel();
  EXPECT_FALSE(inputs[1].fired());
  inputs[1].Callback(1);
}

TEST(DeferredListTest, ErrbackMayCancelTheRestOfTheInputs) {
  // The master's map phase: the first task that fails for good fails the job,
  // and the job cancels the tasks still running.
  auto inputs = MakeInputs(3);
  DeferredListOptions options;
  options.fire_on_one_errback = true;
  options.consume_errors = true;
  auto list = DeferredList(inputs, options);
  list.AddErrback([&](const absl::Status&) {
    for (auto& d : inputs) d.Cancel();
  });
  inputs[1].Errback(absl::FailedPreconditionError("task=m1 failed"));
  EXPECT_THAT(inputs[0].result(), StatusIs(absl::StatusCode::kCancelled));
  EXPECT_THAT(inputs[2].result(), StatusIs(absl::StatusCode::kCancelled));
  EXPECT_THAT(list.result(), StatusIs(absl::StatusCode::kFailedPrecondition, "task=m1 failed"));
  EXPECT_THAT(FirstErrorIndex(list.result().status()), Optional(1));
}

TEST(DeferredListTest, AFiredListNoLongerHoldsItsUnfiredInputs) {
  auto sentinel = std::make_shared<int>(0);
  std::weak_ptr<int> watch = sentinel;
  {
    std::vector<Deferred<int>> inputs(1);
    inputs.emplace_back([sentinel](Deferred<int>) {});  // never fires
    sentinel.reset();
    DeferredListOptions options;
    options.fire_on_one_errback = true;
    options.consume_errors = true;
    auto list = DeferredList(inputs, options);
    inputs[0].Errback(absl::AbortedError("first"));
    ASSERT_TRUE(list.fired());
    list.ConsumeError();
  }
  // Nobody can fire input 1 any more; the list must not keep it (and, through
  // its callback, itself) alive.
  EXPECT_TRUE(watch.expired());
}

TEST(GatherResultsTest, UnwrapsValuesInInputOrder) {
  auto inputs = MakeInputs(3);
  Deferred<std::vector<int>> all = GatherResults(inputs);
  inputs[1].Callback(10);
  inputs[2].Callback(20);
  EXPECT_FALSE(all.fired());
  inputs[0].Callback(0);
  ASSERT_TRUE(all.fired());
  ASSERT_THAT(all.result(), IsOk());
  EXPECT_THAT(*all.result(), ElementsAre(0, 10, 20));
}

TEST(GatherResultsTest, FailsWithTheFirstError) {
  auto inputs = MakeInputs(3);
  Deferred<std::vector<int>> all = GatherResults(inputs, /*consume_errors=*/true);
  inputs[0].Callback(0);
  inputs[1].Errback(absl::UnavailableError("worker=w3 lost"));
  ASSERT_TRUE(all.fired());
  EXPECT_THAT(all.result(), StatusIs(absl::StatusCode::kUnavailable, "worker=w3 lost"));
  EXPECT_THAT(FirstErrorIndex(all.result().status()), Optional(1));
  EXPECT_FALSE(inputs[1].HasUnhandledError());
  inputs[2].Errback(absl::InternalError("later"));
  EXPECT_THAT(all.result(), StatusIs(absl::StatusCode::kUnavailable));
  all.ConsumeError();
}

TEST(GatherResultsTest, WithoutConsumeErrorsTheChildErrorStaysUnhandled) {
  auto inputs = MakeInputs(1);
  Deferred<std::vector<int>> all = GatherResults(inputs);
  inputs[0].Errback(absl::InternalError("boom"));
  EXPECT_TRUE(inputs[0].HasUnhandledError());
  EXPECT_TRUE(all.HasUnhandledError());
  inputs[0].ConsumeError();
  all.ConsumeError();
}

TEST(GatherResultsTest, EmptyInputGivesAnEmptyVectorAtOnce) {
  Deferred<std::vector<int>> all = GatherResults(std::vector<Deferred<int>>{});
  ASSERT_TRUE(all.fired());
  ASSERT_THAT(all.result(), IsOk());
  EXPECT_TRUE(all.result()->empty());
}

TEST(GatherResultsTest, CancelCancelsTheChildren) {
  auto inputs = MakeInputs(2);
  Deferred<std::vector<int>> all = GatherResults(inputs, /*consume_errors=*/true);
  all.Cancel();
  EXPECT_THAT(inputs[0].result(), StatusIs(absl::StatusCode::kCancelled));
  EXPECT_THAT(inputs[1].result(), StatusIs(absl::StatusCode::kCancelled));
  EXPECT_THAT(all.result(), StatusIs(absl::StatusCode::kCancelled));
  all.ConsumeError();
}

}  // namespace
}  // namespace ampmr::amp
