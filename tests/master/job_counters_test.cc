#include "master/job_counters.h"

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ampmr::master {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

using Named = std::map<std::string, int64_t>;

v1::FrameworkCounters MapCounters(int64_t records, int64_t bytes) {
  v1::FrameworkCounters c;
  c.set_map_input_records(records);
  c.set_map_input_bytes(bytes);
  c.set_map_output_records(0);
  return c;
}

TEST(JobCountersTest, SumsFrameworkCountersAsNumbersAndByNameAsOne) {
  JobCounters counters(3);
  counters.SetMap(0, MapCounters(2, 10), Named{{"app.lines", 2}});
  // An older worker's attempt names them.
  counters.SetMap(1, Named{{"ampmr.map_input_records", 5}, {"ampmr.map_input_bytes", 20}});
  v1::FrameworkCounters reduce;
  reduce.set_shuffled_bytes(7);
  counters.Add(reduce, Named{});
  EXPECT_THAT(counters.Sums(),
              ElementsAre(Pair("ampmr.map_input_bytes", 30), Pair("ampmr.map_input_records", 7),
                          Pair("ampmr.map_output_records", 0),  // counted, as zero
                          Pair("ampmr.shuffled_bytes", 7), Pair("app.lines", 2)));
}

TEST(JobCountersTest, ALostMapOutputsCountsAreTakenBackAndAnotherAttemptReplacesThem) {
  JobCounters counters(2);
  counters.SetMap(0, MapCounters(2, 10), Named{{"app.lines", 2}});
  counters.SetMap(1, MapCounters(3, 15), Named{});
  counters.TakeBackMap(0);
  EXPECT_THAT(counters.Sums(),
              ElementsAre(Pair("ampmr.map_input_bytes", 15), Pair("ampmr.map_input_records", 3),
                          Pair("ampmr.map_output_records", 0), Pair("app.lines", 0)));
  counters.SetMap(0, MapCounters(2, 10), Named{{"app.lines", 2}});
  counters.SetMap(1, MapCounters(4, 16), Named{});  // replaces its earlier attempt's
  EXPECT_THAT(counters.Sums(),
              ElementsAre(Pair("ampmr.map_input_bytes", 26), Pair("ampmr.map_input_records", 6),
                          Pair("ampmr.map_output_records", 0), Pair("app.lines", 2)));
  counters.TakeBackMap(7);  // out of range: nothing
  counters.SetMap(-1, MapCounters(9, 9), Named{});
  EXPECT_EQ(counters.Sums().at("ampmr.map_input_records"), 6);
}

}  // namespace
}  // namespace ampmr::master
