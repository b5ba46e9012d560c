#include "client/job_flags.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace ampmr::client {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr char kCwd[] = "/home/u/wd";

// Parses `args` as `ampmr submit` would and builds the spec from /home/u/wd.
absl::StatusOr<v1::JobSpec> Build(std::vector<std::string> args) {
  JobFlags job;
  FlagSet flags("test", "");
  AddJobFlags(&flags, &job);
  absl::StatusOr<std::vector<std::string>> positional = flags.Parse(args);
  if (!positional.ok()) return positional.status();
  return BuildJobSpec(job, kCwd);
}

// The minimal valid command line plus `extra`.
absl::StatusOr<v1::JobSpec> BuildWith(std::vector<std::string> extra) {
  std::vector<std::string> args = {"--input", "/in",      "--output",
                                   "/out",    "--mapper", "builtin:wordcount"};
  args.insert(args.end(), extra.begin(), extra.end());
  return Build(args);
}

absl::Status BuildError(std::vector<std::string> extra) {
  return BuildWith(std::move(extra)).status();
}

TEST(JobFlagsTest, Defaults) {
  absl::StatusOr<v1::JobSpec> spec = BuildWith({});
  ASSERT_THAT(spec, IsOk());
  EXPECT_THAT(spec->inputs(), ElementsAre("/in"));
  EXPECT_EQ(spec->output(), "/out");
  EXPECT_EQ(spec->mapper(), "builtin:wordcount");
  EXPECT_EQ(spec->reducer(), "builtin:identity");
  EXPECT_EQ(spec->combiner(), "");
  EXPECT_EQ(spec->reduces(), 1);
  EXPECT_EQ(spec->split_size(), 64 << 20);
  EXPECT_EQ(spec->max_attempts(), 4);
  EXPECT_EQ(spec->task_timeout_seconds(), 600);
  EXPECT_TRUE(spec->env().empty());
  EXPECT_TRUE(spec->files().empty());
  EXPECT_EQ(spec->name(), "");
}

TEST(JobFlagsTest, EveryFlag) {
  absl::StatusOr<v1::JobSpec> spec = Build({"--input",
                                            "/a",
                                            "--input=/b/*.txt",
                                            "--output",
                                            "/o",
                                            "--mapper",
                                            "exec:python3 m.py --x",
                                            "--reducer",
                                            "builtin:sum",
                                            "--combiner",
                                            "builtin:sum",
                                            "--reduces",
                                            "8",
                                            "--split-size",
                                            "1.5K",
                                            "--max-attempts",
                                            "2",
                                            "--task-timeout",
                                            "2.5",
                                            "--env",
                                            "A=1",
                                            "--env",
                                            "B=x=y",
                                            "--env",
                                            "EMPTY=",
                                            "--name",
                                            "wc test"});
  ASSERT_THAT(spec, IsOk());
  EXPECT_THAT(spec->inputs(), ElementsAre("/a", "/b/*.txt"));
  EXPECT_EQ(spec->output(), "/o");
  EXPECT_EQ(spec->mapper(), "exec:python3 m.py --x");
  EXPECT_EQ(spec->reducer(), "builtin:sum");
  EXPECT_EQ(spec->combiner(), "builtin:sum");
  EXPECT_EQ(spec->reduces(), 8);
  EXPECT_EQ(spec->split_size(), 1536);
  EXPECT_EQ(spec->max_attempts(), 2);
  EXPECT_EQ(spec->task_timeout_seconds(), 2.5);
  EXPECT_THAT(spec->env(),
              UnorderedElementsAre(Pair("A", "1"), Pair("B", "x=y"), Pair("EMPTY", "")));
  EXPECT_EQ(spec->name(), "wc test");
}

TEST(JobFlagsTest, MapOnlyReducer) {
  absl::StatusOr<v1::JobSpec> spec = BuildWith({"--reducer", "none"});
  ASSERT_THAT(spec, IsOk());
  EXPECT_EQ(spec->reducer(), "none");
}

TEST(JobFlagsTest, RelativePathsBecomeAbsolute) {
  absl::StatusOr<v1::JobSpec> spec =
      Build({"--input", "data/a.txt", "--input", "./in//*.log", "--input", "../up", "--input", ".",
             "--output", "out/", "--mapper", "builtin:noop"});
  ASSERT_THAT(spec, IsOk());
  EXPECT_THAT(spec->inputs(), ElementsAre("/home/u/wd/data/a.txt", "/home/u/wd/in/*.log",
                                          "/home/u/wd/../up", "/home/u/wd"));
  EXPECT_EQ(spec->output(), "/home/u/wd/out");
}

TEST(JobFlagsTest, MakeAbsolute) {
  EXPECT_EQ(MakeAbsolute("/w", "/abs/./p//q/"), "/abs/p/q");
  EXPECT_EQ(MakeAbsolute("/w", "x"), "/w/x");
  EXPECT_EQ(MakeAbsolute("/", "x"), "/x");
  EXPECT_EQ(MakeAbsolute("/w", "/"), "/");
}

TEST(JobFlagsTest, MissingRequiredFlags) {
  EXPECT_THAT(Build({"--output", "/o", "--mapper", "builtin:noop"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "missing required flag --input PATH..."));
  EXPECT_THAT(Build({"--input", "/i", "--mapper", "builtin:noop"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "missing required flag --output DIR"));
  EXPECT_THAT(Build({"--input", "/i", "--output", "/o"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "missing required flag --mapper SPEC"));
}

TEST(JobFlagsTest, RefusesEmptyPaths) {
  EXPECT_THAT(BuildError({"--input="}),
              StatusIs(absl::StatusCode::kInvalidArgument, "--input: empty path"));
  EXPECT_THAT(Build({"--input", "/i", "--output=", "--mapper", "builtin:noop"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "--output: empty path"));
}

TEST(JobFlagsTest, RefusesReducesBelowOne) {
  EXPECT_THAT(BuildError({"--reduces", "0"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "--reduces: must be >= 1, got 0"));
  EXPECT_THAT(BuildError({"--reduces=-3"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "--reduces: must be >= 1, got -3"));
  EXPECT_THAT(
      BuildError({"--reduces", "two"}),
      StatusIs(absl::StatusCode::kInvalidArgument, "--reduces: want an integer, got \"two\""));
}

TEST(JobFlagsTest, ReduceSlowstartIsTheMastersUnlessGiven) {
  absl::StatusOr<v1::JobSpec> spec = BuildWith({});
  ASSERT_THAT(spec, IsOk());
  EXPECT_FALSE(spec->has_reduce_slowstart());
  for (const auto& [given, want] : std::vector<std::pair<std::string, double>>{
           {"0", 0}, {"0.8", 0.8}, {"1", 1}}) {
    spec = BuildWith({"--reduce-slowstart", given});
    ASSERT_THAT(spec, IsOk());
    ASSERT_TRUE(spec->has_reduce_slowstart());
    EXPECT_EQ(spec->reduce_slowstart(), want);
  }
  for (const std::string bad : {"1.5", "-0.1", "half", "nan"}) {
    EXPECT_THAT(BuildError({"--reduce-slowstart", bad}),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         absl::StrCat("--reduce-slowstart: must be a fraction between 0 and 1, "
                                      "got \"", bad, "\"")));
  }
}

TEST(JobFlagsTest, RefusesMaxAttemptsBelowOne) {
  EXPECT_THAT(BuildError({"--max-attempts", "0"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "--max-attempts: must be >= 1, got 0"));
}

TEST(JobFlagsTest, RefusesBadSplitSize) {
  EXPECT_THAT(
      BuildError({"--split-size", "64X"}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--split-size: bad size \"64X\"")));
  EXPECT_THAT(
      BuildError({"--split-size", "0"}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--split-size: bad size \"0\"")));
}

TEST(JobFlagsTest, RefusesBadTaskTimeout) {
  EXPECT_THAT(
      BuildError({"--task-timeout", "-1"}),
      StatusIs(absl::StatusCode::kInvalidArgument, "--task-timeout: must be >= 0 seconds, got -1"));
  EXPECT_THAT(BuildError({"--task-timeout", "inf"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "--task-timeout: must be >= 0 seconds, got inf"));
  EXPECT_THAT(
      BuildError({"--task-timeout", "soon"}),
      StatusIs(absl::StatusCode::kInvalidArgument, "--task-timeout: want a number, got \"soon\""));
}

TEST(JobFlagsTest, RefusesBadSpecsNamingTheFlag) {
  EXPECT_THAT(Build({"--input", "/i", "--output", "/o", "--mapper", "builtin:wordcont"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "--mapper \"builtin:wordcont\": unknown built-in (known: "
                       "wordcount, identity, noop)"));
  EXPECT_THAT(Build({"--input", "/i", "--output", "/o", "--mapper", "wc.py"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "--mapper \"wc.py\": want builtin:NAME, exec:COMMAND or "
                       "plugin:PATH.so"));
  EXPECT_THAT(BuildError({"--reducer", "builtin:wordcount"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "--reducer \"builtin:wordcount\": unknown built-in "
                       "(known: sum, count, identity, aggregate)"));
  EXPECT_THAT(BuildError({"--combiner", "none"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--combiner \"none\": ")));
  EXPECT_THAT(BuildError({"--reducer", "exec:  "}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "--reducer \"exec:  \": empty command after exec:"));
}

TEST(JobFlagsTest, RefusesBadEnv) {
  EXPECT_THAT(BuildError({"--env", "FOO"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "--env \"FOO\": want NAME=VALUE"));
  EXPECT_THAT(BuildError({"--env", "=x"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "--env \"=x\": NAME must be letters, digits and _, not "
                       "starting with a digit"));
  EXPECT_THAT(BuildError({"--env", "1A=x"}), StatusIs(absl::StatusCode::kInvalidArgument,
                                                      HasSubstr("--env \"1A=x\": NAME must be")));
  EXPECT_THAT(BuildError({"--env", "A-B=x"}), StatusIs(absl::StatusCode::kInvalidArgument,
                                                       HasSubstr("--env \"A-B=x\": NAME must be")));
  EXPECT_THAT(BuildError({"--env", "A=1", "--env", "A=2"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "--env: A given more than once"));
}

TEST(JobFlagsTest, LocalWorkers) {
  EXPECT_THAT(CheckLocalWorkers(1), IsOk());
  EXPECT_THAT(CheckLocalWorkers(kMaxLocalWorkers), IsOk());
  EXPECT_THAT(CheckLocalWorkers(0),
              StatusIs(absl::StatusCode::kInvalidArgument, "--workers: must be >= 1, got 0"));
  EXPECT_THAT(CheckLocalWorkers(kMaxLocalWorkers + 1),
              StatusIs(absl::StatusCode::kInvalidArgument, "--workers: must be <= 1024, got 1025"));
}

TEST(JobFlagsTest, HelpDocumentsEveryJobFlag) {
  JobFlags job;
  FlagSet flags("test", "");
  AddJobFlags(&flags, &job);
  const std::string help = flags.Help();
  for (const char* flag : {"--input PATH", "--output DIR", "--mapper SPEC", "--reducer SPEC",
                           "--combiner SPEC", "--reduces R", "--split-size SIZE",
                           "--max-attempts K", "--task-timeout SECS", "--env K=V", "--file PATH[#NAME]",
                           "--name TEXT"}) {
    EXPECT_THAT(help, HasSubstr(flag));
  }
  EXPECT_THAT(help, HasSubstr("every argument up to the next flag); may be repeated (required)"));
  EXPECT_THAT(help, HasSubstr("(default: builtin:identity)"));
  EXPECT_THAT(help, HasSubstr("(default: 64M)"));
}

// A directory of files for --file, removed at the end.
class FileDir {
 public:
  FileDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "job-flags-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~FileDir() { std::filesystem::remove_all(path_); }
  std::string Make(const std::string& name, const std::string& content, mode_t mode) {
    std::string path = path_ + "/" + name;
    std::ofstream(path) << content;
    chmod(path.c_str(), mode);
    return path;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(JobFlagsTest, FilesTravelWithTheSpecByNameWithTheirMode) {
  FileDir dir;
  std::string script = dir.Make("mapper.py", "print('hi')\n", 0755);
  std::string data = dir.Make("words.txt", "a b\n", 0640);
  absl::StatusOr<v1::JobSpec> spec =
      BuildWith({"--file", script, "--file", data + "#dict", "--file", script + "#m2.py"});
  ASSERT_THAT(spec, IsOk());
  ASSERT_EQ(spec->files_size(), 3);
  EXPECT_EQ(spec->files(0).name(), "mapper.py");
  EXPECT_EQ(spec->files(0).content(), "print('hi')\n");
  EXPECT_EQ(spec->files(0).mode(), 0755u);
  EXPECT_EQ(spec->files(0).size(), 12);
  EXPECT_EQ(spec->files(1).name(), "dict");
  EXPECT_EQ(spec->files(1).mode(), 0640u);
  EXPECT_EQ(spec->files(2).name(), "m2.py");
}

TEST(JobFlagsTest, BadFilesAreRefusedByName) {
  FileDir dir;
  std::string script = dir.Make("m.py", "x", 0644);
  EXPECT_THAT(BuildError({"--file", dir.path() + "/absent.py"}),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("--file " + dir.path() + "/absent.py: ")));
  EXPECT_THAT(BuildError({"--file", dir.path()}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a regular file")));
  EXPECT_THAT(BuildError({"--file", script + "#a/b"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("file name \"a/b\": must not contain '/'")));
  EXPECT_THAT(BuildError({"--file", script + "#.."}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a file name")));
  EXPECT_THAT(BuildError({"--file", script, "--file", script}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "--files: \"m.py\" shipped twice"));
  std::string big = dir.Make("big", "", 0644);
  ASSERT_EQ(truncate(big.c_str(), (64 << 20) + 1), 0);
  EXPECT_THAT(BuildError({"--file", big}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("more than the 64 MiB")));
}

}  // namespace
}  // namespace ampmr::client
