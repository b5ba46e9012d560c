// End-to-end, real processes: what Hadoop Streaming users rely on beyond the
// word count. Key fields, partition fields and --sort-key (a secondary sort,
// a reduce-side join), several paths per --input, compressed inputs and
// outputs, builtin:aggregate, --total-order, and `ampmr streaming`.
#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/process_util.h"

namespace ampmr::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr absl::Duration kJobTimeout = absl::Seconds(180);

// Writes a Python script into `dir`; returns its path.
std::string Script(const ScratchDir& dir, const std::string& name, const std::string& body) {
  std::string path = dir.path() + "/" + name;
  WriteFile(path, body);
  return path;
}

CommandResult Ampmr(const ScratchDir& tmp, const std::vector<std::string>& args) {
  return RunCommand(Concat({BinPath("ampmr")}, args), kJobTimeout, {{"TMPDIR", tmp.path()}});
}

CommandResult AmpmrRun(const ScratchDir& tmp, const std::vector<std::string>& flags) {
  return Ampmr(tmp, Concat({"run", "--workers", "2"}, flags));
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

// The part files' names in `output`, in order.
std::vector<std::string> PartFiles(const std::string& output) {
  std::vector<std::string> parts;
  for (const auto& e : fs::directory_iterator(output)) {
    if (absl::StartsWith(e.path().filename().string(), "part-")) parts.push_back(e.path());
  }
  std::sort(parts.begin(), parts.end());
  return parts;
}

// The part files concatenated in order (decompressed by `decompress`, a
// command such as "gzip -dc", when given).
std::string Concatenated(const std::string& output, const std::string& decompress = "") {
  std::string all;
  for (const std::string& part : PartFiles(output)) {
    if (decompress.empty()) {
      all += ReadFile(part);
    } else {
      CommandResult r = RunCommand({"/bin/sh", "-c", decompress + " '" + part + "'"},
                                   absl::Seconds(60));
      EXPECT_EQ(r.exit_code, 0) << r.err;
      all += r.out;
    }
  }
  return all;
}

std::vector<std::string> SortedOutputLines(const std::string& output,
                                           const std::string& decompress = "") {
  std::vector<std::string> lines = Lines(Concatenated(output, decompress));
  std::sort(lines.begin(), lines.end());
  return lines;
}

// NCDC-style fixed-width weather records: year at columns 16-19, air
// temperature (signed, tenths of a degree) at 88-92, quality at 93.
std::string NcdcRecord(int year, int temperature, char quality) {
  std::string line(105, '0');
  line.replace(0, 15, "0029029070999991");
  line.replace(15, 4, absl::StrCat(year));
  line.replace(87, 5, absl::StrFormat("%+05d", temperature));
  line[92] = quality;
  return line;
}

constexpr char kMaxTemperatureMapper[] = R"(import sys
for line in sys.stdin:
    year, temp, q = line[15:19], int(line[87:92]), line[92:93]
    if temp != 9999 and q in "01459":
        print("%s\t%d" % (year, temp))
)";

// The first record of each year: the largest, if the sort and the partition
// are right.
constexpr char kFirstPerYearReducer[] = R"(import sys
last = None
for line in sys.stdin:
    year, temp = line.rstrip("\n").split("\t")[:2]  # key TAB value, the value empty
    if year != last:
        print("%s\t%s" % (year, temp))
        last = year
)";

TEST(HadoopStreamingTest, SecondarySortGivesMaxTemperaturePerYear) {
  ScratchDir tmp;
  fs::create_directories(tmp.path() + "/in");
  std::mt19937 rng(1901);
  std::map<int, int> max_by_year;
  for (int f = 0; f < 3; ++f) {
    std::string text;
    for (int i = 0; i < 4000; ++i) {
      int year = 1901 + static_cast<int>(rng() % 30);
      int temp = static_cast<int>(rng() % 900) - 400;
      char quality = "01459"[rng() % 5];
      if (i % 50 == 0) {
        text += NcdcRecord(year, 9999, '1') + "\n";  // missing
        continue;
      }
      text += NcdcRecord(year, temp, quality) + "\n";
      auto [it, inserted] = max_by_year.emplace(year, temp);
      if (!inserted) it->second = std::max(it->second, temp);
    }
    WriteFile(absl::StrCat(tmp.path(), "/in/ncdc-", f, ".txt"), text);
  }
  std::vector<std::string> expected;
  for (const auto& [year, temp] : max_by_year) expected.push_back(absl::StrCat(year, "\t", temp));
  std::sort(expected.begin(), expected.end());

  const std::string out = tmp.path() + "/out";
  CommandResult r = AmpmrRun(
      tmp, {"--input", tmp.path() + "/in", "--output", out, "--mapper",
            "exec:" + Python() + " " + Script(tmp, "m.py", kMaxTemperatureMapper), "--reducer",
            "exec:" + Python() + " " + Script(tmp, "r.py", kFirstPerYearReducer), "--reduces", "3",
            "--split-size", "100K", "--key-fields", "2", "--partition-fields", "1", "--sort-key",
            "-k1,1n -k2,2nr"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(SortedOutputLines(out), expected);
}

constexpr char kJoinReducer[] = R"(import sys
name, uid = None, None
for line in sys.stdin:
    u, tag, rest = line.rstrip("\n").split("\t", 2)
    if tag == "0":
        name, uid = rest, u
    elif uid == u:
        print("%s\t%s\t%s" % (u, name, rest))
)";

TEST(HadoopStreamingTest, ReduceSideJoinIsRightWhateverTheInputOrder) {
  ScratchDir tmp;
  std::string users, orders;
  std::vector<std::string> expected;
  for (int u = 0; u < 300; ++u) {
    absl::StrAppend(&users, "u", u, "\t0\tname", u, "\n");
    for (int o = 0; o < u % 4; ++o) {
      absl::StrAppend(&orders, "u", u, "\t1\titem", u, "-", o, "\n");
      expected.push_back(absl::StrCat("u", u, "\tname", u, "\titem", u, "-", o));
    }
  }
  std::sort(expected.begin(), expected.end());
  WriteFile(tmp.path() + "/users.txt", users);
  WriteFile(tmp.path() + "/orders.txt", orders);
  const std::string reducer = "exec:" + Python() + " " + Script(tmp, "join.py", kJoinReducer);
  int run = 0;
  for (const auto& inputs : std::vector<std::vector<std::string>>{
           {tmp.path() + "/orders.txt", tmp.path() + "/users.txt"},
           {tmp.path() + "/users.txt", tmp.path() + "/orders.txt"}}) {
    const std::string out = absl::StrCat(tmp.path(), "/out", run++);
    // Both paths after one --input, as the shell hands over a glob.
    CommandResult r = AmpmrRun(
        tmp, Concat(Concat({"--input"}, inputs),
                    {"--output", out, "--mapper", "builtin:identity", "--reducer", reducer,
                     "--reduces", "4", "--key-fields", "2", "--partition-fields", "1",
                     "--sort-key", "-k1,1 -k2,2n"}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(SortedOutputLines(out), expected) << "inputs " << absl::StrJoin(inputs, " ");
  }
}


// Text of the corpus, cut into `files` files under `dir`.
void WriteCorpusCopy(const std::string& dir, int files) {
  fs::create_directories(dir);
  MakeCorpus(dir, files, 300 << 10);
}

std::string Shell(const std::string& command) {
  CommandResult r = RunCommand({"/bin/sh", "-c", command}, absl::Seconds(120));
  EXPECT_EQ(r.exit_code, 0) << command << ": " << r.err;
  return r.out;
}

TEST(HadoopStreamingTest, CompressedInputsEqualTheUncompressedRun) {
  ScratchDir tmp;
  const std::string plain = tmp.path() + "/plain";
  WriteCorpusCopy(plain, 3);
  const std::string base = tmp.path() + "/out-plain";
  CommandResult r = AmpmrRun(tmp, {"--input", plain, "--output", base, "--mapper",
                                   "builtin:wordcount", "--combiner", "builtin:sum", "--reducer",
                                   "builtin:sum", "--reduces", "2", "--split-size", "64K"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> expected = SortedOutputLines(base);
  ASSERT_FALSE(expected.empty());
  for (const char* tool : {"gzip", "bzip2", "zstd -q"}) {
    const std::string dir = absl::StrCat(tmp.path(), "/", std::string(tool).substr(0, 4));
    fs::create_directories(dir);
    // One compressed file per input file.
    int n = 0;
    for (const auto& e : fs::directory_iterator(plain)) {
      Shell(absl::StrCat(tool, " -c '", e.path().string(), "' > '", dir, "/f", n++, ".x'"));
    }
    std::string ext = std::string(tool) == "gzip" ? ".gz" : std::string(tool) == "bzip2" ? ".bz2" : ".zst";
    for (int i = 0; i < n; ++i) {
      fs::rename(absl::StrCat(dir, "/f", i, ".x"), absl::StrCat(dir, "/f", i, ext));
    }
    const std::string out = dir + "-out";
    r = AmpmrRun(tmp, {"--input", dir, "--output", out, "--mapper", "builtin:wordcount",
                       "--combiner", "builtin:sum", "--reducer", "builtin:sum", "--reduces", "2",
                       "--split-size", "64K"});
    ASSERT_EQ(r.exit_code, 0) << tool << ": " << r.err;
    EXPECT_EQ(SortedOutputLines(out), expected) << tool;
    EXPECT_THAT(r.out, ::testing::ContainsRegex(absl::StrCat("map: +", n, "/", n, "\n")))
        << tool << ": one split per compressed file\n" << r.out;
  }
}

TEST(HadoopStreamingTest, TruncatedGzipFailsNamingTheFile) {
  ScratchDir tmp;
  const std::string dir = tmp.path() + "/in";
  WriteCorpusCopy(dir, 1);
  std::string file = fs::directory_iterator(dir)->path().string();
  Shell(absl::StrCat("gzip -c '", file, "' | head -c 20000 > '", dir, "/cut.gz' && rm '", file, "'"));
  CommandResult r = AmpmrRun(tmp, {"--input", dir, "--output", tmp.path() + "/out", "--mapper",
                                   "builtin:wordcount", "--reducer", "builtin:sum",
                                   "--max-attempts", "1"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr(dir + "/cut.gz: truncated gzip data"));
  EXPECT_FALSE(fs::exists(tmp.path() + "/out/_SUCCESS"));
}

TEST(HadoopStreamingTest, CompressedOutputsDecompressToTheUncompressedRun) {
  ScratchDir tmp;
  const std::string in = tmp.path() + "/in";
  WriteCorpusCopy(in, 2);
  std::vector<std::string> flags = {"--input", in, "--mapper", "builtin:wordcount",
                                    "--reducer", "builtin:sum", "--reduces", "3"};
  CommandResult r = AmpmrRun(tmp, Concat(flags, {"--output", tmp.path() + "/plain"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string expected = Concatenated(tmp.path() + "/plain");
  for (const auto& [codec, decompress, ext] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"gzip", "gzip -dc", ".gz"}, {"zstd", "zstd -dcq", ".zst"}}) {
    const std::string out = tmp.path() + "/" + codec;
    r = AmpmrRun(tmp, Concat(flags, {"--output", out, "--compress-output", codec}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> parts = PartFiles(out);
    ASSERT_EQ(parts.size(), 3u);
    for (const std::string& p : parts) EXPECT_TRUE(absl::EndsWith(p, ext)) << p;
    EXPECT_EQ(Concatenated(out, decompress), expected) << codec;
  }
  // Map-only output is compressed too.
  r = AmpmrRun(tmp, {"--input", in, "--output", tmp.path() + "/maponly", "--mapper",
                     "builtin:identity", "--reducer", "none", "--compress-output", "gzip"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> in_lines;
  for (const auto& e : fs::directory_iterator(in)) {
    for (const std::string& l : Lines(ReadFile(e.path()))) in_lines.push_back(l);
  }
  std::sort(in_lines.begin(), in_lines.end());
  // The identity mapper's lines go to a map-only job's parts as they are.
  EXPECT_EQ(SortedOutputLines(tmp.path() + "/maponly", "gzip -dc"), in_lines);
}

constexpr char kAggregateMapper[] = R"(import sys, re
for line in sys.stdin:
    words = re.findall(r"[A-Za-z]+", line)
    for w in words:
        print("LongValueSum:%s\t1" % w)
        print("UniqValueCount:distinct\t%s" % w)
    if words:
        print("LongValueMax:longest\t%d" % max(len(w) for w in words))
        print("StringValueMin:first\t%s" % min(words))
)";

TEST(HadoopStreamingTest, AggregateEqualsAReference) {
  ScratchDir tmp;
  const std::string in = tmp.path() + "/in";
  WriteCorpusCopy(in, 2);
  std::map<std::string, long long> counts = SequentialWordCount(in);
  std::vector<std::string> expected;
  size_t longest = 0;
  for (const auto& [w, n] : counts) {
    expected.push_back(absl::StrCat(w, "\t", n));
    longest = std::max(longest, w.size());
  }
  expected.push_back(absl::StrCat("distinct\t", counts.size()));
  expected.push_back(absl::StrCat("longest\t", longest));
  expected.push_back(absl::StrCat("first\t", counts.begin()->first));
  std::sort(expected.begin(), expected.end());
  const std::string out = tmp.path() + "/out";
  CommandResult r = AmpmrRun(
      tmp, {"--input", in, "--output", out, "--mapper",
            "exec:" + Python() + " " + Script(tmp, "agg.py", kAggregateMapper), "--combiner",
            "builtin:aggregate", "--reducer", "builtin:aggregate", "--reduces", "2",
            "--split-size", "128K"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(SortedOutputLines(out), expected);
}

// 100-byte records with 10-byte keys, as the sort benchmark's.
std::string SortRecords(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string text;
  for (int i = 0; i < n; ++i) {
    std::string key(10, ' ');
    for (char& c : key) c = static_cast<char>(' ' + rng() % 95);
    absl::StrAppend(&text, key, "\t", std::string(88, 'a' + i % 26), "\n");
  }
  return text;
}

TEST(HadoopStreamingTest, TotalOrderPartsConcatenatedAreSorted) {
  ScratchDir tmp;
  fs::create_directories(tmp.path() + "/in");
  for (int f = 0; f < 4; ++f) {
    WriteFile(absl::StrCat(tmp.path(), "/in/r", f), SortRecords(20000, f + 1));
  }
  const std::string out = tmp.path() + "/out";
  CommandResult r = AmpmrRun(tmp, {"--input", tmp.path() + "/in", "--output", out, "--mapper",
                                   "builtin:identity", "--reducer", "builtin:identity",
                                   "--reduces", "5", "--split-size", "512K", "--total-order"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string sorted = Shell("cat '" + tmp.path() + "/in/'* | LC_ALL=C sort");
  EXPECT_EQ(Concatenated(out), sorted);
  int nonempty = 0;
  for (const std::string& p : PartFiles(out)) nonempty += fs::file_size(p) > 0;
  EXPECT_GE(nonempty, 4) << "the sample spreads keys over the reduces";

  // With --sort-key, in that order: numbers descending.
  std::string numbers;
  std::mt19937 rng(3);
  for (int i = 0; i < 30000; ++i) absl::StrAppend(&numbers, static_cast<int>(rng() % 200000) - 100000, "\n");
  WriteFile(tmp.path() + "/numbers", numbers);
  const std::string out2 = tmp.path() + "/out2";
  r = AmpmrRun(tmp, {"--input", tmp.path() + "/numbers", "--output", out2, "--mapper",
                     "builtin:identity", "--reduces", "4", "--split-size", "64K",
                     "--total-order", "--sort-key", "-k1,1nr"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string expected = Shell("LC_ALL=C sort -k1,1nr '" + tmp.path() + "/numbers' | sed 's/$/\t/'");
  EXPECT_EQ(Concatenated(out2), expected);
}

// The example in Hadoop Streaming's documentation (KeyFieldBasedPartitioner),
// with the mapper and reducer it names.
TEST(HadoopStreamingTest, DocumentedCommandLineRuns) {
  ScratchDir tmp;
  std::string text;
  std::vector<std::string> expected;
  for (int a = 0; a < 6; ++a) {
    for (int b = 0; b < 5; ++b) {
      for (int c = 0; c < 3; ++c) {
        std::string line = absl::StrCat(a, ".", b, ".", c, ".", (a * 7 + b * 3 + c) % 10);
        text += line + "\n";
        // The key is the first four fields; /bin/cat gets key TAB value.
        expected.push_back(line + "\t");
      }
    }
  }
  std::sort(expected.begin(), expected.end());
  WriteFile(tmp.path() + "/in.txt", text);
  const std::string out = tmp.path() + "/out";
  CommandResult r = Ampmr(tmp, {"streaming", "--workers", "2",
                                "-D", "stream.map.output.field.separator=.",
                                "-D", "stream.num.map.output.key.fields=4",
                                "-D", "mapreduce.map.output.key.field.separator=.",
                                "-D", "mapreduce.partition.keypartitioner.options=-k1,2",
                                "-D", "mapreduce.job.reduces=12",
                                "-input", tmp.path() + "/in.txt",
                                "-output", out,
                                "-mapper", "/bin/cat",
                                "-reducer", "/bin/cat",
                                "-partitioner", "org.apache.hadoop.mapred.lib.KeyFieldBasedPartitioner"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(PartFiles(out).size(), 12u);
  EXPECT_EQ(SortedOutputLines(out), expected);
  // Each a.b pair (the first two fields) lives in exactly one part.
  std::map<std::string, std::string> part_of;
  for (const std::string& part : PartFiles(out)) {
    for (const std::string& line : Lines(ReadFile(part))) {
      std::vector<std::string> f = absl::StrSplit(line, '.');
      auto [it, inserted] = part_of.emplace(f[0] + "." + f[1], part);
      EXPECT_EQ(it->second, part) << line;
    }
  }
}

// Hadoop's classic word count: `-mapper mapper.py -file mapper.py` ships the
// scripts and runs them from each attempt's directory (by their #! line),
// though they are nowhere the workers could find them by that name.
TEST(HadoopStreamingTest, ShippedScriptsRunByTheirName) {
  ScratchDir tmp;
  const std::string src = tmp.path() + "/src";
  fs::create_directories(src);
  for (const char* name : {"wordcount_mapper.py", "wordcount_reducer.py"}) {
    fs::copy_file(SourceDir() + "/examples/streaming/" + name, src + "/" + name);
    fs::permissions(src + "/" + name, static_cast<fs::perms>(0755));
  }
  const std::string in = tmp.path() + "/in";
  MakeCorpus(in, 3, 64 << 10);
  const std::string out = tmp.path() + "/out";
  CommandResult r = Ampmr(tmp, {"streaming", "--workers", "2",
                                "-D", "mapreduce.job.reduces=2",
                                "-input", in,
                                "-output", out,
                                "-mapper", "wordcount_mapper.py",
                                "-reducer", "wordcount_reducer.py",
                                "-file", src + "/wordcount_mapper.py",
                                "-file", src + "/wordcount_reducer.py"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadCounts(out), SequentialWordCount(in));
}

TEST(HadoopStreamingTest, UnsupportedOptionOrPropertyIsRefusedByName) {
  ScratchDir tmp;
  WriteFile(tmp.path() + "/in.txt", "a\n");
  const std::vector<std::string> job = {"-input", tmp.path() + "/in.txt", "-output",
                                        tmp.path() + "/out", "-mapper", "cat"};
  CommandResult r = Ampmr(tmp, Concat({"streaming", "-D", "mapreduce.job.maps=5"}, job));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("-D mapreduce.job.maps: not supported by ampmr streaming"));
  r = Ampmr(tmp, Concat({"streaming", "-inputformat", "org.apache.hadoop.mapred.SequenceFileInputFormat"}, job));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("-inputformat: not supported by ampmr streaming"));
  EXPECT_FALSE(fs::exists(tmp.path() + "/out"));
}

}  // namespace
}  // namespace ampmr::testing
