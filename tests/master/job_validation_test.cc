#include "absl/strings/str_cat.h"
#include "master/job_validation.h"
#include "absl/strings/str_cat.h"

#include "absl/strings/str_cat.h"
#include <stdlib.h>
#include "absl/strings/str_cat.h"
#include <unistd.h>
#include "absl/strings/str_cat.h"

#include "absl/strings/str_cat.h"
#include <cmath>
#include "absl/strings/str_cat.h"
#include <filesystem>
#include "absl/strings/str_cat.h"
#include <fstream>
#include "absl/strings/str_cat.h"
#include <limits>
#include "absl/strings/str_cat.h"
#include <string>
#include "absl/strings/str_cat.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/field_comparator.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace ampmr::master {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A fresh directory under $TMPDIR, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const char* tmp = getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/ampmr_validation_XXXXXX";
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }

  std::string Path(const std::string& name) const { return path_ + "/" + name; }
  std::string Write(const std::string& name, const std::string& contents) const {
    std::string p = Path(name);
    std::filesystem::create_directories(std::filesystem::path(p).parent_path());
    std::ofstream(p, std::ios::binary) << contents;
    return p;
  }
  std::string MakeDir(const std::string& name) const {
    std::filesystem::create_directories(Path(name));
    return Path(name);
  }

 private:
  std::string path_;
};

// A spec that passes: one input, an output that does not exist yet.
v1::JobSpec ValidSpec(const TempDir& dir) {
  v1::JobSpec spec;
  spec.add_inputs(dir.Write("in.txt", "hello world\n"));
  spec.set_output(dir.Path("out"));
  spec.set_mapper("builtin:wordcount");
  return spec;
}

// Field-by-field equality (map order ignored) in which a NaN equals a NaN.
bool SameSpec(const v1::JobSpec& a, const v1::JobSpec& b) {
  ::google::protobuf::util::DefaultFieldComparator comparator;
  comparator.set_treat_nan_as_equal(true);
  MessageDifferencer differencer;
  differencer.set_field_comparator(&comparator);
  return differencer.Compare(a, b);
}

// Validates `spec` and expects it to be refused with `code` and `message`,
// leaving the spec as it was.
void ExpectRefused(v1::JobSpec spec, absl::StatusCode code,
                   const ::testing::Matcher<std::string>& message) {
  v1::JobSpec before = spec;
  EXPECT_THAT(ValidateAndNormalize(&spec), StatusIs(code, message));
  EXPECT_TRUE(SameSpec(spec, before)) << "refused spec was changed: " << spec.DebugString();
}

TEST(JobValidationTest, FillsDefaults) {
  TempDir dir;
  v1::JobSpec spec = ValidSpec(dir);
  ASSERT_THAT(ValidateAndNormalize(&spec), IsOk());
  EXPECT_EQ(spec.reducer(), "builtin:identity");
  EXPECT_EQ(spec.combiner(), "");
  EXPECT_EQ(spec.reduces(), 1);
  EXPECT_EQ(spec.split_size(), int64_t{64} << 20);
  EXPECT_EQ(spec.max_attempts(), 4);
  EXPECT_EQ(spec.task_timeout_seconds(), 0);
}

TEST(JobValidationTest, KeepsGivenValues) {
  TempDir dir;
  v1::JobSpec spec = ValidSpec(dir);
  spec.set_reducer("builtin:sum");
  spec.set_combiner("builtin:sum");
  spec.set_reduces(100000);
  spec.set_split_size(4096);
  spec.set_max_attempts(2);
  spec.set_task_timeout_seconds(2.5);
  (*spec.mutable_env())["LC_ALL"] = "C";
  (*spec.mutable_env())["EMPTY"] = "";
  v1::JobSpec expected = spec;
  ASSERT_THAT(ValidateAndNormalize(&spec), IsOk());
  EXPECT_TRUE(SameSpec(spec, expected)) << spec.DebugString();
}

TEST(JobValidationTest, AcceptsMapOnlyJobAndExecTasks) {
  TempDir dir;
  v1::JobSpec spec = ValidSpec(dir);
  spec.set_mapper("exec:python3 mapper.py");
  spec.set_reducer("none");
  ASSERT_THAT(ValidateAndNormalize(&spec), IsOk());
  EXPECT_EQ(spec.reducer(), "none");
}

TEST(JobValidationTest, LeavesInputPathsToThePlanner) {
  TempDir dir;
  v1::JobSpec spec = ValidSpec(dir);
  spec.add_inputs(dir.Path("missing/*.txt"));
  EXPECT_THAT(ValidateAndNormalize(&spec), IsOk());
}

TEST(JobValidationTest, RefusesMissingInputsOutputAndMapper) {
  TempDir dir;
  v1::JobSpec spec = ValidSpec(dir);
  spec.clear_inputs();
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, "inputs: at least one input is required");
  spec = ValidSpec(dir);
  spec.add_inputs("");
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, "inputs[1]: empty path");
  spec = ValidSpec(dir);
  spec.clear_output();
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, "output: required");
  spec = ValidSpec(dir);
  spec.clear_mapper();
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, "mapper: required");
}

TEST(JobValidationTest, RefusesBadTaskSpecs) {
  TempDir dir;
  v1::JobSpec spec = ValidSpec(dir);
  spec.set_mapper("builtin:wordcont");
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument,
                StartsWith("mapper \"builtin:wordcont\": unknown built-in"));
  spec = ValidSpec(dir);
  spec.set_mapper("none");
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, StartsWith("mapper \"none\": "));
  spec = ValidSpec(dir);
  spec.set_reducer("builtin:wordcount");
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument,
                StartsWith("reducer \"builtin:wordcount\": unknown built-in"));
  spec = ValidSpec(dir);
  spec.set_combiner("exec:  ");
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument,
                "combiner \"exec:  \": empty command after exec:");
  spec = ValidSpec(dir);
  spec.set_combiner("sum");
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, StartsWith("combiner \"sum\": want "));
}

TEST(JobValidationTest, RefusesCombinerInMapOnlyJob) {
  TempDir dir;
  v1::JobSpec spec = ValidSpec(dir);
  spec.set_reducer("none");
  spec.set_combiner("builtin:sum");
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument,
                "combiner \"builtin:sum\": a map-only job (reducer \"none\") has no output to "
                "combine");
}

TEST(JobValidationTest, RefusesOutOfRangeNumbers) {
  TempDir dir;
  v1::JobSpec spec = ValidSpec(dir);
  spec.set_reduces(-3);
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, "reduces: must be >= 1, got -3");
  spec = ValidSpec(dir);
  spec.set_reduces(100001);
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, "reduces: must be <= 100000, got 100001");
  spec = ValidSpec(dir);
  spec.set_split_size(-5);
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, "split_size: must be > 0, got -5");
  spec = ValidSpec(dir);
  spec.set_max_attempts(-1);
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, "max_attempts: must be >= 1, got -1");
  spec = ValidSpec(dir);
  spec.set_task_timeout_seconds(-1);
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument,
                "task_timeout_seconds: must be a finite number >= 0 (0: no timeout), got -1");
  for (double bad : {std::nan(""), std::numeric_limits<double>::infinity()}) {
    spec = ValidSpec(dir);
    spec.set_task_timeout_seconds(bad);
    ExpectRefused(spec, absl::StatusCode::kInvalidArgument, StartsWith("task_timeout_seconds: "));
  }
  for (double bad : {-0.5, 1.5, std::nan("")}) {
    spec = ValidSpec(dir);
    spec.set_reduce_slowstart(bad);
    ExpectRefused(spec, absl::StatusCode::kInvalidArgument,
                  StartsWith("reduce_slowstart: must be a fraction between 0 and 1, got "));
  }
}

TEST(JobValidationTest, RefusesBadEnvironment) {
  TempDir dir;
  v1::JobSpec spec = ValidSpec(dir);
  (*spec.mutable_env())[""] = "x";
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, "env: empty variable name");
  spec = ValidSpec(dir);
  (*spec.mutable_env())["A=B"] = "x";
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, "env \"A=B\": name must not contain '='");
  spec = ValidSpec(dir);
  (*spec.mutable_env())["A"] = std::string("x\0y", 3);
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, "env \"A\": value contains a NUL byte");
}

// The master checks shipped files itself: any gRPC client can send them.
TEST(JobValidationTest, RefusesShippedFilesPastTheirBoundsOrWithPathNames) {
  TempDir dir;
  v1::JobSpec spec = ValidSpec(dir);
  spec.add_files()->set_name("../evil");
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument,
                "files: file name \"../evil\": must not contain '/'");
  spec = ValidSpec(dir);
  spec.add_files()->set_name("a");
  spec.add_files()->set_name("a");
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, "files: \"a\" shipped twice");
  spec = ValidSpec(dir);
  for (int i = 0; i < 101; ++i) spec.add_files()->set_name(absl::StrCat("f", i));
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, "files: 101 files, at most 100");
  spec = ValidSpec(dir);
  spec.add_files()->set_name("x");
  spec.add_files()->set_name("y");
  spec.mutable_files(0)->set_content(std::string(40 << 20, 'x'));
  spec.mutable_files(1)->set_content(std::string(30 << 20, 'y'));
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument,
                "files: more than 64 MiB in all (at \"y\")");
  spec = ValidSpec(dir);
  v1::ShippedFile* ok = spec.add_files();
  ok->set_name("m.py");
  ok->set_mode(0755);
  ok->set_content("print(1)");
  ASSERT_THAT(ValidateAndNormalize(&spec), IsOk());
  ASSERT_EQ(spec.files_size(), 1);
  EXPECT_EQ(spec.files(0).size(), 8);
}

TEST(JobValidationTest, RefusesOutputThatWouldClobber) {
  TempDir dir;
  v1::JobSpec spec = ValidSpec(dir);
  dir.Write("out/part-00000", "old\n");
  ExpectRefused(spec, absl::StatusCode::kAlreadyExists,
                "output " + dir.Path("out") + ": exists and is not empty");
  dir.Write("hidden/.keep", "");
  spec.set_output(dir.Path("hidden"));
  ExpectRefused(spec, absl::StatusCode::kAlreadyExists,
                "output " + dir.Path("hidden") + ": exists and is not empty");
  spec.set_output(dir.Write("file", "x"));
  ExpectRefused(spec, absl::StatusCode::kAlreadyExists,
                "output " + dir.Path("file") + ": exists and is not a directory");
}

TEST(JobValidationTest, AcceptsEmptyExistingOutputDirectory) {
  TempDir dir;
  v1::JobSpec spec = ValidSpec(dir);
  spec.set_output(dir.MakeDir("empty") + "/");
  EXPECT_THAT(ValidateAndNormalize(&spec), IsOk());
}

TEST(JobValidationTest, RefusesOutputWithoutParentDirectory) {
  TempDir dir;
  v1::JobSpec spec = ValidSpec(dir);
  spec.set_output(dir.Path("missing/out"));
  ExpectRefused(spec, absl::StatusCode::kNotFound,
                "output " + dir.Path("missing/out") + ": parent directory " + dir.Path("missing") +
                    " does not exist");
  dir.Write("plain", "x");
  spec.set_output(dir.Path("plain/out/"));
  ExpectRefused(
      spec, absl::StatusCode::kFailedPrecondition,
      "output " + dir.Path("plain/out/") + ": parent " + dir.Path("plain") + " is not a directory");
}

TEST(JobValidationTest, RefusesUnwritableOutputParent) {
  if (geteuid() == 0) GTEST_SKIP() << "root writes everywhere";
  TempDir dir;
  v1::JobSpec spec = ValidSpec(dir);
  std::string locked = dir.MakeDir("locked");
  std::filesystem::permissions(
      locked, std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  spec.set_output(locked + "/out");
  ExpectRefused(spec, absl::StatusCode::kPermissionDenied, HasSubstr("permission denied"));
}

TEST(JobValidationTest, ChecksPluginPaths) {
  TempDir dir;
  v1::JobSpec spec = ValidSpec(dir);
  std::string missing = dir.Path("nope.so");
  spec.set_mapper("plugin:" + missing);
  ExpectRefused(
      spec, absl::StatusCode::kNotFound,
      "mapper \"plugin:" + missing + "\": plugin " + missing + ": no such file or directory");
  spec = ValidSpec(dir);
  spec.set_combiner("plugin:" + dir.MakeDir("adir"));
  ExpectRefused(
      spec, absl::StatusCode::kInvalidArgument,
      "combiner \"plugin:" + dir.Path("adir") + "\": " + dir.Path("adir") + ": not a regular file");
  spec = ValidSpec(dir);
  const std::string fake = dir.Write("sum.so", "not really a library");
  spec.set_reducer("plugin:" + fake);
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument,
                "reducer \"plugin:" + fake + "\": " + fake + ": not an ELF shared object");
  spec = ValidSpec(dir);
  spec.set_mapper(std::string("plugin:") + NO_ENTRY_PLUGIN);
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument,
                HasSubstr("does not define ampmr_plugin_entry: not an ampmr plugin"));
  spec = ValidSpec(dir);
  spec.set_mapper(std::string("plugin:") + TEST_PLUGIN);
  EXPECT_THAT(ValidateAndNormalize(&spec), IsOk());
}

TEST(JobValidationTest, PathsMustBeAbsoluteWithoutNul) {
  TempDir dir;
  v1::JobSpec spec = ValidSpec(dir);
  spec.set_output("relative/out");
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument,
                "output: \"relative/out\" is not an absolute path");
  spec = ValidSpec(dir);
  spec.add_inputs("in.txt");
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument,
                "inputs[1]: \"in.txt\" is not an absolute path");
  spec = ValidSpec(dir);
  spec.set_output(dir.Path("out") + std::string("\0x", 2));
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, "output: path holds a NUL byte");
  spec = ValidSpec(dir);
  spec.set_mapper("plugin:lib/x.so");
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument,
                HasSubstr("\"lib/x.so\" is not an absolute path"));
  spec = ValidSpec(dir);
  spec.set_output("/" + std::string(kMaxPathBytes, 'a'));
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, HasSubstr("output: path longer than"));
}

TEST(JobValidationTest, BoundsEveryField) {
  TempDir dir;
  v1::JobSpec spec = ValidSpec(dir);
  for (int i = 0; i < kMaxInputs; ++i) spec.add_inputs(spec.inputs(0));
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument,
                "inputs: at most 10000 per job, got 10001");
  spec = ValidSpec(dir);
  spec.set_name(std::string(kMaxNameBytes + 1, 'n'));
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, "name: longer than 1024 bytes");
  spec = ValidSpec(dir);
  spec.set_mapper("exec:" + std::string(kMaxTaskSpecBytes, 'x'));
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, "mapper: longer than 65536 bytes");
  spec = ValidSpec(dir);
  for (int i = 0; i <= kMaxEnvVars; ++i) (*spec.mutable_env())["V" + std::to_string(i)] = "x";
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, "env: at most 1000 variables, got 1001");
  spec = ValidSpec(dir);
  (*spec.mutable_env())["BIG"] = std::string(kMaxEnvBytes, 'v');
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument,
                HasSubstr("env: names and values add up to more than"));
  spec = ValidSpec(dir);
  (*spec.mutable_env())[std::string(kMaxEnvNameBytes + 1, 'N')] = "v";
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument,
                HasSubstr("env: a variable name is longer than 1024 bytes"));
}

TEST(JobValidationTest, ReportsTheFirstProblemInFieldOrder) {
  TempDir dir;
  v1::JobSpec spec = ValidSpec(dir);
  spec.set_reduces(-1);
  spec.set_output(dir.Path("missing/out"));
  spec.set_mapper("builtin:nope");
  ExpectRefused(spec, absl::StatusCode::kInvalidArgument, StartsWith("mapper "));
}

}  // namespace
}  // namespace ampmr::master
