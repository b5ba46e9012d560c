#include "worker/task/copy_bytes.h"

#include <string>

#include "gtest/gtest.h"

namespace ampmr::worker {
namespace {

TEST(CopyBytesTest, EverySizeCopiesExactlyThoseBytes) {
  std::string src;
  for (int i = 0; i < 64; ++i) src.push_back(static_cast<char>('A' + i));
  for (size_t n = 0; n <= src.size(); ++n) {
    std::string dst(80, '.');
    char* end = CopyBytes(dst.data() + 3, absl::string_view(src.data(), n));
    EXPECT_EQ(end, dst.data() + 3 + n);
    EXPECT_EQ(dst, std::string(3, '.') + src.substr(0, n) + std::string(77 - n, '.')) << n;
  }
}

}  // namespace
}  // namespace ampmr::worker
