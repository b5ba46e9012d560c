#include "worker/task/key_partitioner.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ampmr::worker {
namespace {

struct Split {
  std::string key;
  std::string value;
  bool operator==(const Split& o) const { return key == o.key && value == o.value; }
};

Split SplitWith(int fields, char separator, absl::string_view line) {
  KeySpec spec;
  spec.key_fields = fields;
  spec.separator = separator;
  absl::string_view k, v;
  SplitMapOutputLine(spec, line, &k, &v);
  return {std::string(k), std::string(v)};
}

TEST(SplitMapOutputLineTest, AsStreamNumMapOutputKeyFields) {
  EXPECT_EQ(SplitWith(1, '\t', "a\tb\tc"), (Split{"a", "b\tc"}));
  EXPECT_EQ(SplitWith(2, '\t', "a\tb\tc"), (Split{"a\tb", "c"}));
  EXPECT_EQ(SplitWith(3, '\t', "a\tb\tc"), (Split{"a\tb\tc", ""}));
  EXPECT_EQ(SplitWith(4, '\t', "a\tb\tc"), (Split{"a\tb\tc", ""}));
  EXPECT_EQ(SplitWith(2, '.', "1.2.3.4"), (Split{"1.2", "3.4"}));
  EXPECT_EQ(SplitWith(2, '.', "1.2."), (Split{"1.2", ""}));
  EXPECT_EQ(SplitWith(1, '\t', "\t"), (Split{"", ""}));
  EXPECT_EQ(SplitWith(2, '\t', ""), (Split{"", ""}));
}

TEST(KeyPartitionerTest, PartitionFieldsHashTheFirstFieldsOnly) {
  KeySpec spec;
  spec.key_fields = 3;
  spec.partition_fields = 1;
  KeyComparator order(spec);
  KeyPartitioner partitioner(7, &order, {});
  for (const char* year : {"1901", "1950", "2000", "x"}) {
    int p = PartitionOf(year, 7);
    for (const char* rest : {"\t1\ta", "\t-5\tb", "\t\t", ""}) {
      EXPECT_EQ(partitioner.Of(std::string(year) + rest), p) << year << rest;
    }
  }
}

TEST(KeyPartitionerTest, WholeKeyByDefault) {
  KeyComparator order(KeySpec{});
  KeyPartitioner partitioner(5, &order, {});
  for (const char* k : {"a", "a\tb", "", "zzz"}) EXPECT_EQ(partitioner.Of(k), PartitionOf(k, 5));
}

TEST(KeyPartitionerTest, CutPointsInTheJobsOrder) {
  absl::StatusOr<KeySpec> spec = ParseSortKeys("-k1,1nr");
  ASSERT_TRUE(spec.ok());
  KeyComparator order(*spec);
  KeyPartitioner partitioner(3, &order, {"100", "10"});  // descending numbers
  EXPECT_EQ(partitioner.Of("500"), 0);
  EXPECT_EQ(partitioner.Of("100"), 1);
  EXPECT_EQ(partitioner.Of("11"), 1);
  EXPECT_EQ(partitioner.Of("10"), 2);
  EXPECT_EQ(partitioner.Of("-4"), 2);
}

}  // namespace
}  // namespace ampmr::worker
