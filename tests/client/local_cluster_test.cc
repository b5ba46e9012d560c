// LocalCluster's process handling, with /bin/sh stand-ins for ampmr-master
// and ampmr-worker (the real binaries are tested by tests/integration).
#include "client/local_cluster.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/stand_in.h"
#include "tests/status_matchers.h"

namespace ampmr::client {
namespace {

using ::ampmr::testing::EventFifo;
using ::ampmr::testing::IsOk;
using ::ampmr::testing::ProcessAlive;
using ::ampmr::testing::ScratchDir;
using ::ampmr::testing::StatusIs;
using ::ampmr::testing::WaitForProcessExit;
using ::ampmr::testing::WriteScript;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// A master that says hello on stderr, reports "master PID ARGS", prints the
// listening line and serves (sleeps) until signalled.
std::string GoodMaster(const EventFifo& events) {
  return absl::StrCat("echo 'hello from the master' >&2\n", "echo \"master $$ $*\" > ",
                      events.path(), "\n", "echo 'ampmr-master listening on 127.0.0.1:4321'\n",
                      "exec sleep 600\n");
}

// A worker that reports "worker PID ARGS" and then runs `then`.
std::string Worker(const EventFifo& events, const std::string& then = "exec sleep 600\n") {
  return absl::StrCat("echo \"worker $$ $*\" > ", events.path(), "\n", then);
}

pid_t Pid(const std::vector<std::string>& fields) {
  return fields.size() > 1 ? std::stoi(fields[1]) : -1;
}

class LocalClusterTest : public ::testing::Test {
 protected:
  LocalClusterTest() : events_(bin_ / "events") {
    options_.bin_dir = bin_.path();
    options_.temp_parent = tmp_.path();
    options_.workers = 2;
  }

  void WriteMaster(const std::string& body) { WriteScript(bin_ / "ampmr-master", body); }
  void WriteWorker(const std::string& body) { WriteScript(bin_ / "ampmr-worker", body); }

  ScratchDir bin_;  // the stand-in executables
  ScratchDir tmp_;  // $TMPDIR for the cluster
  EventFifo events_;
  LocalClusterOptions options_;
};

TEST_F(LocalClusterTest, StartsMasterThenWorkersWithContractedArguments) {
  WriteMaster(GoodMaster(events_));
  WriteWorker(Worker(events_));
  absl::StatusOr<std::unique_ptr<LocalCluster>> cluster = LocalCluster::Start(options_);
  ASSERT_THAT(cluster, IsOk());
  const std::string dir = (*cluster)->dir();
  EXPECT_THAT(dir, StartsWith(tmp_ / "ampmr-run-"));
  EXPECT_EQ((*cluster)->master_address(), "127.0.0.1:4321");

  std::vector<std::string> master = events_.NextFields();
  EXPECT_THAT(master, ElementsAre("master", ::testing::_, "--listen", "127.0.0.1:0", "--data-dir",
                                  dir + "/master", "--token-file", dir + "/token"));
  std::vector<std::vector<std::string>> workers = {events_.NextFields(), events_.NextFields()};
  std::sort(workers.begin(), workers.end(),
            [](const auto& a, const auto& b) { return a.at(5) < b.at(5); });
  for (int i = 0; i < 2; ++i) {
    EXPECT_THAT(workers[i],
                ElementsAre("worker", ::testing::_, "--master", "127.0.0.1:4321", "--work-dir",
                            absl::StrCat(dir, "/worker-", i + 1), "--slots", "1", "--token-file",
                            dir + "/token"));
  }
  EXPECT_THAT(
      tmp_.List((*cluster)->dir().substr(tmp_.path().size() + 1)),
      ElementsAre("master", "master.log", "token", "worker-1", "worker-1.log", "worker-2",
                  "worker-2.log"));
  // The embedded cluster's own token, readable by this user only.
  struct stat token;
  ASSERT_EQ(stat((*cluster)->token_file().c_str(), &token), 0);
  EXPECT_EQ(token.st_mode & 0777, 0600);
  EXPECT_GE(testing::ReadFile((*cluster)->token_file()).size(), 64u);
  EXPECT_EQ((*cluster)->MasterLogTail(), "hello from the master");
  EXPECT_TRUE((*cluster)->master_running());
  EXPECT_EQ((*cluster)->workers_running(), 2);

  EXPECT_THAT((*cluster)->Stop(), IsOk());
  for (pid_t pid : {Pid(master), Pid(workers[0]), Pid(workers[1])}) {
    EXPECT_FALSE(ProcessAlive(pid)) << pid;
  }
  EXPECT_THAT(tmp_.List(), IsEmpty());
  EXPECT_THAT((*cluster)->Stop(), IsOk());  // idempotent
}

TEST_F(LocalClusterTest, MasterExitingBeforeListeningFailsWithItsLog) {
  WriteMaster("echo 'line one' >&2\necho 'bad flag --listen' >&2\nexit 3\n");
  WriteWorker(Worker(events_));
  EXPECT_THAT(LocalCluster::Start(options_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "ampmr-master exited with status 3 before it was "
                       "listening; its log ends with:\n"
                       "line one\nbad flag --listen"));
  EXPECT_THAT(tmp_.List(), IsEmpty());
  EXPECT_EQ(events_.Next(absl::ZeroDuration()), std::nullopt);  // no worker
}

TEST_F(LocalClusterTest, MasterPrintingSomethingElseFails) {
  WriteMaster(absl::StrCat("echo \"master $$\" > ", events_.path(),
                           "\necho 'Listening on 7070'\nexec sleep 600\n"));
  WriteWorker(Worker(events_));
  EXPECT_THAT(LocalCluster::Start(options_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "ampmr-master printed \"Listening on 7070\", not "
                       "\"ampmr-master listening on HOST:PORT\""));
  EXPECT_FALSE(ProcessAlive(Pid(events_.NextFields())));
  EXPECT_THAT(tmp_.List(), IsEmpty());
}

TEST_F(LocalClusterTest, SilentMasterTimesOut) {
  WriteMaster("echo 'still loading' >&2\nexec sleep 600\n");
  WriteWorker(Worker(events_));
  options_.startup_timeout = absl::Milliseconds(300);
  EXPECT_THAT(LocalCluster::Start(options_),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       "ampmr-master did not report its address within "
                       "300ms; its log ends with:\nstill loading"));
  EXPECT_THAT(tmp_.List(), IsEmpty());
}

TEST_F(LocalClusterTest, MissingBinaryFails) {
  EXPECT_THAT(LocalCluster::Start(options_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       absl::StrCat("cannot start ", bin_.path(),
                                    "/ampmr-master: No such file or directory")));
  EXPECT_THAT(tmp_.List(), IsEmpty());
}

TEST_F(LocalClusterTest, WakeFdCancelsStartup) {
  WriteMaster("exec sleep 600\n");
  int wake[2];
  ASSERT_EQ(pipe(wake), 0);
  ASSERT_EQ(write(wake[1], "x", 1), 1);
  options_.wake_fd = wake[0];
  EXPECT_THAT(
      LocalCluster::Start(options_),
      StatusIs(absl::StatusCode::kCancelled, "interrupted while starting the local cluster"));
  EXPECT_THAT(tmp_.List(), IsEmpty());
  close(wake[0]);
  close(wake[1]);
}

TEST_F(LocalClusterTest, StopEscalatesToSigkill) {
  WriteMaster(GoodMaster(events_));
  // An ignored SIGTERM survives exec: this sleep cannot be terminated.
  WriteWorker(absl::StrCat("trap '' TERM\n", Worker(events_)));
  options_.workers = 1;
  options_.stop_grace = absl::Milliseconds(200);
  auto cluster = LocalCluster::Start(options_);
  ASSERT_THAT(cluster, IsOk());
  const pid_t master = Pid(events_.NextFields());
  const pid_t worker = Pid(events_.NextFields());
  const absl::Time start = absl::Now();
  EXPECT_THAT((*cluster)->Stop(), IsOk());
  EXPECT_GE(absl::Now() - start, options_.stop_grace);  // the worker held out
  EXPECT_FALSE(ProcessAlive(master));
  EXPECT_FALSE(ProcessAlive(worker));
}

TEST_F(LocalClusterTest, StopReachesTheChildrenOfChildren) {
  // Orphans are re-parented to this process, which can then reap them.
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  WriteMaster(GoodMaster(events_));
  WriteWorker(absl::StrCat("sleep 600 &\necho \"task $!\" > ", events_.path(), "\nwait\n"));
  options_.workers = 1;
  auto cluster = LocalCluster::Start(options_);
  ASSERT_THAT(cluster, IsOk());
  events_.NextFields();  // master
  const pid_t task = Pid(events_.NextFields());
  ASSERT_GT(task, 0);
  EXPECT_THAT((*cluster)->Stop(), IsOk());
  EXPECT_TRUE(WaitForProcessExit(task));
}

TEST_F(LocalClusterTest, ChildrenDieWithTheProcessThatStartedThem) {
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  WriteMaster(GoodMaster(events_));
  WriteWorker(Worker(events_));
  options_.workers = 1;
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  const pid_t run = fork();
  if (run == 0) {
    // Plays `ampmr run` dying without cleaning up (say, SIGKILL), once the
    // test has seen its children start.
    auto cluster = LocalCluster::Start(options_);
    close(go[1]);
    char byte;
    ssize_t ignored = read(go[0], &byte, 1);
    (void)ignored;
    _exit(cluster.ok() ? 0 : 1);
  }
  ASSERT_GT(run, 0);
  close(go[0]);
  const pid_t master = Pid(events_.NextFields());
  const pid_t worker = Pid(events_.NextFields());
  close(go[1]);
  ASSERT_GT(master, 0);
  ASSERT_GT(worker, 0);
  int status;
  ASSERT_EQ(waitpid(run, &status, 0), run);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_TRUE(WaitForProcessExit(master));
  EXPECT_TRUE(WaitForProcessExit(worker));
}

TEST_F(LocalClusterTest, ReportsChildrenThatExit) {
  WriteMaster(GoodMaster(events_));
  WriteWorker(Worker(events_, "exit 7\n"));
  options_.workers = 1;
  auto cluster = LocalCluster::Start(options_);
  ASSERT_THAT(cluster, IsOk());
  std::vector<ChildExit> exits = (*cluster)->WaitForExit(absl::Now() + absl::Seconds(10));
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].name, "worker-1");
  EXPECT_FALSE(exits[0].is_master);
  EXPECT_EQ(exits[0].description, "exited with status 7");
  EXPECT_EQ((*cluster)->workers_running(), 0);
  EXPECT_TRUE((*cluster)->master_running());
  EXPECT_THAT((*cluster)->ReapExited(), IsEmpty());  // reported once

  (*cluster)->Kill();
  exits = (*cluster)->WaitForExit(absl::Now() + absl::Seconds(10));
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_TRUE(exits[0].is_master);
  EXPECT_EQ(exits[0].name, "ampmr-master");
  EXPECT_EQ(exits[0].description, "killed by signal 9 (SIGKILL)");
  EXPECT_FALSE((*cluster)->master_running());
}

TEST(FileTailTest, LastLines) {
  ScratchDir dir;
  ampmr::testing::WriteFile(dir / "log", "a\nb\nc\nd\n\n");
  EXPECT_EQ(FileTail(dir / "log", 2), "c\nd");
  EXPECT_EQ(FileTail(dir / "log", 10), "a\nb\nc\nd");
  ampmr::testing::WriteFile(dir / "empty", "");
  EXPECT_EQ(FileTail(dir / "empty", 3), "");
  EXPECT_EQ(FileTail(dir / "missing", 3), "");
}

}  // namespace
}  // namespace ampmr::client
