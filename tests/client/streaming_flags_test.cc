#include "client/streaming_flags.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace ampmr::client {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Job(std::vector<std::string> extra) {
  std::vector<std::string> args = {"-input", "a,b", "-input", "c", "-output", "out",
                                   "-mapper", "python3 m.py"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

TEST(StreamingFlagsTest, MapsHadoopOptionsOntoJobFlags) {
  auto parsed = ParseStreamingArgs(Job({"-reducer", "aggregate", "-combiner", "aggregate",
                                        "-cmdenv", "A=1", "-numReduceTasks", "7", "--master",
                                        "h:1"}));
  ASSERT_THAT(parsed, IsOk());
  EXPECT_THAT(parsed->job.inputs, ElementsAre("a", "b", "c"));
  EXPECT_EQ(parsed->job.output, "out");
  EXPECT_EQ(parsed->job.mapper, "exec:python3 m.py");
  EXPECT_EQ(parsed->job.reducer, "builtin:aggregate");
  EXPECT_EQ(parsed->job.combiner, "builtin:aggregate");
  EXPECT_THAT(parsed->job.env, ElementsAre("A=1"));
  EXPECT_EQ(parsed->job.reduces, 7);
  EXPECT_EQ(parsed->master, "h:1");
}

TEST(StreamingFlagsTest, KeyFieldPropertiesWithTheirClasses) {
  auto parsed = ParseStreamingArgs(Job(
      {"-D", "stream.num.map.output.key.fields=2", "-Dstream.map.output.field.separator=.",
       "-D", "map.output.key.field.separator=.", "-D",
       "mapreduce.partition.keypartitioner.options=-k1,1", "-D",
       "mapreduce.job.output.key.comparator.class="
       "org.apache.hadoop.mapreduce.lib.partition.KeyFieldBasedComparator",
       "-D", "mapreduce.partition.keycomparator.options=-k1,1 -k2,2nr", "-partitioner",
       "org.apache.hadoop.mapred.lib.KeyFieldBasedPartitioner", "-D", "mapred.job.name=temps",
       "-D", "mapreduce.output.fileoutputformat.compress=true", "-D",
       "mapreduce.output.fileoutputformat.compress.codec=org.apache.hadoop.io.compress.GzipCodec",
       "-D", "mapreduce.task.timeout=60000", "-D", "mapreduce.map.maxattempts=2"}));
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->job.key_fields, 2);
  EXPECT_EQ(parsed->job.field_separator, ".");
  EXPECT_EQ(parsed->job.partition_fields, 1);
  EXPECT_EQ(parsed->job.sort_key, "-k1,1 -k2,2nr");
  EXPECT_EQ(parsed->job.name, "temps");
  EXPECT_EQ(parsed->job.compress_output, "gzip");
  EXPECT_EQ(parsed->job.task_timeout_seconds, 60);
  EXPECT_EQ(parsed->job.max_attempts, 2);
}

TEST(StreamingFlagsTest, ReduceSlowstartUnderEitherName) {
  auto parsed =
      ParseStreamingArgs(Job({"-D", "mapreduce.job.reduce.slowstart.completedmaps=0.75"}));
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->job.reduce_slowstart, "0.75");
  parsed = ParseStreamingArgs(Job({"-D", "mapred.reduce.slowstart.completed.maps=1"}));
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->job.reduce_slowstart, "1");
  parsed = ParseStreamingArgs(Job({}));
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->job.reduce_slowstart, "");  // the master's
  EXPECT_THAT(
      ParseStreamingArgs(Job({"-D", "mapreduce.job.reduce.slowstart.completedmaps=2"})).status(),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "-D mapreduce.job.reduce.slowstart.completedmaps: want a fraction between 0 and "
               "1, got \"2\""));
}

TEST(StreamingFlagsTest, OptionsWithoutTheirClassesCountForNothingAsInHadoop) {
  auto parsed = ParseStreamingArgs(Job({"-D", "mapreduce.partition.keypartitioner.options=-k1,1",
                                        "-D", "mapreduce.partition.keycomparator.options=-k1n"}));
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->job.partition_fields, 0);
  EXPECT_EQ(parsed->job.sort_key, "");
}

TEST(StreamingFlagsTest, ShippedFilesAndTheCommandsThatNameThem) {
  auto parsed = ParseStreamingArgs({"-input", "in", "-output", "out", "-mapper", "mapper.py",
                                    "-reducer", "python3 reducer.py", "-file", "/src/mapper.py",
                                    "-files", "lib/reducer.py,data.txt#d"});
  ASSERT_THAT(parsed, IsOk());
  EXPECT_THAT(parsed->job.files, ElementsAre("/src/mapper.py", "lib/reducer.py", "data.txt#d"));
  EXPECT_EQ(parsed->job.mapper, "exec:./mapper.py");
  EXPECT_EQ(parsed->job.reducer, "exec:python3 reducer.py");
}

TEST(StreamingFlagsTest, NoneAndZeroReducesMakeAMapOnlyJob) {
  auto parsed = ParseStreamingArgs(Job({"-reducer", "NONE"}));
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->job.reducer, "none");
  parsed = ParseStreamingArgs(Job({"-numReduceTasks", "0"}));
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->job.reducer, "none");
}

TEST(StreamingFlagsTest, RefusesWhatItDoesNotSupportByName) {
  EXPECT_THAT(ParseStreamingArgs(Job({"-D", "mapreduce.job.maps=3"})).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("-D mapreduce.job.maps: not supported by ampmr streaming")));
  EXPECT_THAT(ParseStreamingArgs(Job({"-libjars", "x.jar"})).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("-libjars: not supported")));
  EXPECT_THAT(ParseStreamingArgs(Job({"-partitioner", "com.x.MyPartitioner"})).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("-partitioner com.x.MyPartitioner: not supported")));
  EXPECT_THAT(ParseStreamingArgs(Job({"-reducer", "org.example.Reduce"})).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Java classes are not supported")));
  EXPECT_THAT(
      ParseStreamingArgs(Job({"-D", "mapreduce.partition.keypartitioner.options=-k2,2",
                              "-partitioner",
                              "org.apache.hadoop.mapred.lib.KeyFieldBasedPartitioner"}))
          .status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("only -k1,K")));
  EXPECT_THAT(ParseStreamingArgs(Job({"-D", "mapreduce.output.fileoutputformat.compress=true"}))
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("compress.codec=(default)")));
  EXPECT_THAT(ParseStreamingArgs({"-input", "a", "-mapper", "cat"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing -output")));
}

}  // namespace
}  // namespace ampmr::client
