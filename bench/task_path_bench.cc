// task_path_bench MAPPER_OUTPUT [ROUNDS]: what the framework spends per pair
// of a streaming task, without the child: the map side (a file of mapper
// output lines fed to the map output collector as they would arrive from the
// child's stdout, in 1 MiB reads, then Finish: sort and write the run) and
// the reduce side (the run of every round merged and turned back into
// key<TAB>value lines in 1 MiB blocks, as an exec reducer's stdin gets them).
// Prints the CPU time of each part per round.
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "worker/task/copy_bytes.h"
#include "worker/task/map_output.h"
#include "worker/task/mapped_range.h"
#include "worker/task/merge.h"

namespace {

double CpuSeconds() {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ampmr::worker;  // NOLINT
  if (argc < 2) {
    std::fprintf(stderr, "usage: task_path_bench MAPPER_OUTPUT [ROUNDS] [REDUCES]\n");
    return 2;
  }
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 8;
  const int reduces = argc > 3 ? std::atoi(argv[3]) : 2;
  std::ifstream in(argv[1], std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string data = ss.str();
  const std::string dir =
      std::filesystem::temp_directory_path() / ("task_path_bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::vector<std::string> outputs;
  std::vector<std::vector<PartitionExtent>> extents;
  double emit = 0, finish = 0, best_emit = 1e9, best_finish = 1e9;
  for (int r = 0; r < rounds; ++r) {
    const std::string prefix = dir + "/m" + std::to_string(r);
    MapOutputOptions options;
    options.partitions = reduces;
    options.spill_prefix = prefix;
    auto collector = MapOutputCollector::Create(std::move(options)).value();
    double t0 = CpuSeconds();
    constexpr size_t kRead = size_t{1} << 20;
    std::string buffer;
    for (size_t at = 0; at < data.size(); at += kRead) {
      buffer.append(data, at, kRead);  // a read from the pipe
      // The whole lines, as a child's stdout hands them over (LineReader).
      const size_t begin = buffer.rfind('\n') + 1;  // 0 when there is none
      if (begin > 0) collector->EmitLines(absl::string_view(buffer.data(), begin));
      buffer.erase(0, begin);
    }
    double t1 = CpuSeconds();
    const std::string path = prefix + ".out";
    extents.push_back(collector->Finish(path).value());
    outputs.push_back(path);
    double t2 = CpuSeconds();
    emit += t1 - t0;
    finish += t2 - t1;
    best_emit = std::min(best_emit, t1 - t0);
    best_finish = std::min(best_finish, t2 - t1);
  }
  double merge = 0;
  size_t bytes = 0;
  for (int p = 0; p < reduces; ++p) {
    std::vector<std::unique_ptr<MappedRange>> maps;
    std::vector<RunInput> runs;
    for (int r = 0; r < rounds; ++r) {
      const PartitionExtent& e = extents[r][p];
      maps.push_back(MappedRange::Open(outputs[r], e.offset, e.length).value());
      runs.push_back({maps.back()->data(), outputs[r], e.offset});
    }
    double t0 = CpuSeconds();
    MergingPairs merged(runs);
    constexpr size_t kBlock = size_t{1} << 20;
    std::unique_ptr<char[]> block(new char[kBlock]);
    size_t used = 0;
    absl::string_view key, value;
    while (merged.Next(&key, &value)) {
      if (kBlock - used < key.size() + value.size() + 2) {
        bytes += used;
        used = 0;
      }
      char* out = CopyBytes(block.get() + used, key);
      *out++ = '\t';
      out = CopyBytes(out, value);
      *out++ = '\n';
      used = static_cast<size_t>(out - block.get());
    }
    bytes += used;
    merge += CpuSeconds() - t0;
  }
  std::filesystem::remove_all(dir);
  std::printf(
      "per round (%zu bytes of mapper output): emit %.1f ms (best %.1f), finish %.1f ms "
      "(best %.1f); merge into lines %.1f ms per round's worth (%zu bytes)\n",
      data.size(), 1e3 * emit / rounds, 1e3 * best_emit, 1e3 * finish / rounds, 1e3 * best_finish,
      1e3 * merge / rounds, bytes);
  return 0;
}
