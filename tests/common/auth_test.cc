#include "common/auth.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "common/listen_address.h"
#include "common/log_limiter.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace ampmr {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::testing::HasSubstr;

class TempFile {
 public:
  TempFile(const std::string& contents, mode_t mode) {
    char name[] = "/tmp/ampmr-auth-test-XXXXXX";
    const int fd = mkstemp(name);
    path_ = name;
    ssize_t written = write(fd, contents.data(), contents.size());
    (void)written;
    close(fd);
    chmod(path_.c_str(), mode);
  }
  ~TempFile() { unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ReadTokenFileTest, ReadsTheTokenWithoutSurroundingWhitespace) {
  TempFile file("  0123456789abcdef0123\n", 0600);
  absl::StatusOr<std::string> token = ReadTokenFile(file.path(), "--token-file");
  ASSERT_THAT(token, IsOk());
  EXPECT_EQ(*token, "0123456789abcdef0123");
}

TEST(ReadTokenFileTest, RefusesFilesOthersCanRead) {
  for (mode_t mode : {0640, 0604, 0660, 0602}) {
    TempFile file("0123456789abcdef0123\n", mode);
    EXPECT_THAT(ReadTokenFile(file.path(), "--token-file"),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("must be readable by its owner only")))
        << std::oct << mode;
  }
}

TEST(ReadTokenFileTest, RefusesBadTokens) {
  TempFile empty("\n", 0600);
  EXPECT_THAT(ReadTokenFile(empty.path(), "--token-file"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is empty")));
  TempFile short_token("abc\n", 0600);
  EXPECT_THAT(ReadTokenFile(short_token.path(), "--token-file"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("shorter than 16")));
  TempFile spaced("0123456789 abcdef0123\n", 0600);
  EXPECT_THAT(ReadTokenFile(spaced.path(), "--token-file"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("printable ASCII only")));
  TempFile huge(std::string(kMaxTokenBytes + 1, 'a'), 0600);
  EXPECT_THAT(ReadTokenFile(huge.path(), "--token-file"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("longer than")));
  EXPECT_THAT(ReadTokenFile("/nonexistent/token", "--token-file"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--token-file /nonexistent/token: No such file")));
}

TEST(MakeTokenTest, FreshHexTokens) {
  absl::StatusOr<std::string> a = MakeToken();
  absl::StatusOr<std::string> b = MakeToken();
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(a->size(), 64u);
  EXPECT_NE(*a, *b);
}

TEST(WriteNewTokenFileTest, OwnerOnlyAndReadableBack) {
  const std::string path = "/tmp/ampmr-auth-test-new-" + std::to_string(getpid());
  unlink(path.c_str());
  absl::StatusOr<std::string> token = WriteNewTokenFile(path);
  ASSERT_THAT(token, IsOk());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(*ReadTokenFile(path, "--token-file"), *token);
  EXPECT_THAT(WriteNewTokenFile(path), StatusIs(absl::StatusCode::kInvalidArgument));
  unlink(path.c_str());
}

TEST(TokensEqualTest, ComparesWholeTokens) {
  EXPECT_TRUE(TokensEqual("0123456789abcdef", "0123456789abcdef"));
  EXPECT_FALSE(TokensEqual("0123456789abcdef", "0123456789abcdeg"));
  EXPECT_FALSE(TokensEqual("0123456789abcdef", "0123456789abcdef0"));
  EXPECT_FALSE(TokensEqual("", "x"));
}

TEST(TokenAuthenticatorTest, WantsBearerAndTheToken) {
  TokenAuthenticator auth("0123456789abcdef");
  EXPECT_THAT(auth.Authenticate("Bearer 0123456789abcdef", "ipv4:1.2.3.4:5", "X"), IsOk());
  EXPECT_THAT(auth.Authenticate("", "ipv4:1.2.3.4:5", "X"),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("missing token")));
  EXPECT_THAT(auth.Authenticate("0123456789abcdef", "ipv4:1.2.3.4:5", "X"),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("wrong token")));
  EXPECT_THAT(auth.Authenticate("Bearer 0123456789abcdeX", "ipv4:1.2.3.4:5", "X"),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("wrong token")));
  TokenAuthenticator open("");
  EXPECT_FALSE(open.enabled());
  EXPECT_THAT(open.Authenticate("", "ipv4:1.2.3.4:5", "X"), IsOk());
  EXPECT_FALSE(open.Matches(""));
}

TEST(ListenAddressTest, LoopbackHosts) {
  for (const char* address : {"127.0.0.1:7070", "127.5.6.7:0", "localhost:1", "[::1]:70"}) {
    EXPECT_TRUE(IsLoopbackHost(HostOf(address))) << address;
  }
  for (const char* address :
       {"0.0.0.0:7070", ":7070", "[::]:7070", "10.0.0.1:1", "127.example.com:1", "host:1"}) {
    EXPECT_FALSE(IsLoopbackHost(HostOf(address))) << address;
  }
}

TEST(ListenAddressTest, TakenPortSaysSo) {
  EXPECT_THAT(CheckBindable("--listen", "127.0.0.1:0"), IsOk());
  EXPECT_THAT(CheckBindable("--listen", "nonsense"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("want HOST:PORT")));
}

TEST(LogLimiterTest, OncePerKeyPerInterval) {
  LogLimiter limiter(absl::Minutes(1));
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  int64_t skipped = -1;
  EXPECT_TRUE(limiter.Allow("a", &skipped, t0));
  EXPECT_EQ(skipped, 0);
  EXPECT_FALSE(limiter.Allow("a", &skipped, t0 + absl::Seconds(1)));
  EXPECT_FALSE(limiter.Allow("a", &skipped, t0 + absl::Seconds(2)));
  EXPECT_TRUE(limiter.Allow("b", &skipped, t0 + absl::Seconds(2)));
  EXPECT_TRUE(limiter.Allow("a", &skipped, t0 + absl::Seconds(61)));
  EXPECT_EQ(skipped, 2);
}

TEST(LogLimiterTest, KeysPastTheBoundAreStillLogged) {
  LogLimiter limiter(absl::Minutes(1));
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  int64_t skipped = 0;
  int allowed = 0;
  for (size_t i = 0; i < 3 * LogLimiter::kMaxKeys; ++i) {
    allowed += limiter.Allow(std::to_string(i), &skipped, t0);
  }
  EXPECT_EQ(allowed, static_cast<int>(3 * LogLimiter::kMaxKeys));
}

}  // namespace
}  // namespace ampmr
