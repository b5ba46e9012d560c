// FlagSet: the flags of one command (ampmr, ampmr-master, ampmr-worker, or
// one ampmr subcommand) and the argv parser that fills them.
//
// Flags are declared in main.cc against variables the caller owns (usually
// the fields of an Options struct); nothing here is global. The value a
// variable holds when it is declared is its default, shown by --help.
//
//   MasterOptions opts;
//   FlagSet flags("ampmr-master [flags]", "Serves jobs to clients and tasks to
//   workers."); flags.String("listen", &opts.listen, "ADDR", "address to serve
//   gRPC on"); flags.Bool("verbose", &opts.verbose, "log at debug level");
//   absl::StatusOr<std::vector<std::string>> args = flags.Parse(argc - 1, argv
//   + 1); if (!args.ok()) { ... "ampmr-master: " << args.status().message()
//   ...; return 2; } if (flags.help_requested()) { std::cout << flags.Help();
//   return 0; }
//
// Accepted syntax:
//   --name VALUE, --name=VALUE   a flag with a value; a separate VALUE may not
//                                start with "--" (write --name=--x for that)
//   --name, --name=true|false    a boolean flag
//   repeatable flags collect every occurrence in order; any other flag given
//   twice is an error; a repeatable flag marked Several() takes every
//   following argument up to the next that starts with '-'
//   (--input a b --input c)
//   -h, --help                   sets help_requested(); nothing else is checked
//   --version                    sets version_requested(), likewise
//   --                           everything after it is positional
//   anything else                positional, in order; flags and positional
//                                arguments may be interleaved ("-" is
//                                positional)
// Every error is INVALID_ARGUMENT with a message that names the flag, e.g.
//   unknown flag --foo (see --help)
//   --output: missing value (--output DIR)
//   --reduces: want an integer, got "x"
//   missing required flag --mapper
//
// Thread-compatible: declare, parse and read on one thread.
#ifndef AMPMR_COMMON_CLI_FLAGS_H_
#define AMPMR_COMMON_CLI_FLAGS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ampmr {

class FlagSet {
 public:
  // One declared flag; the setters refine how it is parsed and shown.
  class Flag {
   public:
    // Replaces the default shown by --help (for defaults computed elsewhere,
    // e.g. "$AMPMR_MASTER, else 127.0.0.1:7070"). Empty hides the default.
    Flag& DefaultText(std::string text);
    // Parse() fails unless the flag was given at least once.
    Flag& Required();
    // A Repeated flag whose every occurrence takes one or more values: the
    // arguments after it up to the next one that starts with '-' ("-" is a
    // value), as the shell expands `--input books/*.txt`.
    Flag& Several();

   private:
    friend class FlagSet;
    enum class Kind { kValue, kBool, kRepeated };
    std::string name_;
    std::string value_name_;  // "DIR" in "--output DIR"
    std::string help_;
    std::string default_text_;
    Kind kind_ = Kind::kValue;
    bool required_ = false;
    bool several_ = false;
    int times_seen_ = 0;
    std::function<absl::Status(absl::string_view)> set_;  // parses one value
  };

  // `usage` is the synopsis line ("ampmr run --input PATH... [flags]");
  // `description` a paragraph printed under it by Help().
  FlagSet(std::string usage, std::string description);
  FlagSet(const FlagSet&) = delete;
  FlagSet& operator=(const FlagSet&) = delete;

  // Declarations. `name` is given without the dashes; `value_name` is the
  // placeholder shown in help and messages ("DIR"). The pointee must outlive
  // Parse(). Declaring the same name twice is a programmer error (CHECK).
  Flag& String(absl::string_view name, std::string* value, absl::string_view value_name,
               absl::string_view help);
  Flag& Int32(absl::string_view name, int32_t* value, absl::string_view value_name,
              absl::string_view help);
  Flag& Int64(absl::string_view name, int64_t* value, absl::string_view value_name,
              absl::string_view help);
  Flag& Double(absl::string_view name, double* value, absl::string_view value_name,
               absl::string_view help);
  // A switch: off unless given. Help shows a default only when it is on.
  Flag& Bool(absl::string_view name, bool* value, absl::string_view help);
  // Every occurrence is appended to *values (which starts as given).
  Flag& Repeated(absl::string_view name, std::vector<std::string>* values,
                 absl::string_view value_name, absl::string_view help);

  // Parses `args` (argv without the program or subcommand name) into the
  // declared variables and returns the positional arguments. May be called
  // once per FlagSet.
  absl::StatusOr<std::vector<std::string>> Parse(const std::vector<std::string>& args);
  absl::StatusOr<std::vector<std::string>> Parse(int argc, const char* const* argv);

  // True when -h or --help was among the flags; the declared variables are
  // then left untouched.
  bool help_requested() const { return help_requested_; }
  // True when --version was among the flags (and --help was not).
  bool version_requested() const { return version_requested_; }

  // Whether the flag `name` appeared on the command line.
  bool WasGiven(absl::string_view name) const;

  // "usage: ...", the description, then one line per flag in declaration
  // order: "  --name VALUE   help (default: X)". Ends with a newline.
  std::string Help() const;

  // For a program that takes flags only (ampmr-master, ampmr-worker): parses
  // argv[1..], prints --help (or "PROGRAM VERSION" for --version) to stdout
  // or one error line to stderr prefixed with `program`, and returns the
  // exit code main should return then (0 after --help or --version, 2 for a
  // bad command line); nullopt means run.
  std::optional<int> ParseFlagsOnly(const char* program, int argc, const char* const* argv);

 private:
  Flag& Add(absl::string_view name, Flag::Kind kind, absl::string_view value_name,
            absl::string_view help, std::string default_text,
            std::function<absl::Status(absl::string_view)> set);
  Flag* Find(absl::string_view name);
  const Flag* Find(absl::string_view name) const;
  // Parses the flag at args[*i], advancing *i past a separate value.
  absl::Status ParseFlag(const std::vector<std::string>& args, size_t* i);
  absl::Status Assign(Flag* flag, absl::string_view value);

  std::string usage_;
  std::string description_;
  std::vector<std::unique_ptr<Flag>> flags_;  // declaration order
  bool help_requested_ = false;
  bool version_requested_ = false;
  bool parsed_ = false;
};

}  // namespace ampmr

#endif  // AMPMR_COMMON_CLI_FLAGS_H_
