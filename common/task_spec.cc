#include "common/task_spec.h"

#include <array>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace ampmr {
namespace {

constexpr std::array<const char*, 3> kMappers = {"wordcount", "identity", "noop"};
constexpr std::array<const char*, 4> kReducers = {"sum", "count", "identity", "aggregate"};

std::vector<const char*> Builtins(TaskRole role) {
  if (role == TaskRole::kMapper) return {kMappers.begin(), kMappers.end()};
  return {kReducers.begin(), kReducers.end()};
}

}  // namespace

const char* TaskRoleName(TaskRole role) {
  switch (role) {
    case TaskRole::kMapper:
      return "mapper";
    case TaskRole::kReducer:
      return "reducer";
    case TaskRole::kCombiner:
      return "combiner";
  }
  return "task";
}

bool IsBuiltin(TaskRole role, absl::string_view name) {
  for (const char* known : Builtins(role)) {
    if (name == known) return true;
  }
  return false;
}

absl::StatusOr<TaskSpec> ParseTaskSpec(TaskRole role, absl::string_view text) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(TaskRoleName(role), " \"", text, "\": ", why));
  };
  TaskSpec spec;
  absl::string_view rest = text;
  if (text == "none") {
    if (role != TaskRole::kReducer) return bad("\"none\" is only for --reducer (a map-only job)");
    return spec;
  }
  if (absl::ConsumePrefix(&rest, "builtin:")) {
    if (!IsBuiltin(role, rest)) {
      return bad(
          absl::StrCat("unknown built-in (known: ", absl::StrJoin(Builtins(role), ", "), ")"));
    }
    spec.kind = TaskSpec::Kind::kBuiltin;
  } else if (absl::ConsumePrefix(&rest, "exec:")) {
    if (absl::StripAsciiWhitespace(rest).empty()) return bad("empty command after exec:");
    spec.kind = TaskSpec::Kind::kExec;
  } else if (absl::ConsumePrefix(&rest, "plugin:")) {
    if (rest.empty()) return bad("empty path after plugin:");
    spec.kind = TaskSpec::Kind::kPlugin;
  } else {
    return bad("want builtin:NAME, exec:COMMAND or plugin:PATH.so");
  }
  spec.arg = std::string(rest);
  return spec;
}

}  // namespace ampmr
