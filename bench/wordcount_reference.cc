// wordcount_reference FILE... > out
//
// The honest baseline the map task's word count is measured against: a
// straightforward single-threaded C++ word count. It reads each file whole,
// counts each maximal run of ASCII letters (case kept) in a
// std::unordered_map<std::string, int64_t>, and prints word<TAB>count lines
// sorted bytewise. Nothing here is slowed down on purpose: one read per file,
// a branch-light letter test, short words in std::string's inline buffer.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace {

inline bool IsLetter(unsigned char c) { return static_cast<unsigned char>((c | 0x20) - 'a') < 26; }

bool ReadWholeFile(const char* path, std::string* out) {
  std::FILE* f = std::fopen(path, "rb");
  if (f == nullptr) return false;
  std::fseek(f, 0, SEEK_END);
  long size = std::ftell(f);
  std::fseek(f, 0, SEEK_SET);
  out->resize(size > 0 ? static_cast<size_t>(size) : 0);
  size_t got = std::fread(out->data(), 1, out->size(), f);
  bool ok = got == out->size() && !std::ferror(f);
  std::fclose(f);
  return ok;
}

void CountWords(const std::string& text, std::unordered_map<std::string, int64_t>* counts) {
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    while (p < end && !IsLetter(*p)) ++p;
    const char* word = p;
    while (p < end && IsLetter(*p)) ++p;
    if (p != word) ++(*counts)[std::string(word, p - word)];
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE... > out\n", argv[0]);
    return 2;
  }
  std::unordered_map<std::string, int64_t> counts;
  std::string text;
  for (int i = 1; i < argc; ++i) {
    if (!ReadWholeFile(argv[i], &text)) {
      std::fprintf(stderr, "wordcount_reference: %s: %s\n", argv[i], std::strerror(errno));
      return 1;
    }
    CountWords(text, &counts);
  }
  std::vector<std::pair<std::string, int64_t>> sorted(counts.begin(), counts.end());
  std::sort(sorted.begin(), sorted.end());
  std::string out;
  for (const auto& [word, n] : sorted) {
    out += word;
    out += '\t';
    out += std::to_string(n);
    out += '\n';
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}
