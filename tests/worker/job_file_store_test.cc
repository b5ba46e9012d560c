#include "worker/job_file_store.h"

#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "tests/worker/test_util.h"

namespace ampmr::worker {
namespace {

namespace fs = std::filesystem;
using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::ampmr::worker::testing::ReadFile;
using ::ampmr::worker::testing::ScratchDir;
using ::testing::HasSubstr;

v1::JobFiles Files() {
  v1::JobFiles files;
  v1::ShippedFile* script = files.add_files();
  script->set_name("m.py");
  script->set_mode(0755);
  script->set_content("#!/usr/bin/env python3\n");
  v1::ShippedFile* data = files.add_files();
  data->set_name("stop words");
  data->set_mode(0400);
  data->set_content("the\na\n");
  return files;
}

v1::TaskContext Task(const std::string& job, const std::string& attempt) {
  v1::TaskContext task;
  task.set_job_id(job);
  task.set_attempt_id(attempt);
  task.add_files("m.py");
  task.add_files("stop words");
  return task;
}

fs::perms Mode(const std::string& path) {
  return fs::status(path).permissions() & fs::perms::mask;
}

TEST(JobFileStoreTest, AnAttemptDirHoldsTheJobsFilesByNameWithTheirModes) {
  ScratchDir work;
  JobFileStore store(work.path());
  EXPECT_FALSE(store.Has("j1"));
  ASSERT_THAT(store.Put("j1", Files()), IsOk());
  EXPECT_TRUE(store.Has("j1"));

  absl::StatusOr<std::string> dir = store.MakeAttemptDir(Task("j1", "j1-m0-a1"));
  ASSERT_THAT(dir, IsOk());
  EXPECT_EQ(*dir, work.Join("attempts/j1-m0-a1"));
  EXPECT_EQ(ReadFile(*dir + "/m.py"), "#!/usr/bin/env python3\n");
  EXPECT_EQ(Mode(*dir + "/m.py"), static_cast<fs::perms>(0755));
  EXPECT_EQ(ReadFile(*dir + "/stop words"), "the\na\n");
  EXPECT_EQ(Mode(*dir + "/stop words"), static_cast<fs::perms>(0400));

  // Forgetting the job leaves a running attempt's files as they are.
  store.ForgetJob("j1");
  EXPECT_FALSE(store.Has("j1"));
  EXPECT_FALSE(fs::exists(work.Join("files/j1")));
  EXPECT_EQ(ReadFile(*dir + "/m.py"), "#!/usr/bin/env python3\n");
  store.RemoveAttemptDir(*dir);
  EXPECT_FALSE(fs::exists(*dir));

  EXPECT_THAT(store.MakeAttemptDir(Task("j1", "j1-m1-a1")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("attempt=j1-m1-a1: shipped file")));
  EXPECT_FALSE(fs::exists(work.Join("attempts/j1-m1-a1")));
}

TEST(JobFileStoreTest, NamesThatWouldLeaveTheDirectoryAreRefused) {
  ScratchDir work;
  JobFileStore store(work.path());
  v1::JobFiles files = Files();
  files.mutable_files(1)->set_name("../escape");
  EXPECT_THAT(store.Put("j1", files),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("job=j1: file name")));
  EXPECT_FALSE(store.Has("j1"));
  EXPECT_FALSE(fs::exists(work.Join("escape")));
  EXPECT_THAT(store.Put("../j1", Files()), StatusIs(absl::StatusCode::kInvalidArgument));
  v1::TaskContext task = Task("j1", "j1-m0-a1");
  task.set_files(0, "../../x");
  ASSERT_THAT(store.Put("j1", Files()), IsOk());
  EXPECT_THAT(store.MakeAttemptDir(task), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(JobFileStoreTest, WhatAnEarlierWorkerLeftIsRemovedAtStart) {
  ScratchDir work;
  {
    JobFileStore store(work.path());
    ASSERT_THAT(store.Put("j1", Files()), IsOk());
    ASSERT_THAT(store.MakeAttemptDir(Task("j1", "j1-m0-a1")), IsOk());
  }
  JobFileStore store(work.path());
  EXPECT_FALSE(store.Has("j1"));
  EXPECT_FALSE(fs::exists(work.Join("files")));
  EXPECT_FALSE(fs::exists(work.Join("attempts")));
}

}  // namespace
}  // namespace ampmr::worker
