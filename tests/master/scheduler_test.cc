// Scheduler decisions with fake jobs (TaskSources that record what they were
// asked to start) over a real WorkerRegistry of fake workers; the test ends
// attempts itself, in the order it chooses, and feeds durations from a fake
// clock.
#include "master/scheduler.h"

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/loop.h"
#include "gtest/gtest.h"
#include "tests/master/fake_worker.h"

namespace ampmr::master {
namespace {

// A job with `n` map tasks that records every attempt it is asked to start.
class FakeJob : public TaskSource {
 public:
  FakeJob(std::string name, int priority, int n) : name_(std::move(name)), priority_(priority) {
    for (int i = 0; i < n; ++i) {
      auto task = std::make_unique<Task>();
      task->index = i;
      tasks.push_back(std::move(task));
    }
  }

  int priority() const override { return priority_; }
  bool CanStart(const Task& task) const override { return !blocked; }
  void StartAttempt(Task* task, WorkerState* worker) override {
    registry->AttemptStarted(worker);
    Attempt attempt;
    attempt.id = absl::StrCat(name_, "-", task->id(), "-a", ++task->attempts_started);
    attempt.worker_id = worker->id;
    attempt.start = loop->Now();
    task->running.push_back(attempt);
    task->state = Task::State::kRunning;
    started.push_back(task);
    order->push_back(name_);
  }

  const std::string name_;
  const int priority_;
  bool blocked = false;
  WorkerRegistry* registry = nullptr;
  Loop* loop = nullptr;
  std::vector<std::string>* order = nullptr;  // every start, by job name
  std::vector<std::unique_ptr<Task>> tasks;
  std::vector<Task*> started;
};

struct Cluster {
  // One attempt per slot unless `options` says otherwise: the fake attempts
  // end in no time, which would be short tasks, pipelined.
  explicit Cluster(SchedulerOptions options = OnePerSlot()) : scheduler(&registry, options) {}
  static SchedulerOptions OnePerSlot() {
    SchedulerOptions options;
    options.max_pipeline_depth = 1;
    return options;
  }

  void AddWorkers(int n, int slots) {
    for (int i = 0; i < n; ++i) {
      links.push_back(std::make_unique<FakeWorker>());
      v1::Hello hello;
      hello.set_slots(slots);
      registry.Add(hello, links.back().get(), loop.Now());
    }
  }
  FakeJob* AddJob(const std::string& name, int priority, int tasks) {
    jobs.push_back(std::make_unique<FakeJob>(name, priority, tasks));
    FakeJob* job = jobs.back().get();
    job->registry = &registry;
    job->loop = &loop;
    job->order = &order;
    for (auto& t : job->tasks) scheduler.Enqueue(job, t.get());
    return job;
  }
  // Ends the oldest running attempt of `job` successfully, as JobRun would.
  void Finish(FakeJob* job) {
    for (Task* task : job->started) {
      if (task->running.empty() || task->state == Task::State::kDone) continue;
      EndAttempt(job, task);
      task->state = Task::State::kDone;
      scheduler.Schedule();
      return;
    }
    FAIL() << "no running attempt of " << job->name_;
  }
  void EndAttempt(FakeJob* job, Task* task) {
    Attempt a = task->running.front();
    task->running.erase(task->running.begin());
    registry.AttemptEnded(a.worker_id);
    scheduler.AttemptEnded(job);
    scheduler.RecordAttemptDuration(loop.Now() - a.start);
  }
  int Running(FakeJob* job) const { return scheduler.running(job); }
  // Starts of `name` among the last `n` starts.
  int RecentStarts(const std::string& name, size_t n) const {
    size_t from = order.size() > n ? order.size() - n : 0;
    return static_cast<int>(std::count(order.begin() + from, order.end(), name));
  }

  FakeLoop loop;
  WorkerRegistry registry;
  std::vector<std::unique_ptr<FakeWorker>> links;
  Scheduler scheduler;
  std::vector<std::unique_ptr<FakeJob>> jobs;
  std::vector<std::string> order;
};

TEST(SchedulerTest, EqualJobsShareTheSlotsEqually) {
  Cluster c;
  c.AddWorkers(2, 2);
  FakeJob* a = c.AddJob("a", 0, 100);
  FakeJob* b = c.AddJob("b", 0, 100);
  c.scheduler.Schedule();
  EXPECT_EQ(c.Running(a), 2);
  EXPECT_EQ(c.Running(b), 2);
  // A freed slot goes back to the job that freed it, keeping the shares equal.
  c.Finish(a);
  EXPECT_EQ(c.Running(a), 2);
  EXPECT_EQ(c.Running(b), 2);
  // A third job takes the next freed slots until it has its share.
  FakeJob* d = c.AddJob("d", 0, 100);
  c.scheduler.Schedule();
  EXPECT_EQ(c.Running(d), 0);  // nothing free yet: no preemption
  c.Finish(a);
  c.Finish(b);
  // Four slots, three jobs: shares of 2, 1 and 1.
  EXPECT_EQ(c.Running(d), 1);
  EXPECT_EQ(c.Running(a) + c.Running(b), 3);
  EXPECT_GE(std::min(c.Running(a), c.Running(b)), 1);
}

TEST(SchedulerTest, AShareAJobCannotUseGoesToTheOthers) {
  Cluster c;
  c.AddWorkers(2, 2);
  FakeJob* small = c.AddJob("small", 0, 1);
  FakeJob* big = c.AddJob("big", 0, 100);
  c.scheduler.Schedule();
  EXPECT_EQ(c.Running(small), 1);
  EXPECT_EQ(c.Running(big), 3);
  // A job whose tasks may not start yet (reduces waiting) leaves its share too.
  FakeJob* waiting = c.AddJob("waiting", 0, 10);
  waiting->blocked = true;
  c.Finish(small);
  EXPECT_EQ(c.Running(waiting), 0);
  EXPECT_EQ(c.Running(big), 4);
  waiting->blocked = false;
  c.Finish(big);
  EXPECT_EQ(c.Running(waiting), 1);
}

TEST(SchedulerTest, ASmallJobBehindABigOneGetsTheNextFreeSlot) {
  Cluster c;
  c.AddWorkers(2, 2);
  FakeJob* big = c.AddJob("big", 0, 10000);
  c.scheduler.Schedule();
  EXPECT_EQ(c.Running(big), 4);
  FakeJob* small = c.AddJob("small", 0, 1);
  c.scheduler.Schedule();
  c.Finish(big);
  EXPECT_EQ(c.Running(small), 1);
  EXPECT_EQ(c.order.back(), "small");
  EXPECT_EQ(c.scheduler.queued(), 10000u - 4u);
}

TEST(SchedulerTest, HigherPriorityGetsSlotsFirst) {
  Cluster c;
  c.AddWorkers(1, 2);
  FakeJob* low = c.AddJob("low", 0, 10);
  FakeJob* high = c.AddJob("high", 5, 3);
  c.scheduler.Schedule();
  EXPECT_EQ(c.Running(high), 2);
  EXPECT_EQ(c.Running(low), 0);
  // The high job's last task goes before any low one.
  c.Finish(high);
  EXPECT_EQ(c.Running(high), 2);
  EXPECT_EQ(c.Running(low), 0);
  // Once it has nothing queued, its freed slots go to the lower priority.
  c.Finish(high);
  EXPECT_EQ(c.Running(low), 1);
  // A high-priority job arriving later overtakes the queued low tasks.
  FakeJob* urgent = c.AddJob("urgent", 9, 1);
  c.Finish(high);
  EXPECT_EQ(c.Running(urgent), 1);
  EXPECT_EQ(c.Running(low), 1);
}

TEST(SchedulerTest, NoJobOfEqualPriorityStarves) {
  Cluster c;
  c.AddWorkers(1, 1);
  std::vector<FakeJob*> jobs;
  for (int j = 0; j < 5; ++j) jobs.push_back(c.AddJob(absl::StrCat("j", j), 0, 50));
  c.scheduler.Schedule();
  // One slot: every job gets it within one turn of each of the others.
  for (int i = 0; i < 200; ++i) {
    FakeJob* running = nullptr;
    for (FakeJob* j : jobs) {
      if (c.Running(j) > 0) running = j;
    }
    ASSERT_NE(running, nullptr);
    c.loop.AdvanceTime(absl::Seconds(1));  // long tasks: one attempt per slot
    c.Finish(running);
    if (c.order.size() >= 5) {
      for (FakeJob* j : jobs) EXPECT_EQ(c.RecentStarts(j->name_, 5), 1) << "start " << i;
    }
  }
}

TEST(SchedulerTest, ShortTasksArePipelinedUnderSharing) {
  Cluster c(SchedulerOptions{});
  c.AddWorkers(2, 2);
  FakeJob* a = c.AddJob("a", 0, 1000);
  c.scheduler.Schedule();
  // Short attempts: the depth grows and every worker gets slots * depth.
  for (int i = 0; i < 200; ++i) c.Finish(a);
  ASSERT_EQ(c.scheduler.depth(), SchedulerOptions().max_pipeline_depth);
  EXPECT_EQ(c.Running(a), 4 * c.scheduler.depth());
  FakeJob* b = c.AddJob("b", 0, 1000);
  c.scheduler.Schedule();
  for (int i = 0; i < 400; ++i) c.Finish(c.Running(a) >= c.Running(b) ? a : b);
  EXPECT_EQ(c.Running(a) + c.Running(b), 4 * c.scheduler.depth());
  EXPECT_LE(std::abs(c.Running(a) - c.Running(b)), 1);
}

TEST(SchedulerTest, NoTaskRunsTwiceWithoutAFault) {
  Cluster c;
  c.AddWorkers(4, 3);
  std::mt19937 rng(7);
  std::vector<FakeJob*> jobs;
  for (int j = 0; j < 4; ++j) jobs.push_back(c.AddJob(absl::StrCat("j", j), j % 2, 300));
  c.scheduler.Schedule();
  // Attempts end in random order, at random times, and jobs arrive midway.
  for (int step = 0; c.scheduler.queued() > 0 || step < 3000; ++step) {
    if (step == 500) jobs.push_back(c.AddJob("late", 0, 100));
    std::vector<std::pair<FakeJob*, Task*>> running;
    for (FakeJob* j : jobs) {
      for (Task* t : j->started) {
        if (!t->running.empty()) running.emplace_back(j, t);
      }
    }
    if (running.empty()) break;
    auto [job, task] = running[rng() % running.size()];
    c.loop.AdvanceTime(absl::Milliseconds(rng() % 200));
    c.EndAttempt(job, task);
    task->state = Task::State::kDone;
    c.scheduler.Schedule();
  }
  for (FakeJob* j : jobs) {
    for (const auto& t : j->tasks) {
      EXPECT_EQ(t->attempts_started, 1) << t->id();
      EXPECT_EQ(t->state, Task::State::kDone) << t->id();
    }
  }
  EXPECT_EQ(c.scheduler.queued(), 0u);
}

TEST(SchedulerTest, ARemovedJobsTasksAreDropped) {
  Cluster c;
  c.AddWorkers(1, 1);
  FakeJob* a = c.AddJob("a", 0, 5);
  FakeJob* b = c.AddJob("b", 0, 5);
  c.scheduler.Schedule();
  EXPECT_EQ(c.Running(a), 1);
  c.scheduler.RemoveJob(a);
  EXPECT_FALSE(a->tasks[3]->queued);
  EXPECT_EQ(c.scheduler.queued(), 5u);
  // a's attempt ends after it is gone: the slot goes to b.
  Task* t = a->started[0];
  t->running.clear();
  c.registry.AttemptEnded("w1");
  c.scheduler.AttemptEnded(a);
  c.scheduler.Schedule();
  EXPECT_EQ(c.Running(b), 1);
}

TEST(SchedulerTest, AFailedTaskPrefersOtherWorkersAndTheLeastLoaded) {
  Cluster c;
  c.AddWorkers(3, 2);
  FakeJob* a = c.AddJob("a", 0, 1);
  a->tasks[0]->failed_on = {"w1", "w2"};
  c.scheduler.Schedule();
  ASSERT_EQ(a->started.size(), 1u);
  EXPECT_EQ(a->tasks[0]->running[0].worker_id, "w3");
  // The next tasks spread over the least loaded workers.
  FakeJob* b = c.AddJob("b", 0, 3);
  c.scheduler.Schedule();
  std::vector<std::string> where;
  for (Task* t : b->started) where.push_back(t->running[0].worker_id);
  std::sort(where.begin(), where.end());
  EXPECT_EQ(where, (std::vector<std::string>{"w1", "w1", "w2"}));
}

}  // namespace
}  // namespace ampmr::master
