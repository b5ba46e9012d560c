#include "master/plugin_file.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "ampmr/plugin.h"

namespace ampmr::master {
namespace {

#if defined(__x86_64__)
constexpr int kMachine = EM_X86_64;
#elif defined(__aarch64__)
constexpr int kMachine = EM_AARCH64;
#else
#error "unknown machine: add its ELF e_machine"
#endif

// The file's bytes, read-only, unmapped at destruction.
class Mapped {
 public:
  ~Mapped() {
    if (data_ != nullptr) munmap(data_, size_);
  }
  absl::Status Open(const std::string& path) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return absl::InvalidArgumentError(absl::StrCat(path, ": ", strerror(errno)));
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0) {
      close(fd);
      return absl::InvalidArgumentError(absl::StrCat(path, ": empty, not an ELF shared object"));
    }
    size_ = static_cast<size_t>(st.st_size);
    void* data = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (data == MAP_FAILED) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", strerror(errno)));
    }
    data_ = data;
    return absl::OkStatus();
  }
  // `count` objects of T at `offset`, or null when they are not all inside.
  template <class T>
  const T* At(uint64_t offset, uint64_t count = 1) const {
    if (offset > size_ || count > (size_ - offset) / sizeof(T)) return nullptr;
    return reinterpret_cast<const T*>(static_cast<const char*>(data_) + offset);
  }
  size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

bool DefinesSymbol(const Mapped& file, const Elf64_Ehdr& header, absl::string_view name) {
  const Elf64_Shdr* sections = file.At<Elf64_Shdr>(header.e_shoff, header.e_shnum);
  if (sections == nullptr || header.e_shentsize != sizeof(Elf64_Shdr)) return false;
  for (int i = 0; i < header.e_shnum; ++i) {
    const Elf64_Shdr& symtab = sections[i];
    if (symtab.sh_type != SHT_DYNSYM || symtab.sh_link >= header.e_shnum) continue;
    const Elf64_Shdr& strtab = sections[symtab.sh_link];
    const Elf64_Sym* symbols =
        file.At<Elf64_Sym>(symtab.sh_offset, symtab.sh_size / sizeof(Elf64_Sym));
    const char* strings = file.At<char>(strtab.sh_offset, strtab.sh_size);
    if (symbols == nullptr || strings == nullptr) return false;
    for (uint64_t s = 0; s < symtab.sh_size / sizeof(Elf64_Sym); ++s) {
      const Elf64_Sym& symbol = symbols[s];
      if (symbol.st_shndx == SHN_UNDEF || symbol.st_name >= strtab.sh_size) continue;
      const char* text = strings + symbol.st_name;
      const size_t room = strtab.sh_size - symbol.st_name;
      if (strnlen(text, room) == name.size() && std::memcmp(text, name.data(), name.size()) == 0) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace

absl::Status CheckPluginFile(const std::string& path) {
  Mapped file;
  if (absl::Status s = file.Open(path); !s.ok()) return s;
  const Elf64_Ehdr* header = file.At<Elf64_Ehdr>(0);
  if (header == nullptr || std::memcmp(header->e_ident, ELFMAG, SELFMAG) != 0 ||
      header->e_ident[EI_CLASS] != ELFCLASS64 || header->e_type != ET_DYN) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not an ELF shared object"));
  }
  if (header->e_machine != kMachine) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": an ELF shared object for another machine"));
  }
  if (!DefinesSymbol(file, *header, AMPMR_PLUGIN_ENTRY_SYMBOL)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": does not define ", AMPMR_PLUGIN_ENTRY_SYMBOL, ": not an ampmr plugin"));
  }
  return absl::OkStatus();
}

}  // namespace ampmr::master
