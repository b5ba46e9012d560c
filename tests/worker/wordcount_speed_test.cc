// Word count speed: RunMapTask (builtin wordcount + builtin sum combiner) on
// a 64 MiB split must be at least as fast as bench/wordcount_reference, the
// straightforward single-threaded C++ word count, on the same bytes.
//
// Timing tests are noisy, so this one runs only with AMPMR_SPEED_TEST=1; it
// builds its corpus from the gutenberg texts, times best-of-3 of each, prints
// both figures, checks both produce the same counts, and compares.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "tests/worker/test_util.h"
#include "worker/task/map_task.h"

extern char** environ;

namespace ampmr::worker {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::worker::testing::DecodeRun;
using ::ampmr::worker::testing::GutenbergDir;
using ::ampmr::worker::testing::ParseCountLines;
using ::ampmr::worker::testing::ReadFile;
using ::ampmr::worker::testing::ScratchDir;
using ::ampmr::worker::testing::WriteFile;

constexpr size_t kSplitBytes = size_t{64} << 20;
constexpr int kRounds = 3;

// Whole lines of the gutenberg texts, repeated, up to 64 MiB.
std::string MakeCorpus() {
  std::string books;
  for (const auto& e : std::filesystem::directory_iterator(GutenbergDir())) {
    if (e.path().extension() == ".txt") books += ReadFile(e.path().string());
  }
  if (books.empty()) return "";
  if (books.back() != '\n') books += '\n';
  std::string corpus;
  corpus.reserve(kSplitBytes + books.size());
  while (corpus.size() < kSplitBytes) corpus += books;
  corpus.resize(corpus.rfind('\n', kSplitBytes - 1) + 1);
  return corpus;
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// Runs argv with stdout to `out_path`; returns wall seconds, or -1 on failure.
double TimeProcess(const std::vector<std::string>& args, const std::string& out_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  auto start = std::chrono::steady_clock::now();
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return -1;
  }
  return Seconds(std::chrono::steady_clock::now() - start);
}

MapTaskOptions WordCountOptions(const std::string& input, const std::string& work_dir,
                                int reduces) {
  MapTaskOptions options;
  v1::TaskContext* task = options.run.mutable_task();
  task->set_attempt_id("speed-m0-a1");
  task->set_mapper("builtin:wordcount");
  task->set_combiner("builtin:sum");
  task->set_reduces(reduces);
  options.run.mutable_split()->set_path(input);
  options.run.mutable_split()->set_length(static_cast<int64_t>(kSplitBytes));
  options.work_dir = work_dir;
  return options;
}

TEST(WordCountSpeedTest, MapTaskIsAtLeastAsFastAsReference) {
  if (std::getenv("AMPMR_SPEED_TEST") == nullptr) GTEST_SKIP() << "set AMPMR_SPEED_TEST=1";
  const char* bin_dir = std::getenv("AMPMR_BIN_DIR");
  const std::string reference =
      std::string(bin_dir != nullptr ? bin_dir : ".") + "/wordcount_reference";
  if (::access(reference.c_str(), X_OK) != 0) GTEST_SKIP() << "not built: " << reference;
  ScratchDir dir;
  std::string corpus = MakeCorpus();
  if (corpus.empty()) GTEST_SKIP() << "no corpus in " << GutenbergDir();
  corpus.append(kSplitBytes - corpus.size(), '\n');  // exactly 64 MiB of whole lines
  const std::string input = dir.Join("corpus.txt");
  WriteFile(input, corpus);
  corpus.clear();
  corpus.shrink_to_fit();

  double ref_best = 1e9;
  for (int i = 0; i < kRounds; ++i) {
    double t = TimeProcess({reference, input}, dir.Join("reference.out"));
    ASSERT_GE(t, 0) << "running " << reference;
    ref_best = std::min(ref_best, t);
  }
  std::map<int, double> map_best;
  v1::MapDone last;
  for (int reduces : {1, 8}) {
    map_best[reduces] = 1e9;
    for (int i = 0; i < kRounds; ++i) {
      const std::string work = dir.Join("work" + std::to_string(reduces));
      std::filesystem::remove_all(work);
      auto start = std::chrono::steady_clock::now();
      auto done = RunMapTask(WordCountOptions(input, work, reduces));
      double t = Seconds(std::chrono::steady_clock::now() - start);
      ASSERT_THAT(done, IsOk());
      map_best[reduces] = std::min(map_best[reduces], t);
      last = *done;
    }
  }
  const double mib = static_cast<double>(kSplitBytes) / (1 << 20);
  std::printf(
      "wordcount 64 MiB: reference %.3f s (%.0f MiB/s); RunMapTask R=1 %.3f s "
      "(%.0f MiB/s), R=8 %.3f s (%.0f MiB/s)\n",
      ref_best, mib / ref_best, map_best[1], mib / map_best[1], map_best[8], mib / map_best[8]);

  // Same counts (R=8 output, all partitions) as the reference.
  std::map<std::string, int64_t> ours;
  const std::string data = ReadFile(last.output_path());
  for (const v1::PartitionInfo& p : last.partitions()) {
    for (const auto& [k, v] : DecodeRun(absl::string_view(data).substr(p.offset(), p.length()))) {
      ours[k] += std::stoll(v);
    }
  }
  EXPECT_EQ(ours, ParseCountLines(ReadFile(dir.Join("reference.out"))));
  EXPECT_LE(map_best[1], ref_best);
  EXPECT_LE(map_best[8], ref_best);
}

}  // namespace
}  // namespace ampmr::worker
