#include "worker/task/spare_buffer.h"

#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace ampmr::worker {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

TEST(SpareBufferTest, ADroppedBufferIsTheNextOneOfItsSizeOnThatThread) {
  SpareBuffer::FreeKeptOfThisThread();  // tests of one binary share a thread
  const char* first;
  {
    SpareBuffer a(4 * kMiB);
    first = a.get();
    a.get()[0] = 'x';
  }
  EXPECT_EQ(SpareBuffer::KeptBytesOfThisThread(), 4 * kMiB);
  SpareBuffer b(3 * kMiB);  // at most twice as large: this one fits
  EXPECT_EQ(b.get(), first);
  EXPECT_EQ(b.size(), 4 * kMiB);
  EXPECT_EQ(SpareBuffer::KeptBytesOfThisThread(), 0u);
}

TEST(SpareBufferTest, TooLargeOrOnAnotherThreadIsNotReused) {
  SpareBuffer::FreeKeptOfThisThread();
  { SpareBuffer big(8 * kMiB); }
  SpareBuffer small(1 * kMiB);  // the kept one is over twice as large
  EXPECT_EQ(small.size(), 1 * kMiB);
  EXPECT_EQ(SpareBuffer::KeptBytesOfThisThread(), 8 * kMiB);
  std::thread other([] {
    EXPECT_EQ(SpareBuffer::KeptBytesOfThisThread(), 0u);
    SpareBuffer b(8 * kMiB);
    EXPECT_EQ(b.size(), 8 * kMiB);
  });
  other.join();
  SpareBuffer again(8 * kMiB);
  EXPECT_EQ(SpareBuffer::KeptBytesOfThisThread(), 0u);
}

TEST(SpareBufferTest, SmallBuffersAreNotKeptAndTheKeptBytesAreCapped) {
  SpareBuffer::FreeKeptOfThisThread();
  { SpareBuffer small(SpareBuffer::kMinKeptSize - 1); }
  EXPECT_EQ(SpareBuffer::KeptBytesOfThisThread(), 0u);
  {
    std::vector<SpareBuffer> many;
    for (int i = 0; i < 20; ++i) many.emplace_back(4 * kMiB);
  }
  EXPECT_EQ(SpareBuffer::KeptBytesOfThisThread(), SpareBuffer::kKeptBytes);
  // Moved-from buffers hold nothing and give nothing back.
  SpareBuffer a(4 * kMiB);
  SpareBuffer b(std::move(a));
  EXPECT_EQ(a.get(), nullptr);  // NOLINT: what a move leaves is the point
  EXPECT_EQ(b.size(), 4 * kMiB);
  SpareBuffer::FreeKeptOfThisThread();
  EXPECT_EQ(SpareBuffer::KeptBytesOfThisThread(), 0u);
}

}  // namespace
}  // namespace ampmr::worker
