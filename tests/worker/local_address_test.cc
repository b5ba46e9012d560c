#include "worker/local_address.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace ampmr::worker {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::testing::HasSubstr;

TEST(LocalAddressTest, TowardALoopbackMasterIsLoopback) {
  absl::StatusOr<std::string> v4 = LocalAddressToward("127.0.0.1:7070");
  ASSERT_THAT(v4, IsOk());
  EXPECT_EQ(*v4, "127.0.0.1");
  absl::StatusOr<std::string> v6 = LocalAddressToward("[::1]:7070");
  if (v6.ok()) EXPECT_EQ(*v6, "[::1]");  // where the host has IPv6 at all
}

TEST(LocalAddressTest, ABadMasterAddressIsRefusedByName) {
  EXPECT_THAT(LocalAddressToward("no-port"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("master no-port")));
  EXPECT_THAT(LocalAddressToward("no-such-host.invalid:7070"),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("no-such-host.invalid:7070")));
}

}  // namespace
}  // namespace ampmr::worker
