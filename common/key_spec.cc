#include "common/key_spec.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"

namespace ampmr {
namespace {

absl::Status Bad(absl::string_view part, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("\"", part, "\": ", why));
}

// Reads a run of digits as a number; false if there is none or it is huge.
bool ConsumeNumber(absl::string_view* s, int* out) {
  size_t n = 0;
  while (n < s->size() && absl::ascii_isdigit((*s)[n])) ++n;
  if (n == 0 || n > 6) return false;
  if (!absl::SimpleAtoi(s->substr(0, n), out)) return false;
  s->remove_prefix(n);
  return true;
}

// Options after a position: n and r, nothing else.
absl::Status ConsumeOptions(absl::string_view token, absl::string_view* s, SortKey* key,
                            bool* any) {
  while (!s->empty() && absl::ascii_isalpha(s->front())) {
    char c = s->front();
    if (c == 'n') {
      key->numeric = true;
    } else if (c == 'r') {
      key->reverse = true;
    } else {
      return Bad(token, absl::StrCat("option ", std::string(1, c),
                                     " is not supported (only n and r)"));
    }
    *any = true;
    s->remove_prefix(1);
  }
  return absl::OkStatus();
}

// POS1[,POS2] with options; `has_options` says whether the key has its own.
absl::StatusOr<SortKey> ParseKey(absl::string_view token, absl::string_view s, bool* has_options) {
  SortKey key;
  *has_options = false;
  if (!ConsumeNumber(&s, &key.start_field)) return Bad(token, "want -kF[.C][OPTS][,F[.C][OPTS]]");
  if (key.start_field == 0) return Bad(token, "field numbers start at 1");
  if (absl::ConsumePrefix(&s, ".")) {
    if (!ConsumeNumber(&s, &key.start_char)) return Bad(token, "want a character number after .");
    if (key.start_char == 0) return Bad(token, "character numbers start at 1");
  }
  AMPMR_RETURN_IF_ERROR(ConsumeOptions(token, &s, &key, has_options));
  if (absl::ConsumePrefix(&s, ",")) {
    if (!ConsumeNumber(&s, &key.end_field)) return Bad(token, "want a field number after ,");
    if (key.end_field == 0) return Bad(token, "field numbers start at 1");
    if (absl::ConsumePrefix(&s, ".")) {
      if (!ConsumeNumber(&s, &key.end_char)) return Bad(token, "want a character number after .");
    }
    AMPMR_RETURN_IF_ERROR(ConsumeOptions(token, &s, &key, has_options));
  }
  if (!s.empty()) return Bad(token, absl::StrCat("unexpected \"", s, "\""));
  return key;
}

}  // namespace

absl::StatusOr<KeySpec> ParseSortKeys(absl::string_view text) {
  KeySpec spec;
  bool global_numeric = false;
  bool global_reverse = false;
  std::vector<bool> own_options;
  std::vector<absl::string_view> tokens =
      absl::StrSplit(text, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  for (size_t i = 0; i < tokens.size(); ++i) {
    absl::string_view token = tokens[i];
    absl::string_view rest = token;
    if (absl::ConsumePrefix(&rest, "-k")) {
      std::string shown(token);
      if (rest.empty()) {
        if (i + 1 == tokens.size()) return Bad(token, "missing key after -k");
        rest = tokens[++i];
        shown = absl::StrCat(token, " ", rest);
      }
      bool has_options = false;
      AMPMR_ASSIGN_OR_RETURN(SortKey key, ParseKey(shown, rest, &has_options));
      spec.sort_keys.push_back(key);
      own_options.push_back(has_options);
      continue;
    }
    if (!absl::ConsumePrefix(&rest, "-") || rest.empty()) {
      return Bad(token, "want -kPOS1[,POS2], -n or -r");
    }
    for (char c : rest) {
      if (c == 'n') {
        global_numeric = true;
      } else if (c == 'r') {
        global_reverse = true;
      } else {
        return Bad(token, absl::StrCat("option -", std::string(1, c),
                                       " is not supported (only -k, -n and -r)"));
      }
    }
  }
  if (spec.sort_keys.empty() && (global_numeric || global_reverse)) {
    spec.sort_keys.push_back(SortKey());  // the whole key
    own_options.push_back(false);
  }
  for (size_t i = 0; i < spec.sort_keys.size(); ++i) {
    if (own_options[i]) continue;
    spec.sort_keys[i].numeric = global_numeric;
    spec.sort_keys[i].reverse = global_reverse;
  }
  spec.reverse_last_resort = global_reverse;
  return spec;
}

absl::StatusOr<KeySpec> MakeKeySpec(int64_t key_fields, absl::string_view separator,
                                    int64_t partition_fields, absl::string_view sort_key,
                                    const KeySpecNames& names) {
  absl::StatusOr<KeySpec> parsed = ParseSortKeys(sort_key);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(names.sort_key, ": ", parsed.status().message()));
  }
  KeySpec spec = std::move(parsed).value();
  if (key_fields < 0 || key_fields > KeySpec::kMaxFields) {
    return absl::InvalidArgumentError(absl::StrCat(names.key_fields, ": must be between 1 and ",
                                                   KeySpec::kMaxFields, ", got ", key_fields));
  }
  spec.key_fields = key_fields == 0 ? 1 : static_cast<int>(key_fields);
  if (separator.size() > 1 || separator == "\n") {
    return absl::InvalidArgumentError(absl::StrCat(
        names.separator, ": want one character (not a newline), got \"",
        absl::CEscape(separator), "\""));
  }
  spec.separator = separator.empty() ? '\t' : separator[0];
  if (partition_fields < 0 || partition_fields > spec.key_fields) {
    return absl::InvalidArgumentError(absl::StrCat(names.partition_fields,
                                                   ": must be between 1 and the key fields (",
                                                   spec.key_fields, "), got ", partition_fields));
  }
  spec.partition_fields = static_cast<int>(partition_fields);
  return spec;
}

}  // namespace ampmr
