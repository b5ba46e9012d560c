#include "common/framework_counters.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ampmr {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

// The table names every field of the message, in field-number order, as
// "ampmr." + the field's name: what the worker sends by number and what
// users see by name are the same counters.
TEST(FrameworkCountersTest, TheTableIsTheMessagesFields) {
  const google::protobuf::Descriptor* d = v1::FrameworkCounters::descriptor();
  ASSERT_EQ(d->field_count(), kFrameworkCounterCount);
  v1::FrameworkCounters counters;
  const google::protobuf::Reflection* r = counters.GetReflection();
  for (int i = 0; i < kFrameworkCounterCount; ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    EXPECT_EQ(FrameworkCounterFields()[i].name, "ampmr." + f->name());
    r->SetInt64(&counters, f, 100 + i);
    EXPECT_TRUE((counters.*FrameworkCounterFields()[i].has)());
    EXPECT_EQ((counters.*FrameworkCounterFields()[i].get)(), 100 + i);
  }
}

TEST(FrameworkCountersTest, ForEachVisitsTheCountersSetZeroIncluded) {
  v1::FrameworkCounters counters;
  counters.set_map_input_bytes(12);
  counters.set_spilled_bytes(0);
  std::vector<std::pair<int, std::string>> seen;
  ForEachFrameworkCounter(counters, [&seen](int i, const char* name, int64_t value) {
    seen.emplace_back(i, std::string(name) + "=" + std::to_string(value));
  });
  EXPECT_THAT(seen, ElementsAre(Pair(1, "ampmr.map_input_bytes=12"),
                                Pair(5, "ampmr.spilled_bytes=0")));
}

TEST(FrameworkCountersTest, WithNamedFrameworkCountersMovesThemIntoTheMap) {
  v1::MapDone done;
  done.mutable_framework_counters()->set_map_input_records(3);
  done.mutable_framework_counters()->set_map_output_records(0);
  (*done.mutable_counters())["app.lines"] = 5;
  (*done.mutable_counters())["ampmr.map_input_records"] = 1;  // a user's, under the same name
  WithNamedFrameworkCounters(&done);
  EXPECT_FALSE(done.has_framework_counters());
  EXPECT_EQ(done.counters().size(), 3u);
  EXPECT_EQ(done.counters().at("ampmr.map_input_records"), 4);
  EXPECT_EQ(done.counters().at("ampmr.map_output_records"), 0);
  EXPECT_EQ(done.counters().at("app.lines"), 5);
}

}  // namespace
}  // namespace ampmr
