// Scheduler decisions with fake jobs (TaskSources that record what they were
// asked to start) over a real WorkerRegistry of fake workers; the test ends
// attempts itself, in the order it chooses, and feeds durations from a fake
// clock.
#include "master/scheduler.h"

#include <algorithm>
#include <cmath>
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

// A job with `n` map tasks and `reduces` reduce tasks that records every
// attempt it is asked to start. Its reduces may start once `slowstart` of its
// maps are done (early, holding their slots, until every map is done), as
// JobRun's, unless `blocked`.
class FakeJob : public TaskSource {
 public:
  FakeJob(std::string name, int priority, int n, int reduces = 0, double slowstart = 1)
      : name_(std::move(name)), priority_(priority), slowstart_(slowstart) {
    for (int i = 0; i < n + reduces; ++i) {
      auto task = std::make_unique<Task>();
      task->kind = i < n ? Task::Kind::kMap : Task::Kind::kReduce;
      task->index = i < n ? i : i - n;
      tasks.push_back(std::move(task));
    }
    maps_ = n;
  }

  int priority() const override { return priority_; }
  ReduceStart reduce_start() const override {
    if (blocked) return ReduceStart::kNotYet;
    const int done = MapsDone();
    if (done == maps_) return ReduceStart::kNow;
    return done >= std::ceil(slowstart_ * maps_ - 1e-9) ? ReduceStart::kEarly
                                                        : ReduceStart::kNotYet;
  }
  void StartAttempt(Task* task, WorkerState* worker) override {
    registry->AttemptStarted(worker);
    Attempt attempt;
    attempt.id = absl::StrCat(name_, "-", task->id(), "-a", ++task->attempts_started);
    attempt.worker_id = worker->id;
    attempt.start = loop->Now();
    if (!task->is_map() && MapsDone() < maps_) {
      attempt.waiting_for_maps = true;
      registry->HoldSlot(worker);
    }
    task->running.push_back(attempt);
    task->state = Task::State::kRunning;
    started.push_back(task);
    order->push_back(name_);
  }
  bool PreemptEarlyReduce(const std::string& worker_id) override {
    for (auto it = started.rbegin(); it != started.rend(); ++it) {
      Task* task = *it;
      if (task->is_map() || task->running.empty()) continue;
      const Attempt& a = task->running.front();
      if (!a.waiting_for_maps || a.worker_id != worker_id) continue;
      registry->AttemptEnded(worker_id);
      registry->ReleaseSlot(worker_id);
      task->running.clear();
      task->state = Task::State::kPending;
      preempted.push_back(task->id());
      scheduler->AttemptEnded(this);
      scheduler->Enqueue(this, task);
      return true;
    }
    return false;
  }
  // Every map is done: the early reduces have all their inputs.
  void OnMapDone() {
    if (MapsDone() < maps_) return;
    for (Task* task : started) {
      for (Attempt& a : task->running) {
        if (!a.waiting_for_maps) continue;
        a.waiting_for_maps = false;
        registry->ReleaseSlot(a.worker_id);
      }
    }
  }
  int MapsDone() const {
    int done = 0;
    for (const auto& t : tasks) done += t->is_map() && t->state == Task::State::kDone;
    return done;
  }
  // Attempts of reduces running.
  int RunningReduces() const {
    int n = 0;
    for (const auto& t : tasks) n += t->is_map() ? 0 : static_cast<int>(t->running.size());
    return n;
  }

  const std::string name_;
  const int priority_;
  const double slowstart_;
  int maps_ = 0;
  bool blocked = false;
  WorkerRegistry* registry = nullptr;
  Scheduler* scheduler = nullptr;
  Loop* loop = nullptr;
  std::vector<std::string>* order = nullptr;  // every start, by job name
  std::vector<std::unique_ptr<Task>> tasks;
  std::vector<Task*> started;
  std::vector<std::string> preempted;  // task ids, in order
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
  FakeJob* AddJob(const std::string& name, int priority, int tasks, int reduces = 0,
                  double slowstart = 1) {
    jobs.push_back(std::make_unique<FakeJob>(name, priority, tasks, reduces, slowstart));
    FakeJob* job = jobs.back().get();
    job->registry = &registry;
    job->scheduler = &scheduler;
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
      job->OnMapDone();
      scheduler.Schedule();
      return;
    }
    FAIL() << "no running attempt of " << job->name_;
  }
  // Ends the oldest running map attempt of `job` successfully.
  void FinishMap(FakeJob* job) {
    for (Task* task : job->started) {
      if (!task->is_map() || task->running.empty() || task->state == Task::State::kDone) continue;
      EndAttempt(job, task);
      task->state = Task::State::kDone;
      job->OnMapDone();
      scheduler.Schedule();
      return;
    }
    FAIL() << "no running map attempt of " << job->name_;
  }
  void EndAttempt(FakeJob* job, Task* task) {
    Attempt a = task->running.front();
    task->running.erase(task->running.begin());
    registry.AttemptEnded(a.worker_id);
    if (a.waiting_for_maps) registry.ReleaseSlot(a.worker_id);
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
  FakeJob* waiting = c.AddJob("waiting", 0, 0, 10);
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

// Slow start: reduces start once the fraction of maps is done, early, on
// slots that no map wants; until then a free slot stays idle.
TEST(SchedulerTest, ReducesWaitForTheSlowStartFraction) {
  Cluster c;
  c.AddWorkers(1, 4);
  FakeJob* job = c.AddJob("j", 0, 10, 2, /*slowstart=*/0.8);
  c.scheduler.Schedule();
  EXPECT_EQ(c.Running(job), 4);
  for (int i = 0; i < 7; ++i) c.FinishMap(job);
  // 7 maps done, 3 running, none queued: a slot is free, but 7 < 8.
  EXPECT_EQ(job->MapsDone(), 7);
  EXPECT_EQ(job->RunningReduces(), 0);
  EXPECT_EQ(c.Running(job), 3);
  c.FinishMap(job);
  // 8 of 10: both reduces start on the two idle slots, holding them.
  EXPECT_EQ(job->RunningReduces(), 2);
  EXPECT_EQ(c.registry.held_slots(), 2);
  c.FinishMap(job);
  c.FinishMap(job);
  // Every map done: the reduces have all they wait for.
  EXPECT_EQ(c.registry.held_slots(), 0);
  EXPECT_EQ(job->RunningReduces(), 2);
}

TEST(SchedulerTest, EarlyReducesNeverTakeASlotAQueuedMapWants) {
  Cluster c;
  c.AddWorkers(1, 2);
  // Reduces of `a` may start at once; `b` has maps to run.
  FakeJob* a = c.AddJob("a", 0, 1, 1, /*slowstart=*/0);
  FakeJob* b = c.AddJob("b", 0, 6);
  c.scheduler.Schedule();
  EXPECT_EQ(c.Running(a), 1);  // a's map
  EXPECT_EQ(c.Running(b), 1);
  // While b has maps queued, every slot freed goes to one of them.
  for (int i = 0; i < 4; ++i) {
    c.Finish(b);
    EXPECT_EQ(a->RunningReduces(), 0) << i;
    EXPECT_EQ(c.Running(b), 1) << i;
  }
  c.Finish(b);  // b's last map takes the slot
  EXPECT_EQ(a->RunningReduces(), 0);
  c.Finish(b);  // nothing queued wants it: a's reduce starts, early
  EXPECT_EQ(a->RunningReduces(), 1);
  EXPECT_EQ(c.registry.held_slots(), 1);
  // And within a job, maps first: a map queued again goes before reduces.
  FakeJob* d = c.AddJob("d", 0, 1, 2, /*slowstart=*/0);
  c.scheduler.Schedule();
  EXPECT_EQ(d->RunningReduces(), 0);
  EXPECT_EQ(d->started.size(), 0u);  // no slot free yet
  c.FinishMap(a);                    // a's reduce no longer waits; its map's slot goes to d's map
  ASSERT_EQ(d->started.size(), 1u);
  EXPECT_TRUE(d->started[0]->is_map());
}

// Every slot held by early reduces waiting for a map that must run again
// (its worker was lost): the latest reduce is preempted, queued again and
// not counted, and the map runs.
TEST(SchedulerTest, EarlyReducesArePreemptedWhenMapsNeedTheirSlots) {
  Cluster c;
  c.AddWorkers(2, 1);
  FakeJob* job = c.AddJob("j", 0, 3, 2, /*slowstart=*/0.3);
  c.scheduler.Schedule();
  ASSERT_EQ(c.Running(job), 2);  // m0 on w1, m1 on w2
  c.FinishMap(job);              // m0: m2 takes w1
  c.FinishMap(job);              // m1: r0 takes w2, early
  ASSERT_EQ(job->RunningReduces(), 1);
  Task* m2 = job->tasks[2].get();
  ASSERT_EQ(m2->running.size(), 1u);
  const std::string m2_worker = m2->running[0].worker_id;
  // m2 fails there (it prefers the other worker now) and is queued again.
  c.EndAttempt(job, m2);
  m2->state = Task::State::kPending;
  m2->failed_on.push_back(m2_worker);
  c.scheduler.Enqueue(job, m2);
  c.scheduler.Schedule();
  // r1 took w1 (nothing could use it: m2 avoids it), then m2 wanted w2,
  // held by r0: r0 went.
  ASSERT_EQ(m2->running.size(), 1u);
  EXPECT_NE(m2->running[0].worker_id, m2_worker);
  EXPECT_EQ(job->preempted, (std::vector<std::string>{"r0"}));
  EXPECT_TRUE(job->tasks[3]->queued);
  EXPECT_EQ(job->tasks[3]->attempts_started, 1);
  // A lost worker: the map's worker goes, and its other early reduce holds
  // the only slot left.
  const std::string lost = m2->running[0].worker_id;
  c.EndAttempt(job, m2);
  m2->state = Task::State::kPending;
  m2->failed_on.clear();
  c.registry.Remove(lost);
  c.scheduler.Enqueue(job, m2);
  c.scheduler.Schedule();
  ASSERT_EQ(m2->running.size(), 1u);
  EXPECT_EQ(job->preempted, (std::vector<std::string>{"r0", "r1"}));
  EXPECT_EQ(c.registry.held_slots(), 0);
  // m2 done: both reduces run in turn, each started once more, never failed.
  c.FinishMap(job);
  while (job->RunningReduces() > 0) c.Finish(job);
  for (int r = 3; r < 5; ++r) {
    EXPECT_EQ(job->tasks[r]->state, Task::State::kDone);
    EXPECT_EQ(job->tasks[r]->attempts_started, 2);
  }
}

// Without faults, slow start runs every task once: attempts end in random
// order, with jobs of maps and reduces arriving midway.
TEST(SchedulerTest, NoTaskRunsTwiceWithoutAFaultUnderSlowStart) {
  Cluster c;
  c.AddWorkers(3, 2);
  std::mt19937 rng(11);
  std::vector<FakeJob*> jobs;
  for (int j = 0; j < 3; ++j) {
    jobs.push_back(c.AddJob(absl::StrCat("j", j), j % 2, 20 + 10 * j, 3 + j, 0.05 * j));
  }
  c.scheduler.Schedule();
  for (int step = 0; step < 5000; ++step) {
    if (step == 40) jobs.push_back(c.AddJob("late", 0, 15, 4, 0.1));
    std::vector<std::pair<FakeJob*, Task*>> running;
    for (FakeJob* j : jobs) {
      for (Task* t : j->started) {
        // Reduces waiting for maps cannot end.
        if (!t->running.empty() && !t->running[0].waiting_for_maps) running.emplace_back(j, t);
      }
    }
    if (running.empty()) break;
    auto [job, task] = running[rng() % running.size()];
    c.loop.AdvanceTime(absl::Milliseconds(rng() % 200));
    c.EndAttempt(job, task);
    task->state = Task::State::kDone;
    job->OnMapDone();
    c.scheduler.Schedule();
  }
  for (FakeJob* j : jobs) {
    EXPECT_TRUE(j->preempted.empty()) << j->name_;
    for (const auto& t : j->tasks) {
      EXPECT_EQ(t->attempts_started, 1) << j->name_ << " " << t->id();
      EXPECT_EQ(t->state, Task::State::kDone) << j->name_ << " " << t->id();
    }
  }
  EXPECT_EQ(c.scheduler.queued(), 0u);
  EXPECT_EQ(c.registry.held_slots(), 0);
}

}  // namespace
}  // namespace ampmr::master
