#include "worker/task/find_byte.h"

#include <cstring>
#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace ampmr::worker {
namespace {

// Every length up to past the word-at-a-time part, with the byte at every
// place, twice, or absent, among bytes that trip a careless zero-byte trick
// (c - 1, c + 0x80, 0x80, 0xff); each buffer is exactly that long, so a read
// outside it would be a heap overflow under a sanitizer.
TEST(FindByteTest, EqualsMemchrAtEveryLengthAndPlace) {
  const char c = '\t';
  const char fillers[] = {'a', '\x08', '\x89', '\x80', '\xff', '\0'};
  for (char filler : fillers) {
    for (size_t n = 0; n <= 70; ++n) {
      for (size_t at = 0; at <= n; ++at) {  // at == n: absent
        std::unique_ptr<char[]> buffer(new char[n == 0 ? 1 : n]);
        std::memset(buffer.get(), filler, n);
        if (at < n) buffer[at] = c;
        if (at + 3 < n) buffer[at + 3] = c;  // a later one is not the first
        const char* want =
            n == 0 ? nullptr : static_cast<const char*>(std::memchr(buffer.get(), c, n));
        EXPECT_EQ(FindByte(buffer.get(), buffer.get() + n, c), want)
            << "n=" << n << " at=" << at << " filler=" << static_cast<int>(filler);
      }
    }
  }
  EXPECT_EQ(FindByte(nullptr, nullptr, c), nullptr);
}

}  // namespace
}  // namespace ampmr::worker
