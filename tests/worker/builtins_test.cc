#include "worker/task/builtins.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "tests/worker/test_util.h"
#include "worker/task/task_factory.h"

namespace ampmr::worker {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::ampmr::worker::testing::CollectingEmitter;
using ::ampmr::worker::testing::Pairs;
using ::ampmr::worker::testing::VectorPairs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

TaskSpec Builtin(const char* name) { return TaskSpec{TaskSpec::Kind::kBuiltin, name}; }

Pairs RunMapper(const char* name, absl::string_view data) {
  auto mapper = MakeMapper(Builtin(name));
  EXPECT_THAT(mapper, IsOk());
  CollectingEmitter out;
  MapInput input;
  input.data = data;
  EXPECT_THAT((*mapper)->Map(input, &out), IsOk());
  EXPECT_THAT((*mapper)->Finish(&out), IsOk());
  return out.pairs;
}

absl::StatusOr<Pairs> RunReducer(const char* name, Pairs sorted) {
  auto reducer = MakeReducer(Builtin(name));
  EXPECT_THAT(reducer, IsOk());
  CollectingEmitter out;
  VectorPairs in(std::move(sorted));
  absl::Status s = (*reducer)->Reduce(&in, &out);
  if (!s.ok()) return s;
  return out.pairs;
}

TEST(WordCountMapperTest, WordsAreMaximalRunsOfAsciiLetters) {
  EXPECT_THAT(RunMapper("wordcount", "Hello, world!\nit's x2y don't-stop\n"),
              ElementsAre(Pair("Hello", "1"), Pair("world", "1"), Pair("it", "1"), Pair("s", "1"),
                          Pair("x", "1"), Pair("y", "1"), Pair("don", "1"), Pair("t", "1"),
                          Pair("stop", "1")));
}

TEST(WordCountMapperTest, CaseKeptNonAsciiSeparates) {
  EXPECT_THAT(RunMapper("wordcount", "The the THE caf\xc3\xa9 na\xefve\tend"),
              ElementsAre(Pair("The", "1"), Pair("the", "1"), Pair("THE", "1"), Pair("caf", "1"),
                          Pair("na", "1"), Pair("ve", "1"), Pair("end", "1")));
}

TEST(WordCountMapperTest, NoLettersNoWords) {
  EXPECT_THAT(RunMapper("wordcount", ""), IsEmpty());
  EXPECT_THAT(RunMapper("wordcount", "123 ... \n\n"), IsEmpty());
}

TEST(IdentityMapperTest, SplitsAtFirstTab) {
  EXPECT_THAT(RunMapper("identity", "k\tv\tw\nnotab\n\tlead\ncrlf\tx\r\nlast"),
              ElementsAre(Pair("k", "v\tw"), Pair("notab", ""), Pair("", "lead"), Pair("crlf", "x"),
                          Pair("last", "")));
}

TEST(IdentityMapperTest, EmptyLineIsEmptyPair) {
  EXPECT_THAT(RunMapper("identity", "\n"), ElementsAre(Pair("", "")));
}

TEST(NoopMapperTest, EmitsNothing) { EXPECT_THAT(RunMapper("noop", "a\tb\nc d e\n"), IsEmpty()); }

TEST(SumReducerTest, AddsPerKey) {
  auto out = RunReducer("sum", {{"a", "1"}, {"a", "2"}, {"b", "-5"}, {"c", "7"}, {"c", "+3"}});
  ASSERT_THAT(out, IsOk());
  EXPECT_THAT(*out, ElementsAre(Pair("a", "3"), Pair("b", "-5"), Pair("c", "10")));
}

TEST(SumReducerTest, EmptyInputEmptyOutput) {
  auto out = RunReducer("sum", {});
  ASSERT_THAT(out, IsOk());
  EXPECT_THAT(*out, IsEmpty());
}

TEST(SumReducerTest, NonIntegerFailsNamingKey) {
  EXPECT_THAT(RunReducer("sum", {{"a", "1"}, {"bad key", "1.5"}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("key \"bad key\": value \"1.5\" is not a 64-bit integer")));
  EXPECT_THAT(RunReducer("sum", {{"k", ""}}), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SumReducerTest, OverflowFails) {
  EXPECT_THAT(RunReducer("sum", {{"k", "9223372036854775807"}, {"k", "1"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("overflows")));
}

TEST(CountReducerTest, CountsValuesPerKey) {
  auto out = RunReducer("count", {{"a", "x"}, {"a", "not a number"}, {"b", ""}});
  ASSERT_THAT(out, IsOk());
  EXPECT_THAT(*out, ElementsAre(Pair("a", "2"), Pair("b", "1")));
}

TEST(IdentityReducerTest, PassesEveryPair) {
  Pairs in = {{"a", "2"}, {"a", "1"}, {"b", ""}};
  auto out = RunReducer("identity", in);
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ(*out, in);
}

TEST(FactoryTest, ExecIsMadeAndAMissingPluginIsNotFound) {
  EXPECT_THAT(MakeMapper(TaskSpec{TaskSpec::Kind::kExec, "cat"}), IsOk());
  EXPECT_THAT(MakeReducer(TaskSpec{TaskSpec::Kind::kExec, "cat"}), IsOk());
  EXPECT_THAT(MakeMapper(TaskSpec{TaskSpec::Kind::kPlugin, "/nonexistent/x.so"}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("plugin /nonexistent/x.so")));
}

TEST(FactoryTest, UnknownOrMissingIsInvalidArgument) {
  EXPECT_THAT(MakeMapper(Builtin("sum")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("builtin:sum")));
  EXPECT_THAT(MakeReducer(Builtin("wordcount")), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MakeReducer(TaskSpec{}), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace ampmr::worker
