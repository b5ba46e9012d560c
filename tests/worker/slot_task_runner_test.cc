// The real SlotTaskRunner running reduce attempts whose inputs arrive in
// steps (slow start), fetched over real gRPC from a real ShuffleServer on
// loopback that serves map outputs made by real map tasks.
#include "worker/slot_task_runner.h"

#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/task_errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "tests/worker/test_util.h"
#include "worker/job_file_store.h"
#include "worker/map_output_store.h"
#include "worker/shuffle_service.h"
#include "worker/task/map_task.h"

namespace ampmr::worker {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::ampmr::worker::testing::NaiveWordCount;
using ::ampmr::worker::testing::ParseCountLines;
using ::ampmr::worker::testing::ReadFile;
using ::ampmr::worker::testing::ScratchDir;
using ::ampmr::worker::testing::WriteFile;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// `n` in letters: a word of its own for each number.
std::string Letters(int n) {
  std::string out;
  for (char c : std::to_string(n)) out.push_back(static_cast<char>('a' + (c - '0')));
  return out;
}

constexpr int kMaps = 4;
constexpr int kReduces = 2;

// Map outputs of a word count over kMaps small texts: m0 and m1 held by this
// worker (read in place), m2 and m3 by another (fetched from its
// ShuffleServer); a reduce of partition `partition` on this worker.
class Shuffle {
 public:
  Shuffle()
      : local_files_(dir_.Join("local")),
        runner_(RunnerOptions(dir_.Join("local")), &local_, &local_files_) {
    auto server = ShuffleServer::Start("127.0.0.1:0", &remote_, credentials_.get());
    EXPECT_THAT(server, IsOk());
    server_ = std::move(*server);
    address_ = absl::StrCat("127.0.0.1:", server_->port());
    for (int m = 0; m < kMaps; ++m) {
      std::string text;
      for (int line = 0; line < 200; ++line) {
        absl::StrAppend(&text, "alpha w", Letters(line % 37), " x", Letters((line * m) % 53),
                        " map", Letters(m), "\n");
      }
      all_text_ += text;
      const std::string input = dir_.Join(absl::StrCat("in", m, ".txt"));
      WriteFile(input, text);
      locations_.push_back(Map(m, input, m < 2 ? &local_ : &remote_));
    }
  }

  // Where map task m's output of the partition is (as the master says it).
  v1::MapOutputLocation At(int m) const { return locations_[m]; }
  // A location of map task m that cannot be fetched: an attempt the holder
  // does not have.
  v1::MapOutputLocation Bad(int m) const {
    v1::MapOutputLocation loc = locations_[m];
    loc.set_attempt_id(absl::StrCat("j1-m", m, "-a9"));
    loc.set_worker_id("w2");
    loc.set_shuffle_address(address_);
    return loc;
  }

  // Starts the reduce attempt with `first` and more_inputs.
  std::future<absl::StatusOr<v1::ReduceDone>> StartReduce(
      const std::vector<v1::MapOutputLocation>& first) {
    v1::RunReduce run;
    v1::TaskContext* task = run.mutable_task();
    task->set_job_id("j1");
    task->set_task_id("r0");
    task->set_attempt_id("j1-r0-a1");
    task->set_partition(0);
    task->set_reducer("builtin:sum");
    task->set_reduces(kReduces);
    for (const auto& loc : first) *run.add_inputs() = loc;
    run.set_more_inputs(true);
    run.set_temp_path(part_path());
    auto promise = std::make_shared<std::promise<absl::StatusOr<v1::ReduceDone>>>();
    runner_.RunReduce(run,
                      [promise](absl::StatusOr<v1::ReduceDone> done) { promise->set_value(done); });
    return promise->get_future();
  }
  void Add(const std::vector<v1::MapOutputLocation>& more, bool last) {
    v1::AddMapOutputs add;
    add.set_attempt_id("j1-r0-a1");
    for (const auto& loc : more) *add.add_inputs() = loc;
    add.set_last(last);
    runner_.AddReduceInputs(add);
  }

  // The word counts of partition 0 of every text, counted naively.
  std::map<std::string, int64_t> Expected() const {
    std::map<std::string, int64_t> all = NaiveWordCount(all_text_), part;
    std::map<std::string, int64_t> got = ParseCountLines(ReadFile(part_path()));
    // Every word the reduce wrote must be one of the texts' with its count,
    // and partition 0 must hold some of them: compare on what a partition
    // holds, which the map task decided.
    for (const auto& [word, n] : got) {
      if (all.count(word)) part[word] = all.at(word);
    }
    return part;
  }
  std::map<std::string, int64_t> Got() const { return ParseCountLines(ReadFile(part_path())); }
  int64_t Partition0Records() const {
    int64_t n = 0;
    for (const auto& r : records_) n += r;
    return n;
  }
  SlotTaskRunner& runner() { return runner_; }
  const std::string& address() const { return address_; }

 private:
  static SlotTaskRunnerOptions RunnerOptions(const std::string& work_dir) {
    std::filesystem::create_directories(work_dir);
    SlotTaskRunnerOptions options;
    options.slots = 1;
    options.work_dir = work_dir;
    return options;
  }
  std::string part_path() const { return dir_.Join("out/part-00000"); }

  v1::MapOutputLocation Map(int m, const std::string& input, MapOutputStore* holder) {
    const std::string attempt = absl::StrCat("j1-m", m, "-a1");
    MapTaskOptions options;
    v1::TaskContext* task = options.run.mutable_task();
    task->set_job_id("j1");
    task->set_attempt_id(attempt);
    task->set_mapper("builtin:wordcount");
    task->set_combiner("builtin:sum");
    task->set_reduces(kReduces);
    options.run.mutable_split()->set_path(input);
    options.run.mutable_split()->set_length(static_cast<int64_t>(ReadFile(input).size()));
    options.work_dir = dir_.path();
    absl::StatusOr<v1::MapDone> done = RunMapTask(options);
    EXPECT_THAT(done, IsOk());
    holder->Add(attempt, "j1", done->output_path());
    records_.push_back(done->partitions(0).records());
    v1::MapOutputLocation loc;
    loc.set_map_task_id(absl::StrCat("m", m));
    loc.set_attempt_id(attempt);
    loc.set_worker_id(holder == &local_ ? "w1" : "w2");
    loc.set_shuffle_address(holder == &local_ ? "127.0.0.1:1" : address_);
    loc.set_offset(done->partitions(0).offset());
    loc.set_length(done->partitions(0).length());
    return loc;
  }

  ScratchDir dir_;
  std::shared_ptr<const ClusterCredentials> credentials_ = ClusterCredentials::None();
  MapOutputStore local_, remote_;
  JobFileStore local_files_;
  std::unique_ptr<ShuffleServer> server_;
  std::string address_;
  std::string all_text_;
  std::vector<v1::MapOutputLocation> locations_;
  std::vector<int64_t> records_;
  SlotTaskRunner runner_;  // last: its threads use the members above
};

absl::StatusOr<v1::ReduceDone> Wait(std::future<absl::StatusOr<v1::ReduceDone>>* done) {
  if (done->wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    return absl::DeadlineExceededError("the reduce did not end within 60 s");
  }
  return done->get();
}

bool Ended(std::future<absl::StatusOr<v1::ReduceDone>>* done) {
  return done->wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

TEST(SlotTaskRunnerTest, ReduceGivenItsInputsInStepsIsExact) {
  Shuffle s;
  auto done = s.StartReduce({s.At(2)});
  s.Add({s.At(0)}, /*last=*/false);
  s.Add({}, /*last=*/false);
  EXPECT_FALSE(Ended(&done));  // it merges only after the last
  s.Add({s.At(3), s.At(1)}, /*last=*/true);
  absl::StatusOr<v1::ReduceDone> result = Wait(&done);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(s.Got(), s.Expected());
  EXPECT_FALSE(s.Got().empty());
  EXPECT_EQ(result->framework_counters().reduce_input_records(), s.Partition0Records());
}

// A map task's output counts once, however many locations of it come: the
// same one again, or another (its map ran again) that would fail if used.
TEST(SlotTaskRunnerTest, ReduceTakesOneOutputPerMapTask) {
  Shuffle s;
  auto done = s.StartReduce({s.At(0), s.At(2), s.At(2)});
  s.Add({s.At(1), s.At(2), s.At(0)}, /*last=*/false);
  s.Add({s.At(3), s.At(1), s.At(3)}, /*last=*/false);
  s.Add({s.Bad(2), s.At(3)}, /*last=*/true);
  absl::StatusOr<v1::ReduceDone> result = Wait(&done);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(s.Got(), s.Expected());
  EXPECT_EQ(result->framework_counters().reduce_input_records(), s.Partition0Records());
}

// A map output that cannot be fetched (its holder lost it) is taken from the
// next location of that map task (the map made again), not fatal.
TEST(SlotTaskRunnerTest, AFailedFetchIsReplacedByTheMapTasksNextLocation) {
  Shuffle s;
  auto done = s.StartReduce({s.Bad(2), s.At(0), s.At(1)});
  s.Add({s.Bad(3)}, /*last=*/false);
  s.Add({s.At(3), s.At(2)}, /*last=*/true);
  absl::StatusOr<v1::ReduceDone> result = Wait(&done);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(s.Got(), s.Expected());
  EXPECT_EQ(result->framework_counters().reduce_input_records(), s.Partition0Records());
}

// With no other location once the last is in, the failure is the attempt's,
// reported as a lost map output naming the map task, worker and address.
TEST(SlotTaskRunnerTest, AFetchFailureNoOtherLocationReplacesFailsTheAttempt) {
  Shuffle s;
  auto done = s.StartReduce({s.At(0), s.Bad(2)});
  s.Add({s.At(1), s.At(3)}, /*last=*/true);
  absl::StatusOr<v1::ReduceDone> result = Wait(&done);
  ASSERT_THAT(result, StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(
      result.status().message(),
      HasSubstr(absl::StrCat("fetch map output of task m2 from worker=w2 at ", s.address())));
  auto lost = result.status().GetPayload(kLostMapOutputPayload);
  ASSERT_TRUE(lost.has_value());
  EXPECT_EQ(std::string(*lost), "j1-m2-a9");
}

// While more locations may come, a failed fetch does not fail the attempt:
// it waits, and the failure is given once for the master to hear of it, so
// that the output is made again; the new location then completes it.
TEST(SlotTaskRunnerTest, AFetchFailureWhileMoreMayComeIsReportedOnceAndTheReduceWaits) {
  Shuffle s;
  auto done = s.StartReduce({s.At(0), s.Bad(2)});
  // The fetch fails on a fetch thread: look until it has, with a deadline.
  std::vector<v1::FetchFailure> failures;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (failures.empty() && absl::Now() < deadline) {
    failures = s.runner().FetchFailures();
    if (failures.empty()) absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_THAT(failures, SizeIs(1));
  EXPECT_EQ(failures[0].attempt_id(), "j1-r0-a1");
  EXPECT_EQ(failures[0].lost_attempt_id(), "j1-m2-a9");
  EXPECT_THAT(failures[0].error(),
              HasSubstr(absl::StrCat("fetch map output of task m2 from worker=w2 at ", s.address())));
  EXPECT_THAT(s.runner().FetchFailures(), IsEmpty());  // given once
  EXPECT_FALSE(Ended(&done));
  s.Add({s.At(2), s.At(1)}, /*last=*/false);
  s.Add({s.At(3)}, /*last=*/true);
  absl::StatusOr<v1::ReduceDone> result = Wait(&done);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(s.Got(), s.Expected());
  EXPECT_EQ(result->framework_counters().reduce_input_records(), s.Partition0Records());
  EXPECT_THAT(s.runner().FetchFailures(), IsEmpty());
}

TEST(SlotTaskRunnerTest, CancellingAReduceWaitingForInputsEndsIt) {
  Shuffle s;
  auto done = s.StartReduce({s.At(0)});
  s.runner().Cancel("j1-r0-a1");
  EXPECT_THAT(Wait(&done), StatusIs(absl::StatusCode::kCancelled));
}

}  // namespace
}  // namespace ampmr::worker
