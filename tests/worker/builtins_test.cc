#include "worker/task/builtins.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "tests/worker/test_util.h"
#include "worker/task/aggregate.h"
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


// builtin:aggregate as a reducer (a reduce-side context) and as a combiner.
absl::StatusOr<Pairs> RunAggregate(bool combiner, Pairs sorted) {
  AttemptContext context;
  context.is_map = combiner;
  auto reducer = MakeReducer(Builtin("aggregate"), context);
  EXPECT_THAT(reducer, IsOk());
  CollectingEmitter out;
  VectorPairs in(std::move(sorted));
  absl::Status s = (*reducer)->Reduce(&in, &out);
  if (!s.ok()) return s;
  return out.pairs;
}

TEST(AggregateReducerTest, EveryKindAsHadoopFormatsIt) {
  auto out = RunAggregate(false, {{"DoubleValueSum:d", "0.5"},
                                  {"DoubleValueSum:d", "2"},
                                  {"LongValueMax:m", "3"},
                                  {"LongValueMax:m", "-9"},
                                  {"LongValueMax:m", "12"},
                                  {"LongValueMin:n", "3"},
                                  {"LongValueMin:n", "-9"},
                                  {"LongValueSum:the", "1"},
                                  {"LongValueSum:the", "1"},
                                  {"LongValueSum:the", "5"},
                                  {"StringValueMax:s", "pear"},
                                  {"StringValueMax:s", "apple"},
                                  {"StringValueMin:t", "pear"},
                                  {"StringValueMin:t", "apple"},
                                  {"UniqValueCount:u", "a"},
                                  {"UniqValueCount:u", "b"},
                                  {"UniqValueCount:u", "a"},
                                  {"ValueHistogram:h", "x"},
                                  {"ValueHistogram:h", "y\t3"},
                                  {"ValueHistogram:h", "x"},
                                  {"ValueHistogram:h", "z"}});
  ASSERT_THAT(out, IsOk());
  // Histogram counts: x 2, y 3, z 1 -> sorted 1 2 3: min 1, median 2, max 3,
  // average 2.0, standard deviation sqrt(2/3).
  EXPECT_THAT(*out, ElementsAre(Pair("d", "2.5"), Pair("m", "12"), Pair("n", "-9"),
                                Pair("the", "7"), Pair("s", "pear"), Pair("t", "apple"),
                                Pair("u", "2"),
                                Pair("h", "3\t1\t2\t3\t2.0\t0.816496580927726")));
}

TEST(AggregateReducerTest, CombinerKeepsPrefixAndPartialState) {
  auto out = RunAggregate(true, {{"LongValueSum:the", "1"},
                                 {"LongValueSum:the", "2"},
                                 {"UniqValueCount:u", "b"},
                                 {"UniqValueCount:u", "a"},
                                 {"UniqValueCount:u", "b"},
                                 {"ValueHistogram:h", "x"},
                                 {"ValueHistogram:h", "x\t4"}});
  ASSERT_THAT(out, IsOk());
  EXPECT_THAT(*out, ElementsAre(Pair("LongValueSum:the", "3"), Pair("UniqValueCount:u", "a"),
                                Pair("UniqValueCount:u", "b"), Pair("ValueHistogram:h", "x\t5")));
}

TEST(AggregateReducerTest, BadPrefixOrNumberNamesTheKey) {
  EXPECT_THAT(RunAggregate(false, {{"word", "1"}}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("aggregate: key \"word\": want a prefix LongValueSum:")));
  EXPECT_THAT(RunAggregate(false, {{"LongValueSum:a", "x"}}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("key \"LongValueSum:a\": value \"x\" is not a long")));
}

TEST(JavaDoubleStringTest, AsJava) {
  EXPECT_EQ(JavaDoubleString(2), "2.0");
  EXPECT_EQ(JavaDoubleString(0), "0.0");
  EXPECT_EQ(JavaDoubleString(0.5), "0.5");
  EXPECT_EQ(JavaDoubleString(-1.25), "-1.25");
  EXPECT_EQ(JavaDoubleString(123456.0), "123456.0");
  EXPECT_EQ(JavaDoubleString(1e7), "1.0E7");
  EXPECT_EQ(JavaDoubleString(12345678.9), "1.23456789E7");
  EXPECT_EQ(JavaDoubleString(0.001), "0.001");
  EXPECT_EQ(JavaDoubleString(0.0001), "1.0E-4");
  EXPECT_EQ(JavaDoubleString(1.0 / 3), "0.3333333333333333");
}

}  // namespace
}  // namespace ampmr::worker
