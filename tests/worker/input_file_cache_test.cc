#include "worker/task/input_file_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "tests/worker/test_util.h"

namespace ampmr::worker {
namespace {

using ::ampmr::testing::IsOk;
using ::ampmr::testing::StatusIs;
using ::ampmr::worker::testing::ScratchDir;
using ::ampmr::worker::testing::WriteFile;
using ::testing::HasSubstr;

// The first byte of the open file.
char FirstByte(const InputFile& file) {
  char c = 0;
  EXPECT_EQ(::pread(file.fd(), &c, 1, 0), 1);
  return c;
}

bool IsOpen(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

TEST(InputFileCacheTest, AJobsAttemptsShareOneOpenFile) {
  ScratchDir dir;
  WriteFile(dir.Join("in"), "a\n");
  InputFileCache cache;
  auto first = cache.Open("j1", dir.Join("in"));
  ASSERT_THAT(first, IsOk());
  // Kept open: a second attempt reads it even once the name is gone.
  ASSERT_EQ(::unlink(dir.Join("in").c_str()), 0);
  auto second = cache.Open("j1", dir.Join("in"));
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(first->get(), second->get());
  EXPECT_EQ(FirstByte(**second), 'a');
  EXPECT_EQ(cache.size(), 1u);
}

TEST(InputFileCacheTest, AnotherJobOpensTheFileAgain) {
  ScratchDir dir;
  WriteFile(dir.Join("in"), "a\n");
  InputFileCache cache;
  auto old_job = cache.Open("j1", dir.Join("in"));
  ASSERT_THAT(old_job, IsOk());
  // Replaced between the jobs: the new job reads the new file.
  WriteFile(dir.Join("in.new"), "b\n");
  ASSERT_EQ(::rename(dir.Join("in.new").c_str(), dir.Join("in").c_str()), 0);
  auto new_job = cache.Open("j2", dir.Join("in"));
  ASSERT_THAT(new_job, IsOk());
  EXPECT_EQ(FirstByte(**new_job), 'b');
  EXPECT_EQ(FirstByte(**old_job), 'a');
  EXPECT_EQ(cache.size(), 2u);
}

TEST(InputFileCacheTest, ForgetJobClosesItsFilesOnly) {
  ScratchDir dir;
  WriteFile(dir.Join("a"), "a\n");
  WriteFile(dir.Join("b"), "b\n");
  InputFileCache cache;
  std::weak_ptr<const InputFile> a1 = *cache.Open("j1", dir.Join("a"));
  std::weak_ptr<const InputFile> b1 = *cache.Open("j1", dir.Join("b"));
  std::weak_ptr<const InputFile> a2 = *cache.Open("j2", dir.Join("a"));
  const int fd = a1.lock()->fd();
  cache.ForgetJob("j1");
  EXPECT_TRUE(a1.expired());
  EXPECT_TRUE(b1.expired());
  EXPECT_FALSE(IsOpen(fd));
  EXPECT_FALSE(a2.expired());
  EXPECT_EQ(cache.size(), 1u);
  cache.ForgetJob("j9");  // unknown: nothing happens
  EXPECT_EQ(cache.size(), 1u);
  cache.ForgetAll();
  EXPECT_TRUE(a2.expired());
  EXPECT_EQ(cache.size(), 0u);
}

TEST(InputFileCacheTest, KeepsAtMostMaxOpenClosingTheLeastRecentlyUsed) {
  ScratchDir dir;
  for (const char* name : {"a", "b", "c"}) WriteFile(dir.Join(name), "x\n");
  InputFileCache cache(2);
  std::weak_ptr<const InputFile> a = *cache.Open("j1", dir.Join("a"));
  std::weak_ptr<const InputFile> b = *cache.Open("j2", dir.Join("b"));
  ASSERT_THAT(cache.Open("j1", dir.Join("a")), IsOk());  // a is now the most recent
  std::weak_ptr<const InputFile> c = *cache.Open("j1", dir.Join("c"));
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_TRUE(b.expired());
  EXPECT_FALSE(a.expired());
  EXPECT_FALSE(c.expired());
}

TEST(InputFileCacheTest, AFileBeingReadStaysOpenWhenTheCacheLetsGo) {
  ScratchDir dir;
  WriteFile(dir.Join("a"), "a\n");
  WriteFile(dir.Join("b"), "b\n");
  InputFileCache cache(1);
  auto reading = cache.Open("j1", dir.Join("a"));
  ASSERT_THAT(reading, IsOk());
  ASSERT_THAT(cache.Open("j1", dir.Join("b")), IsOk());  // a leaves the cache
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(FirstByte(**reading), 'a');
  const int fd = (*reading)->fd();
  reading->reset();
  EXPECT_FALSE(IsOpen(fd));
}

TEST(InputFileCacheTest, AMissingFileNamesItsPathAndIsNotKept) {
  ScratchDir dir;
  InputFileCache cache;
  EXPECT_THAT(cache.Open("j1", dir.Join("nope")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("open " + dir.Join("nope"))));
  EXPECT_EQ(cache.size(), 0u);
}

TEST(InputFileCacheTest, MaxOpenZeroKeepsNothing) {
  ScratchDir dir;
  WriteFile(dir.Join("a"), "a\n");
  InputFileCache cache(0);
  std::weak_ptr<const InputFile> a = *cache.Open("j1", dir.Join("a"));
  EXPECT_TRUE(a.expired());
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace ampmr::worker
