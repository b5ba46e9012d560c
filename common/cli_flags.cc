#include "common/cli_flags.h"

#include <algorithm>
#include <iostream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/version.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace ampmr {
namespace {

// Help puts descriptions in a column; a flag wider than this gets its
// description on the next line.
constexpr size_t kMaxFlagColumn = 30;

absl::Status BadValue(absl::string_view name, absl::string_view want, absl::string_view got) {
  return absl::InvalidArgumentError(
      absl::StrCat("--", name, ": want ", want, ", got \"", got, "\""));
}

// Parses one integer value of flag `name` into *value.
template <typename Int>
std::function<absl::Status(absl::string_view)> IntegerSetter(absl::string_view name, Int* value) {
  return [value, flag_name = std::string(name)](absl::string_view text) {
    if (!absl::SimpleAtoi(text, value)) return BadValue(flag_name, "an integer", text);
    return absl::OkStatus();
  };
}

absl::StatusOr<bool> ParseBool(absl::string_view name, absl::string_view text) {
  if (text == "true" || text == "1") return true;
  if (text == "false" || text == "0") return false;
  return BadValue(name, "true or false", text);
}

}  // namespace

FlagSet::Flag& FlagSet::Flag::DefaultText(std::string text) {
  default_text_ = std::move(text);
  return *this;
}

FlagSet::Flag& FlagSet::Flag::Required() {
  required_ = true;
  return *this;
}

FlagSet::Flag& FlagSet::Flag::Several() {
  AMPMR_CHECK(kind_ == Kind::kRepeated) << "--" << name_ << ": Several() on a flag not Repeated";
  several_ = true;
  return *this;
}

FlagSet::FlagSet(std::string usage, std::string description)
    : usage_(std::move(usage)), description_(std::move(description)) {}

FlagSet::Flag& FlagSet::Add(absl::string_view name, Flag::Kind kind, absl::string_view value_name,
                            absl::string_view help, std::string default_text,
                            std::function<absl::Status(absl::string_view)> set) {
  AMPMR_CHECK(Find(name) == nullptr) << "flag --" << name << " declared twice";
  AMPMR_CHECK(name != "help" && name != "h") << "--help is built in";
  auto flag = std::make_unique<Flag>();
  flag->name_ = std::string(name);
  flag->kind_ = kind;
  flag->value_name_ = std::string(value_name);
  flag->help_ = std::string(help);
  flag->default_text_ = std::move(default_text);
  flag->set_ = std::move(set);
  flags_.push_back(std::move(flag));
  return *flags_.back();
}

FlagSet::Flag& FlagSet::String(absl::string_view name, std::string* value,
                               absl::string_view value_name, absl::string_view help) {
  return Add(name, Flag::Kind::kValue, value_name, help, *value, [value](absl::string_view text) {
    *value = std::string(text);
    return absl::OkStatus();
  });
}

FlagSet::Flag& FlagSet::Int32(absl::string_view name, int32_t* value, absl::string_view value_name,
                              absl::string_view help) {
  return Add(name, Flag::Kind::kValue, value_name, help, absl::StrCat(*value),
             IntegerSetter(name, value));
}

FlagSet::Flag& FlagSet::Int64(absl::string_view name, int64_t* value, absl::string_view value_name,
                              absl::string_view help) {
  return Add(name, Flag::Kind::kValue, value_name, help, absl::StrCat(*value),
             IntegerSetter(name, value));
}

FlagSet::Flag& FlagSet::Double(absl::string_view name, double* value, absl::string_view value_name,
                               absl::string_view help) {
  std::string flag_name(name);
  return Add(name, Flag::Kind::kValue, value_name, help, absl::StrCat(*value),
             [value, flag_name](absl::string_view text) {
               if (!absl::SimpleAtod(text, value)) return BadValue(flag_name, "a number", text);
               return absl::OkStatus();
             });
}

FlagSet::Flag& FlagSet::Bool(absl::string_view name, bool* value, absl::string_view help) {
  std::string flag_name(name);
  return Add(name, Flag::Kind::kBool, "", help, *value ? "true" : "",
             [value, flag_name](absl::string_view text) {
               absl::StatusOr<bool> parsed = ParseBool(flag_name, text);
               if (!parsed.ok()) return parsed.status();
               *value = *parsed;
               return absl::OkStatus();
             });
}

FlagSet::Flag& FlagSet::Repeated(absl::string_view name, std::vector<std::string>* values,
                                 absl::string_view value_name, absl::string_view help) {
  return Add(name, Flag::Kind::kRepeated, value_name, help, "", [values](absl::string_view text) {
    values->push_back(std::string(text));
    return absl::OkStatus();
  });
}

FlagSet::Flag* FlagSet::Find(absl::string_view name) {
  for (auto& flag : flags_) {
    if (flag->name_ == name) return flag.get();
  }
  return nullptr;
}

const FlagSet::Flag* FlagSet::Find(absl::string_view name) const {
  return const_cast<FlagSet*>(this)->Find(name);
}

bool FlagSet::WasGiven(absl::string_view name) const {
  const Flag* flag = Find(name);
  return flag != nullptr && flag->times_seen_ > 0;
}

absl::Status FlagSet::Assign(Flag* flag, absl::string_view value) {
  if (flag->kind_ != Flag::Kind::kRepeated && flag->times_seen_ > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag->name_, ": given more than once; it takes one value"));
  }
  ++flag->times_seen_;
  return flag->set_(value);
}

absl::StatusOr<std::vector<std::string>> FlagSet::Parse(int argc, const char* const* argv) {
  return Parse(std::vector<std::string>(argv, argv + argc));
}

absl::StatusOr<std::vector<std::string>> FlagSet::Parse(const std::vector<std::string>& args) {
  AMPMR_CHECK(!parsed_) << "FlagSet::Parse called twice";
  parsed_ = true;
  // --help wins over every other mistake on the line, so a user who asks for
  // help with a half-typed command gets it.
  for (const std::string& arg : args) {
    if (arg == "--") break;
    if (arg == "-h" || arg == "--help") {
      help_requested_ = true;
      return std::vector<std::string>();
    }
    if (arg == "--version") {
      version_requested_ = true;
      return std::vector<std::string>();
    }
  }

  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      positional.insert(positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (arg == "-" || !absl::StartsWith(arg, "-")) {
      positional.push_back(arg);
      continue;
    }
    AMPMR_RETURN_IF_ERROR(ParseFlag(args, &i));
  }

  for (const auto& flag : flags_) {
    if (flag->required_ && flag->times_seen_ == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("missing required flag --", flag->name_, " ", flag->value_name_));
    }
  }
  return positional;
}

absl::Status FlagSet::ParseFlag(const std::vector<std::string>& args, size_t* i) {
  absl::string_view body = args[*i];
  if (!absl::ConsumePrefix(&body, "--")) {
    return absl::InvalidArgumentError(absl::StrCat("unknown flag ", body, " (see --help)"));
  }
  absl::string_view name = body;
  absl::string_view inline_value;
  const size_t eq = body.find('=');
  const bool has_inline_value = eq != absl::string_view::npos;
  if (has_inline_value) {
    name = body.substr(0, eq);
    inline_value = body.substr(eq + 1);
  }
  Flag* flag = Find(name);
  if (flag == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, " (see --help)"));
  }
  if (flag->kind_ == Flag::Kind::kBool) {
    return Assign(flag, has_inline_value ? inline_value : "true");
  }
  if (has_inline_value) return Assign(flag, inline_value);
  if (*i + 1 >= args.size() || absl::StartsWith(args[*i + 1], "--")) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag->name_, ": missing value (--",
                                                   flag->name_, " ", flag->value_name_, ")"));
  }
  ++*i;
  AMPMR_RETURN_IF_ERROR(Assign(flag, args[*i]));
  while (flag->several_ && *i + 1 < args.size() &&
         (args[*i + 1] == "-" || !absl::StartsWith(args[*i + 1], "-"))) {
    ++*i;
    AMPMR_RETURN_IF_ERROR(Assign(flag, args[*i]));
  }
  return absl::OkStatus();
}

std::optional<int> FlagSet::ParseFlagsOnly(const char* program, int argc, const char* const* argv) {
  absl::StatusOr<std::vector<std::string>> positional = Parse(argc - 1, argv + 1);
  if (!positional.ok()) {
    std::cerr << program << ": " << positional.status().message() << "\n";
    return 2;
  }
  if (help_requested()) {
    std::cout << Help();
    return 0;
  }
  if (version_requested()) {
    std::cout << program << " " << kVersion << "\n";
    return 0;
  }
  if (!positional->empty()) {
    std::cerr << program << ": unexpected argument " << (*positional)[0] << " (see --help)\n";
    return 2;
  }
  return std::nullopt;
}

std::string FlagSet::Help() const {
  std::string out = absl::StrCat("usage: ", usage_, "\n");
  if (!description_.empty()) absl::StrAppend(&out, "\n", description_, "\n");

  std::vector<std::pair<std::string, std::string>> rows;  // (flag column, description)
  for (const auto& flag : flags_) {
    std::string left = absl::StrCat("--", flag->name_);
    if (flag->kind_ != Flag::Kind::kBool) absl::StrAppend(&left, " ", flag->value_name_);
    std::string right = flag->help_;
    if (flag->required_) {
      absl::StrAppend(&right, " (required)");
    } else if (flag->kind_ == Flag::Kind::kRepeated) {
      absl::StrAppend(&right, " (repeatable)");
    }
    if (!flag->default_text_.empty()) {
      absl::StrAppend(&right, " (default: ", flag->default_text_, ")");
    }
    rows.emplace_back(std::move(left), std::move(right));
  }
  rows.emplace_back("-h, --help", "show this help");
  rows.emplace_back("--version", "print the version and exit");

  size_t column = 0;
  for (const auto& row : rows) {
    if (row.first.size() <= kMaxFlagColumn) column = std::max(column, row.first.size());
  }
  absl::StrAppend(&out, "\nflags:\n");
  for (const auto& row : rows) {
    absl::StrAppend(&out, "  ", row.first);
    if (row.first.size() > column) {
      absl::StrAppend(&out, "\n  ", std::string(column, ' '));
    } else {
      out.append(column - row.first.size(), ' ');
    }
    absl::StrAppend(&out, "  ", row.second, "\n");
  }
  return out;
}

}  // namespace ampmr
