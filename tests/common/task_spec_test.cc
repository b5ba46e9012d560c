#include "common/task_spec.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace ampmr {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;

TEST(TaskSpecTest, ParsesBuiltinsForTheirRoles) {
  absl::StatusOr<TaskSpec> wc = ParseTaskSpec(TaskRole::kMapper, "builtin:wordcount");
  ASSERT_THAT(wc, IsOk());
  EXPECT_EQ(wc->kind, TaskSpec::Kind::kBuiltin);
  EXPECT_EQ(wc->arg, "wordcount");

  for (const char* name : {"wordcount", "identity", "noop"}) {
    EXPECT_THAT(ParseTaskSpec(TaskRole::kMapper, std::string("builtin:") + name), IsOk()) << name;
  }
  for (TaskRole role : {TaskRole::kReducer, TaskRole::kCombiner}) {
    for (const char* name : {"sum", "count", "identity"}) {
      absl::StatusOr<TaskSpec> spec = ParseTaskSpec(role, std::string("builtin:") + name);
      ASSERT_THAT(spec, IsOk()) << name;
      EXPECT_EQ(spec->kind, TaskSpec::Kind::kBuiltin);
      EXPECT_EQ(spec->arg, name);
    }
  }
}

TEST(TaskSpecTest, BuiltinOfAnotherRoleIsRefusedListingTheKnownOnes) {
  EXPECT_THAT(ParseTaskSpec(TaskRole::kMapper, "builtin:wordcont"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "mapper \"builtin:wordcont\": unknown built-in "
                       "(known: wordcount, identity, noop)"));
  EXPECT_THAT(ParseTaskSpec(TaskRole::kReducer, "builtin:wordcount"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "reducer \"builtin:wordcount\": unknown built-in "
                       "(known: sum, count, identity, aggregate)"));
  EXPECT_THAT(ParseTaskSpec(TaskRole::kCombiner, "builtin:noop"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::StartsWith("combiner \"builtin:noop\": unknown built-in")));
  EXPECT_THAT(ParseTaskSpec(TaskRole::kMapper, "builtin:"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(TaskSpecTest, ExecKeepsTheWholeShellCommand) {
  absl::StatusOr<TaskSpec> spec =
      ParseTaskSpec(TaskRole::kMapper, "exec:python3 mapper.py --sep ':'");
  ASSERT_THAT(spec, IsOk());
  EXPECT_EQ(spec->kind, TaskSpec::Kind::kExec);
  EXPECT_EQ(spec->arg, "python3 mapper.py --sep ':'");

  EXPECT_THAT(ParseTaskSpec(TaskRole::kReducer, "exec:   "),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "reducer \"exec:   \": empty command after exec:"));
  EXPECT_THAT(ParseTaskSpec(TaskRole::kReducer, "exec:"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(TaskSpecTest, PluginTakesAPathWithoutLookingAtTheFileSystem) {
  absl::StatusOr<TaskSpec> spec =
      ParseTaskSpec(TaskRole::kCombiner, "plugin:/nonexistent/libwc.so");
  ASSERT_THAT(spec, IsOk());
  EXPECT_EQ(spec->kind, TaskSpec::Kind::kPlugin);
  EXPECT_EQ(spec->arg, "/nonexistent/libwc.so");

  EXPECT_THAT(
      ParseTaskSpec(TaskRole::kMapper, "plugin:"),
      StatusIs(absl::StatusCode::kInvalidArgument, "mapper \"plugin:\": empty path after plugin:"));
}

TEST(TaskSpecTest, NoneIsOnlyForReducers) {
  absl::StatusOr<TaskSpec> none = ParseTaskSpec(TaskRole::kReducer, "none");
  ASSERT_THAT(none, IsOk());
  EXPECT_EQ(none->kind, TaskSpec::Kind::kNone);
  EXPECT_EQ(none->arg, "");

  EXPECT_THAT(ParseTaskSpec(TaskRole::kMapper, "none"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "mapper \"none\": \"none\" is only for --reducer (a map-only job)"));
  EXPECT_THAT(
      ParseTaskSpec(TaskRole::kCombiner, "none"),
      StatusIs(absl::StatusCode::kInvalidArgument, ::testing::StartsWith("combiner \"none\"")));
}

TEST(TaskSpecTest, UnknownFormsAreRefusedWithTheAccepted) {
  for (const char* text : {"", "wordcount", "Builtin:sum", "shell:cat", " builtin:sum", "NONE"}) {
    EXPECT_THAT(ParseTaskSpec(TaskRole::kReducer, text),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         std::string("reducer \"") + text +
                             "\": want builtin:NAME, exec:COMMAND or plugin:PATH.so"))
        << text;
  }
}

TEST(TaskSpecTest, IsBuiltinAndRoleNames) {
  EXPECT_TRUE(IsBuiltin(TaskRole::kMapper, "noop"));
  EXPECT_FALSE(IsBuiltin(TaskRole::kMapper, "sum"));
  EXPECT_TRUE(IsBuiltin(TaskRole::kCombiner, "sum"));
  EXPECT_FALSE(IsBuiltin(TaskRole::kReducer, ""));
  EXPECT_STREQ(TaskRoleName(TaskRole::kMapper), "mapper");
  EXPECT_STREQ(TaskRoleName(TaskRole::kReducer), "reducer");
  EXPECT_STREQ(TaskRoleName(TaskRole::kCombiner), "combiner");
}

}  // namespace
}  // namespace ampmr
