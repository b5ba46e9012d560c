#include "common/loop.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ampmr {
namespace {

using ::testing::ElementsAre;

// Generous: only reached when something is broken.
constexpr absl::Duration kWait = absl::Seconds(10);

// A one-shot signal between threads, waited on with a deadline.
class Event {
 public:
  void Notify() {
    std::lock_guard<std::mutex> lock(mu_);
    set_ = true;
    cv_.notify_all();
  }
  bool WaitFor(absl::Duration d) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoNanoseconds(d), [this] { return set_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool set_ = false;
};

// Appends from the loop thread, reads from the test thread after an Event.
class Recorder {
 public:
  void Add(std::string s) {
    std::lock_guard<std::mutex> lock(mu_);
    items_.push_back(std::move(s));
  }
  std::vector<std::string> items() {
    std::lock_guard<std::mutex> lock(mu_);
    return items_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> items_;
};

TEST(ThreadLoopTest, RunsPostsInOrderOnOneThreadThatIsNotTheCaller) {
  ThreadLoop loop;
  loop.Start("loop-test");
  constexpr int kPosts = 1000;
  std::vector<int> order;  // touched only on the loop thread until `done`
  std::vector<std::thread::id> threads;
  bool in_loop_thread = true;
  Event done;
  for (int i = 0; i < kPosts; ++i) {
    loop.Post([&, i] {
      order.push_back(i);
      threads.push_back(std::this_thread::get_id());
      in_loop_thread = in_loop_thread && loop.InLoopThread();
    });
  }
  loop.Post([&] { done.Notify(); });
  ASSERT_TRUE(done.WaitFor(kWait));

  ASSERT_EQ(order.size(), kPosts);
  for (int i = 0; i < kPosts; ++i) EXPECT_EQ(order[i], i);
  for (const auto& id : threads) EXPECT_EQ(id, threads.front());
  EXPECT_NE(threads.front(), std::this_thread::get_id());
  EXPECT_TRUE(in_loop_thread);
  EXPECT_FALSE(loop.InLoopThread());
}

TEST(ThreadLoopTest, WorkPostedFromTheLoopRunsAfterWhatWasAlreadyQueued) {
  ThreadLoop loop;
  loop.Start("loop-test");
  Recorder rec;
  Event done, release;
  loop.Post([&] { release.WaitFor(kWait); });  // hold the loop until a and b are queued
  loop.Post([&] {
    rec.Add("a");
    loop.Post([&] {
      rec.Add("c");
      done.Notify();
    });
  });
  loop.Post([&] { rec.Add("b"); });
  release.Notify();
  ASSERT_TRUE(done.WaitFor(kWait));
  EXPECT_THAT(rec.items(), ElementsAre("a", "b", "c"));
}

TEST(ThreadLoopTest, TimersRunInDeadlineOrderNotCreationOrder) {
  ThreadLoop loop;
  loop.Start("loop-test");
  Recorder rec;
  Event done;
  absl::Time start;
  // Set from the loop thread, back to back, so the deadlines are as asked.
  loop.Post([&] {
    start = absl::Now();
    loop.RunAfter(absl::Milliseconds(90), [&] {
      rec.Add("90ms");
      done.Notify();
    });
    loop.RunAfter(absl::Milliseconds(30), [&] { rec.Add("30ms"); });
    loop.RunAfter(absl::Milliseconds(60), [&] { rec.Add("60ms"); });
    loop.RunAfter(absl::ZeroDuration(), [&] { rec.Add("0ms"); });
  });
  ASSERT_TRUE(done.WaitFor(kWait));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(90));
  EXPECT_THAT(rec.items(), ElementsAre("0ms", "30ms", "60ms", "90ms"));
}

TEST(ThreadLoopTest, CancelledTimerDoesNotRun) {
  ThreadLoop loop;
  loop.Start("loop-test");
  std::atomic<bool> cancelled_ran{false};
  Event done;
  Loop::TimerId id = 0;
  // Set and cancelled from the loop thread, which cannot run it in between.
  loop.Post([&] {
    id = loop.RunAfter(absl::Milliseconds(1), [&] { cancelled_ran = true; });
    loop.CancelTimer(id);
    // A later timer proves the loop has passed the cancelled one's deadline.
    loop.RunAfter(absl::Milliseconds(20), [&] { done.Notify(); });
  });
  ASSERT_TRUE(done.WaitFor(kWait));
  EXPECT_FALSE(cancelled_ran);
  loop.CancelTimer(id);  // cancelling again, from another thread, is a no-op
}

TEST(ThreadLoopTest, TimerCancelledByAnEarlierDueTimerDoesNotRun) {
  ThreadLoop loop;
  loop.Start("loop-test");
  Recorder rec;
  Event timers_set, done;
  Loop::TimerId second = 0;
  absl::Time both_due;  // written before timers_set
  // Keep the loop busy until both timers below are set and due, so they come
  // due in the same turn of the loop.
  loop.Post([&] {
    timers_set.WaitFor(kWait);
    while (absl::Now() < both_due) std::this_thread::yield();
  });
  loop.RunAfter(absl::Milliseconds(1), [&] {
    rec.Add("first");
    loop.CancelTimer(second);
  });
  second = loop.RunAfter(absl::Milliseconds(2), [&] { rec.Add("second"); });
  both_due = absl::Now() + absl::Milliseconds(2);
  timers_set.Notify();
  loop.RunAfter(absl::Milliseconds(20), [&] { done.Notify(); });
  ASSERT_TRUE(done.WaitFor(kWait));
  EXPECT_THAT(rec.items(), ElementsAre("first"));
}

TEST(ThreadLoopTest, StopRunsWhatWasPostedAndDropsLaterPosts) {
  Recorder rec;
  auto loop = std::make_unique<ThreadLoop>();
  loop->Start("loop-test");
  Event release;
  loop->Post([&] { release.WaitFor(kWait); });  // busy while more is queued
  loop->Post([&] { rec.Add("queued before stop"); });
  std::thread stopper([&] { loop->Stop(); });
  release.Notify();
  stopper.join();
  loop->Post([&] { rec.Add("posted after stop"); });
  loop->Stop();  // idempotent
  loop.reset();
  EXPECT_THAT(rec.items(), ElementsAre("queued before stop"));
}

TEST(ThreadLoopTest, StopEndsTheThreadWithATimerStillPending) {
  ThreadLoop loop;
  loop.Start("loop-test");
  std::atomic<bool> ran{false};
  loop.RunAfter(absl::Hours(1), [&] { ran = true; });
  loop.Stop();  // would hang if the loop waited for the timer
  EXPECT_FALSE(ran);
}

TEST(ThreadLoopTest, NowIsTheRealClock) {
  ThreadLoop loop;
  absl::Time before = absl::Now();
  absl::Time now = loop.Now();
  EXPECT_GE(now, before);
  EXPECT_LE(now, absl::Now());
}

TEST(FakeLoopTest, NothingRunsUntilAsked) {
  FakeLoop loop;
  int ran = 0;
  loop.Post([&] { ++ran; });
  loop.RunAfter(absl::ZeroDuration(), [&] { ++ran; });
  EXPECT_EQ(ran, 0);
  EXPECT_EQ(loop.RunPending(), 1);  // posts only, not even a zero-delay timer
  EXPECT_EQ(ran, 1);
  loop.AdvanceTime(absl::ZeroDuration());
  EXPECT_EQ(ran, 2);
}

TEST(FakeLoopTest, RunPendingRunsWhatPostedWorkPostsInOrder) {
  FakeLoop loop;
  std::vector<std::string> order;
  loop.Post([&] {
    order.push_back("a");
    loop.Post([&] { order.push_back("c"); });
  });
  loop.Post([&] { order.push_back("b"); });
  EXPECT_EQ(loop.RunPending(), 3);
  EXPECT_THAT(order, ElementsAre("a", "b", "c"));
  EXPECT_EQ(loop.RunPending(), 0);
}

TEST(FakeLoopTest, AdvanceTimeRunsOnlyDueTimersAtTheirDeadlines) {
  absl::Time start = absl::FromUnixSeconds(1000);
  FakeLoop loop(start);
  std::vector<std::string> order;
  std::vector<absl::Time> seen_now;
  auto timer = [&](std::string name) {
    return [&, name] {
      order.push_back(name);
      seen_now.push_back(loop.Now());
    };
  };
  loop.RunAfter(absl::Seconds(30), timer("30s"));
  loop.RunAfter(absl::Seconds(10), timer("10s"));
  loop.RunAfter(absl::Seconds(20), timer("20s"));

  loop.AdvanceTime(absl::Seconds(15));
  EXPECT_THAT(order, ElementsAre("10s"));
  EXPECT_EQ(loop.Now(), start + absl::Seconds(15));

  loop.AdvanceTime(absl::Seconds(5));  // exactly at the 20s deadline
  EXPECT_THAT(order, ElementsAre("10s", "20s"));

  loop.AdvanceTime(absl::Seconds(100));
  EXPECT_THAT(order, ElementsAre("10s", "20s", "30s"));
  EXPECT_THAT(seen_now, ElementsAre(start + absl::Seconds(10), start + absl::Seconds(20),
                                    start + absl::Seconds(30)));
  EXPECT_EQ(loop.Now(), start + absl::Seconds(120));
}

TEST(FakeLoopTest, TimersWithOneDeadlineRunInCreationOrder) {
  FakeLoop loop;
  std::vector<int> order;
  for (int i = 0; i < 5; ++i) loop.RunAfter(absl::Seconds(1), [&, i] { order.push_back(i); });
  loop.AdvanceTime(absl::Seconds(1));
  EXPECT_THAT(order, ElementsAre(0, 1, 2, 3, 4));
}

TEST(FakeLoopTest, PostedWorkIsDrainedAfterEachTimer) {
  FakeLoop loop;
  std::vector<std::string> order;
  loop.RunAfter(absl::Seconds(1), [&] {
    order.push_back("timer1");
    loop.Post([&] { order.push_back("post from timer1"); });
  });
  loop.RunAfter(absl::Seconds(2), [&] { order.push_back("timer2"); });
  loop.AdvanceTime(absl::Seconds(5));
  EXPECT_THAT(order, ElementsAre("timer1", "post from timer1", "timer2"));
}

TEST(FakeLoopTest, TimerSetByATimerRunsIfDueWithinTheAdvance) {
  FakeLoop loop;
  std::vector<std::string> order;
  loop.RunAfter(absl::Seconds(1), [&] {
    order.push_back("outer");
    loop.RunAfter(absl::Seconds(1), [&] { order.push_back("inner at 2s"); });
    loop.RunAfter(absl::Seconds(10), [&] { order.push_back("inner at 11s"); });
  });
  loop.AdvanceTime(absl::Seconds(3));
  EXPECT_THAT(order, ElementsAre("outer", "inner at 2s"));
  loop.AdvanceTime(absl::Seconds(8));
  EXPECT_THAT(order, ElementsAre("outer", "inner at 2s", "inner at 11s"));
}

TEST(FakeLoopTest, CancelledTimersDoNotRun) {
  FakeLoop loop;
  std::vector<std::string> order;
  Loop::TimerId b = 0;
  Loop::TimerId c = loop.RunAfter(absl::Seconds(3), [&] { order.push_back("c"); });
  loop.RunAfter(absl::Seconds(1), [&] {
    order.push_back("a");
    loop.CancelTimer(b);  // due in the same advance, cancelled before it runs
  });
  b = loop.RunAfter(absl::Seconds(2), [&] { order.push_back("b"); });
  loop.CancelTimer(c);
  loop.AdvanceTime(absl::Seconds(5));
  EXPECT_THAT(order, ElementsAre("a"));
}

}  // namespace
}  // namespace ampmr
