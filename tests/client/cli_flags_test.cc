#include "common/cli_flags.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace ampmr {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// The variables a typical command binds; defaults as a main.cc would set them.
struct Vars {
  std::string output;
  std::string master = "127.0.0.1:7070";
  int32_t reduces = 1;
  int64_t limit = 0;
  double timeout = 2.5;
  bool wait = false;
  std::vector<std::string> inputs;
};

void Declare(FlagSet* flags, Vars* v) {
  flags->String("output", &v->output, "DIR", "where the part files go").Required();
  flags->String("master", &v->master, "ADDR", "the master to talk to");
  flags->Int32("reduces", &v->reduces, "R", "number of reduce tasks");
  flags->Int64("limit", &v->limit, "N", "stop after N records");
  flags->Double("timeout", &v->timeout, "SECS", "give up after SECS");
  flags->Bool("wait", &v->wait, "block until the job ends");
  flags->Repeated("input", &v->inputs, "PATH", "an input file");
}

// A command with Vars declared on its FlagSet.
struct Cmd {
  Cmd() { Declare(&flags, &v); }
  absl::StatusOr<std::vector<std::string>> Parse(const std::vector<std::string>& args) {
    return flags.Parse(args);
  }
  Vars v;
  FlagSet flags{"test [flags]", "A test command."};
};

TEST(FlagSetTest, SeparateAndInlineValues) {
  Cmd cmd;
  auto args = cmd.Parse(
      {"--output", "out", "--master=h:1", "--reduces", "8", "--limit=-3", "--timeout", "0.5"});
  ASSERT_THAT(args, IsOk());
  EXPECT_THAT(*args, IsEmpty());
  EXPECT_EQ(cmd.v.output, "out");
  EXPECT_EQ(cmd.v.master, "h:1");
  EXPECT_EQ(cmd.v.reduces, 8);
  EXPECT_EQ(cmd.v.limit, -3);
  EXPECT_EQ(cmd.v.timeout, 0.5);
}

TEST(FlagSetTest, UndeclaredValuesKeepDefaults) {
  Cmd cmd;
  ASSERT_THAT(cmd.Parse({"--output", "o"}), IsOk());
  EXPECT_EQ(cmd.v.master, "127.0.0.1:7070");
  EXPECT_EQ(cmd.v.reduces, 1);
  EXPECT_EQ(cmd.v.timeout, 2.5);
  EXPECT_FALSE(cmd.v.wait);
}

TEST(FlagSetTest, InlineValueMayContainEqualsAndBeEmpty) {
  Cmd cmd;
  ASSERT_THAT(cmd.Parse({"--output=a=b", "--input="}), IsOk());
  EXPECT_EQ(cmd.v.output, "a=b");
  EXPECT_THAT(cmd.v.inputs, ElementsAre(""));
}

TEST(FlagSetTest, RepeatedFlagCollectsInOrder) {
  Cmd cmd;
  ASSERT_THAT(cmd.Parse({"--input", "a", "--output", "o", "--input=b", "--input", "c"}), IsOk());
  EXPECT_THAT(cmd.v.inputs, ElementsAre("a", "b", "c"));
}

TEST(FlagSetTest, SeveralTakesArgumentsUpToTheNextFlag) {
  std::vector<std::string> paths;
  std::string out;
  FlagSet flags("t", "");
  flags.Repeated("path", &paths, "PATH...", "paths").Several();
  flags.String("out", &out, "DIR", "out");
  auto positional = flags.Parse(std::vector<std::string>{"--path", "a", "b", "-", "--out", "o",
                                                         "x", "--path", "c", "--path=d", "e"});
  ASSERT_THAT(positional, IsOk());
  EXPECT_THAT(paths, ElementsAre("a", "b", "-", "c", "d"));
  EXPECT_THAT(*positional, ElementsAre("x", "e"));
}

TEST(FlagSetTest, BooleanForms) {
  Cmd a;
  ASSERT_THAT(a.Parse({"--output", "o", "--wait"}), IsOk());
  EXPECT_TRUE(a.v.wait);
  Cmd b;
  ASSERT_THAT(b.Parse({"--output", "o", "--wait=false"}), IsOk());
  EXPECT_FALSE(b.v.wait);
  Cmd c;
  ASSERT_THAT(c.Parse({"--output", "o", "--wait=true"}), IsOk());
  EXPECT_TRUE(c.v.wait);
}

TEST(FlagSetTest, BooleanDoesNotEatTheNextArgument) {
  Cmd cmd;
  auto args = cmd.Parse({"--wait", "job7", "--output", "o"});
  ASSERT_THAT(args, IsOk());
  EXPECT_TRUE(cmd.v.wait);
  EXPECT_THAT(*args, ElementsAre("job7"));
}

TEST(FlagSetTest, BadBooleanValue) {
  Cmd cmd;
  EXPECT_THAT(
      cmd.Parse({"--output", "o", "--wait=yes"}),
      StatusIs(absl::StatusCode::kInvalidArgument, "--wait: want true or false, got \"yes\""));
}

TEST(FlagSetTest, PositionalInterleavedAndDoubleDash) {
  Cmd cmd;
  auto args = cmd.Parse({"j1", "--output", "o", "-", "j2", "--", "--reduces", "-x"});
  ASSERT_THAT(args, IsOk());
  EXPECT_THAT(*args, ElementsAre("j1", "-", "j2", "--reduces", "-x"));
  EXPECT_EQ(cmd.v.reduces, 1);
  EXPECT_TRUE(cmd.flags.WasGiven("output"));
  EXPECT_FALSE(cmd.flags.WasGiven("reduces"));
}

TEST(FlagSetTest, UnknownFlag) {
  Cmd cmd;
  EXPECT_THAT(cmd.Parse({"--output", "o", "--foo"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "unknown flag --foo (see --help)"));
  Cmd w;
  EXPECT_THAT(w.Parse({"--output", "o", "--foo=1"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "unknown flag --foo (see --help)"));
  Cmd x;
  EXPECT_THAT(x.Parse({"-o", "o"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "unknown flag -o (see --help)"));
}

TEST(FlagSetTest, MissingValueAtEnd) {
  Cmd cmd;
  EXPECT_THAT(cmd.Parse({"--output"}), StatusIs(absl::StatusCode::kInvalidArgument,
                                                "--output: missing value (--output DIR)"));
}

TEST(FlagSetTest, MissingValueBeforeAnotherFlag) {
  Cmd cmd;
  EXPECT_THAT(
      cmd.Parse({"--output", "--reduces", "2"}),
      StatusIs(absl::StatusCode::kInvalidArgument, "--output: missing value (--output DIR)"));
}

TEST(FlagSetTest, ValueMayStartWithOneDash) {
  Cmd cmd;
  ASSERT_THAT(cmd.Parse({"--output", "-", "--limit", "-5"}), IsOk());
  EXPECT_EQ(cmd.v.output, "-");
  EXPECT_EQ(cmd.v.limit, -5);
}

TEST(FlagSetTest, BadNumbers) {
  Cmd a;
  EXPECT_THAT(
      a.Parse({"--output", "o", "--reduces", "x"}),
      StatusIs(absl::StatusCode::kInvalidArgument, "--reduces: want an integer, got \"x\""));
  Cmd b;
  EXPECT_THAT(b.Parse({"--output", "o", "--reduces", "99999999999"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "--reduces: want an integer, got \"99999999999\""));
  Cmd c;
  EXPECT_THAT(
      c.Parse({"--output", "o", "--timeout=soon"}),
      StatusIs(absl::StatusCode::kInvalidArgument, "--timeout: want a number, got \"soon\""));
}

TEST(FlagSetTest, SingleValueFlagGivenTwice) {
  Cmd cmd;
  EXPECT_THAT(cmd.Parse({"--output", "a", "--output", "b"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "--output: given more than once; it takes one value"));
}

TEST(FlagSetTest, MissingRequiredFlag) {
  Cmd cmd;
  EXPECT_THAT(cmd.Parse({"--reduces", "2"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "missing required flag --output DIR"));
}

TEST(FlagSetTest, HelpWinsOverErrorsAndLeavesVariablesAlone) {
  Cmd cmd;
  auto args = cmd.Parse({"--reduces", "5", "--bogus", "-h"});
  ASSERT_THAT(args, IsOk());
  EXPECT_TRUE(cmd.flags.help_requested());
  EXPECT_EQ(cmd.v.reduces, 1);

  Cmd w;
  ASSERT_THAT(w.Parse({"--help"}), IsOk());
  EXPECT_TRUE(cmd.flags.help_requested());
}

TEST(FlagSetTest, HelpAfterDoubleDashIsPositional) {
  Cmd cmd;
  auto args = cmd.Parse({"--output", "o", "--", "--help"});
  ASSERT_THAT(args, IsOk());
  EXPECT_FALSE(cmd.flags.help_requested());
  EXPECT_THAT(*args, ElementsAre("--help"));
}

TEST(FlagSetTest, HelpListsEveryFlagWithDefaults) {
  Vars v;
  FlagSet flags("test --output DIR [flags]", "A test command.");
  Declare(&flags, &v);
  flags.String("workers", &v.output, "N", "worker processes").DefaultText("number of cores");
  const std::string help = flags.Help();
  EXPECT_THAT(help, HasSubstr("usage: test --output DIR [flags]\n\nA test command.\n\nflags:\n"));
  EXPECT_THAT(help, HasSubstr("  --output DIR    where the part files go (required)\n"));
  EXPECT_THAT(help, HasSubstr("  --master ADDR   the master to talk to "
                              "(default: 127.0.0.1:7070)\n"));
  EXPECT_THAT(help, HasSubstr("  --reduces R     number of reduce tasks (default: 1)\n"));
  EXPECT_THAT(help, HasSubstr("  --timeout SECS  give up after SECS (default: 2.5)\n"));
  EXPECT_THAT(help, HasSubstr("  --wait          block until the job ends\n"));
  EXPECT_THAT(help, HasSubstr("  --input PATH    an input file (repeatable)\n"));
  EXPECT_THAT(help, HasSubstr("  --workers N     worker processes (default: number of cores)\n"));
  EXPECT_THAT(help, HasSubstr("  -h, --help      show this help\n"));
}

TEST(FlagSetTest, HelpPutsLongFlagDescriptionsOnTheNextLine) {
  std::string value;
  FlagSet flags("x", "");
  flags.String("a", &value, "V", "short one");
  flags.String("a-very-long-flag-name-indeed", &value, "SOMETHING", "long one");
  EXPECT_EQ(flags.Help(),
            "usage: x\n\nflags:\n"
            "  --a V       short one\n"
            "  --a-very-long-flag-name-indeed SOMETHING\n"
            "              long one\n"
            "  -h, --help  show this help\n"
            "  --version   print the version and exit\n");
}

TEST(FlagSetTest, VersionIsBuiltIn) {
  std::string value;
  FlagSet flags("x", "");
  flags.String("a", &value, "V", "a value").Required();
  absl::StatusOr<std::vector<std::string>> args = flags.Parse({"--version"});
  ASSERT_TRUE(args.ok()) << args.status();  // nothing else is checked
  EXPECT_TRUE(flags.version_requested());
  EXPECT_FALSE(flags.help_requested());
}

TEST(FlagSetTest, BoolDefaultShownOnlyWhenOn) {
  bool on = true;
  bool off = false;
  FlagSet flags("x", "");
  flags.Bool("on", &on, "starts on");
  flags.Bool("off", &off, "starts off");
  EXPECT_THAT(flags.Help(), HasSubstr("--on        starts on (default: true)\n"));
  EXPECT_THAT(flags.Help(), HasSubstr("--off       starts off\n"));
}

}  // namespace
}  // namespace ampmr
