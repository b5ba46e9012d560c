#include "worker/task/refill_pacer.h"

#include "gtest/gtest.h"

namespace ampmr::worker {
namespace {

constexpr size_t kPipe = 1 << 20;
constexpr size_t kHalf = kPipe / 2;

// Times are made up: nothing here waits.
const absl::Time kStart = absl::FromUnixSeconds(1000);

TEST(RefillPacerTest, WritesWhileThePipeIsAtMostHalfFull) {
  RefillPacer pacer(kPipe);
  EXPECT_EQ(pacer.Wait(0, kStart), absl::ZeroDuration());
  EXPECT_EQ(pacer.Wait(kHalf, kStart), absl::ZeroDuration());
  EXPECT_GT(pacer.Wait(kHalf + 1, kStart), absl::ZeroDuration());
}

TEST(RefillPacerTest, AFirstRateIsMeasuredOverOneSample) {
  RefillPacer pacer(kPipe);
  pacer.Wrote(kPipe, kStart);
  EXPECT_EQ(pacer.Wait(kPipe, kStart), RefillPacer::kSample);
  EXPECT_EQ(pacer.Wait(kPipe - 1000, kStart + absl::Microseconds(400)), absl::Microseconds(600));
}

TEST(RefillPacerTest, WaitsUntilTheChildShouldHaveReadDownToHalf) {
  RefillPacer pacer(kPipe);
  pacer.Wrote(kPipe, kStart);
  // 100,000 bytes in 10 ms: 10 MB/s, so the 424,288 bytes above half take
  // 42.4 ms, more than the longest wait.
  const size_t queued = kPipe - 100'000;
  EXPECT_EQ(pacer.Wait(queued, kStart + absl::Milliseconds(10)), RefillPacer::kMaxWait);
  // At 10 MB/s, 50,000 bytes above half take 5 ms.
  EXPECT_EQ(pacer.Wait(kHalf + 50'000, kStart + absl::Milliseconds(10.1)),
            absl::Milliseconds(5));
}

TEST(RefillPacerTest, AFastReaderIsLookedAtAgainSoon) {
  RefillPacer pacer(kPipe);
  pacer.Wrote(kPipe, kStart);
  // 500 KB in 1 ms (500 MB/s): the last 24,288 bytes above half take 49 us.
  EXPECT_EQ(pacer.Wait(kPipe - 500'000, kStart + absl::Milliseconds(1)), RefillPacer::kMinWait);
}

TEST(RefillPacerTest, AReaderThatStoppedIsLookedAtLessAndLessOften) {
  RefillPacer pacer(kPipe);
  pacer.Wrote(kPipe, kStart);
  absl::Time now = kStart + RefillPacer::kSample;
  absl::Duration last = absl::ZeroDuration();
  for (int i = 0; i < 20; ++i) {
    const absl::Duration wait = pacer.Wait(kPipe, now);
    EXPECT_GE(wait, last);
    EXPECT_LE(wait, RefillPacer::kMaxWait);
    last = wait;
    now += wait;
  }
  EXPECT_EQ(last, RefillPacer::kMaxWait);
  // It reads again: 10 KB in the 20 ms since (0.5 MB/s) leaves a far longer
  // way down to half than the longest wait.
  EXPECT_EQ(pacer.Wait(kPipe - 10'000, now), RefillPacer::kMaxWait);
  // And once it is down to half, the pipe is written.
  EXPECT_EQ(pacer.Wait(kHalf, now + absl::Milliseconds(1)), absl::ZeroDuration());
}

TEST(RefillPacerTest, AWriteStartsANewSample) {
  RefillPacer pacer(kPipe);
  pacer.Wrote(kPipe, kStart);
  // 10 MB/s measured, then a refill: the next rate is measured from it, so
  // 200,000 bytes in 1 ms after it is 200 MB/s, not their sum over 11 ms.
  pacer.Wait(kPipe - 100'000, kStart + absl::Milliseconds(10));
  pacer.Wrote(kPipe, kStart + absl::Milliseconds(10));
  // At 200 MB/s the 324,288 bytes above half take 1.62 ms.
  EXPECT_EQ(pacer.Wait(kPipe - 200'000, kStart + absl::Milliseconds(11)),
            absl::Microseconds(1621.44));
}

TEST(RefillPacerTest, APipeFoundEmptyDoublesTheRate) {
  RefillPacer pacer(kPipe);
  pacer.Wrote(kPipe, kStart);
  // 10 MB/s measured: 50,000 bytes above half would take 5 ms.
  pacer.Wait(kPipe - 100'000, kStart + absl::Milliseconds(10));
  EXPECT_EQ(pacer.Wait(kHalf + 50'000, kStart + absl::Milliseconds(10)), absl::Milliseconds(5));
  // Refilled, told to wait, then found empty: the child read at least 1 MiB
  // in 200 ms, but faster than 10 MB/s, since it waited; 20 MB/s it is.
  pacer.Wrote(kPipe, kStart + absl::Milliseconds(10));
  EXPECT_GT(pacer.Wait(kPipe, kStart + absl::Milliseconds(10)), absl::ZeroDuration());
  EXPECT_EQ(pacer.Wait(0, kStart + absl::Milliseconds(210)), absl::ZeroDuration());
  pacer.Wrote(kPipe, kStart + absl::Milliseconds(210));
  EXPECT_EQ(pacer.Wait(kHalf + 50'000, kStart + absl::Milliseconds(210)),
            absl::Milliseconds(2.5));
}

TEST(RefillPacerTest, APipeEmptiedWhileTheTaskHadNothingToWriteKeepsTheRate) {
  RefillPacer pacer(kPipe);
  pacer.Wrote(kPipe, kStart);
  pacer.Wait(kPipe - 100'000, kStart + absl::Milliseconds(10));  // 10 MB/s
  // Written down to half, then the task had no more input for a while: the
  // pipe is empty at its next write, but the child did not wait on a wait.
  EXPECT_EQ(pacer.Wait(kHalf, kStart + absl::Milliseconds(60)), absl::ZeroDuration());
  EXPECT_EQ(pacer.Wait(0, kStart + absl::Milliseconds(500)), absl::ZeroDuration());
  pacer.Wrote(kPipe, kStart + absl::Milliseconds(500));
  EXPECT_EQ(pacer.Wait(kHalf + 50'000, kStart + absl::Milliseconds(500)), absl::Milliseconds(5));
}

}  // namespace
}  // namespace ampmr::worker
