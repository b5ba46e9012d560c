#include "client/streaming_flags.h"

#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"

namespace ampmr::client {

const char kStreamingUsage[] =
    "usage: ampmr streaming [--master ADDR] [--workers N] [-D PROP=VALUE]...\n"
    "         -input PATH[,PATH...]... -output DIR -mapper CMD [-reducer CMD|NONE|aggregate]\n"
    "         [-combiner CMD|aggregate] [-file PATH]... [-files A,B] [-cmdenv K=V]...\n"
    "         [-numReduceTasks N]\n"
    "         [-partitioner org.apache.hadoop.mapred.lib.KeyFieldBasedPartitioner]\n"
    "\n"
    "Runs a Hadoop Streaming command line on ampmr: on the master at --master, or on\n"
    "an embedded cluster of --workers workers like `ampmr run`. -D takes\n"
    "mapreduce.job.reduces, stream.num.map.output.key.fields,\n"
    "stream.map.output.field.separator, mapreduce.map.output.key.field.separator,\n"
    "mapreduce.partition.keypartitioner.options (-k1,K),\n"
    "mapreduce.partition.keycomparator.options, mapreduce.job.output.key.comparator.class\n"
    "(KeyFieldBasedComparator), mapreduce.job.name,\n"
    "mapreduce.output.fileoutputformat.compress(.codec) (GzipCodec, ZStandardCodec),\n"
    "mapreduce.task.timeout (ms), mapreduce.map.maxattempts and\n"
    "mapreduce.job.reduce.slowstart.completedmaps, and their older mapred.*\n"
    "names. Any other option or property is refused by name.\n";

namespace {

absl::Status Unsupported(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(what, ": not supported by ampmr streaming"));
}

// The current property names, and the Hadoop 1 names that mean the same.
const std::map<std::string, std::string>& PropertyNames() {
  static const auto* names = new std::map<std::string, std::string>{
      {"mapreduce.job.reduces", "mapreduce.job.reduces"},
      {"mapred.reduce.tasks", "mapreduce.job.reduces"},
      {"stream.num.map.output.key.fields", "stream.num.map.output.key.fields"},
      {"stream.map.output.field.separator", "stream.map.output.field.separator"},
      {"mapreduce.map.output.key.field.separator", "mapreduce.map.output.key.field.separator"},
      {"map.output.key.field.separator", "mapreduce.map.output.key.field.separator"},
      {"mapreduce.partition.keypartitioner.options", "mapreduce.partition.keypartitioner.options"},
      {"mapred.text.key.partitioner.options", "mapreduce.partition.keypartitioner.options"},
      {"mapreduce.partition.keycomparator.options", "mapreduce.partition.keycomparator.options"},
      {"mapred.text.key.comparator.options", "mapreduce.partition.keycomparator.options"},
      {"mapreduce.job.output.key.comparator.class", "mapreduce.job.output.key.comparator.class"},
      {"mapred.output.key.comparator.class", "mapreduce.job.output.key.comparator.class"},
      {"mapreduce.job.name", "mapreduce.job.name"},
      {"mapred.job.name", "mapreduce.job.name"},
      {"mapreduce.output.fileoutputformat.compress", "mapreduce.output.fileoutputformat.compress"},
      {"mapred.output.compress", "mapreduce.output.fileoutputformat.compress"},
      {"mapreduce.output.fileoutputformat.compress.codec",
       "mapreduce.output.fileoutputformat.compress.codec"},
      {"mapred.output.compression.codec", "mapreduce.output.fileoutputformat.compress.codec"},
      {"mapreduce.task.timeout", "mapreduce.task.timeout"},
      {"mapred.task.timeout", "mapreduce.task.timeout"},
      {"mapreduce.map.maxattempts", "mapreduce.map.maxattempts"},
      {"mapred.map.max.attempts", "mapreduce.map.maxattempts"},
      {"mapreduce.job.reduce.slowstart.completedmaps",
       "mapreduce.job.reduce.slowstart.completedmaps"},
      {"mapred.reduce.slowstart.completed.maps", "mapreduce.job.reduce.slowstart.completedmaps"},
  };
  return *names;
}

bool IsKeyFieldBasedPartitioner(absl::string_view c) {
  return c == "org.apache.hadoop.mapred.lib.KeyFieldBasedPartitioner" ||
         c == "org.apache.hadoop.mapreduce.lib.partition.KeyFieldBasedPartitioner";
}
bool IsKeyFieldBasedComparator(absl::string_view c) {
  return c == "org.apache.hadoop.mapred.lib.KeyFieldBasedComparator" ||
         c == "org.apache.hadoop.mapreduce.lib.partition.KeyFieldBasedComparator";
}
bool IsHashPartitioner(absl::string_view c) {
  return c == "org.apache.hadoop.mapred.lib.HashPartitioner" ||
         c == "org.apache.hadoop.mapreduce.lib.partition.HashPartitioner";
}

// "org.example.MaxTemperatureReducer": dotted names, no path or blank, the
// last one capitalized (a script "max_temp.py" is not one).
bool IsJavaClassName(absl::string_view s) {
  if (s.find_first_of(" /\t") != absl::string_view::npos) return false;
  size_t dot = s.rfind('.');
  return dot != absl::string_view::npos && dot + 1 < s.size() && absl::ascii_isupper(s[dot + 1]);
}

// As Hadoop runs `-mapper mapper.py -file mapper.py`: a command whose first
// word is the name of a shipped file runs that file, from the attempt's
// working directory.
void RunShippedFromWorkingDir(const std::vector<std::string>& files, std::string* spec) {
  absl::string_view command = *spec;
  if (!absl::ConsumePrefix(&command, "exec:")) return;
  absl::string_view program = command.substr(0, command.find(' '));
  for (absl::string_view file : files) {
    size_t hash = file.find('#');
    absl::string_view name = hash != absl::string_view::npos
                                 ? file.substr(hash + 1)
                                 : file.substr(file.rfind('/') == absl::string_view::npos
                                                   ? 0
                                                   : file.rfind('/') + 1);
    if (program == name && program.find('/') == absl::string_view::npos) {
      *spec = absl::StrCat("exec:./", command);
      return;
    }
  }
}

// A -mapper / -reducer / -combiner value as an ampmr SPEC.
absl::StatusOr<std::string> TaskSpecOf(absl::string_view option, absl::string_view command) {
  command = absl::StripAsciiWhitespace(command);
  if (command.empty()) return absl::InvalidArgumentError(absl::StrCat(option, ": empty command"));
  if (command == "org.apache.hadoop.mapred.lib.IdentityMapper" ||
      command == "org.apache.hadoop.mapred.lib.IdentityReducer") {
    return std::string("builtin:identity");
  }
  if (option != "-mapper" && command == "aggregate") return std::string("builtin:aggregate");
  if (option == "-reducer" && command == "NONE") return std::string("none");
  if (IsJavaClassName(command)) {
    return absl::InvalidArgumentError(
        absl::StrCat(option, " ", command, ": Java classes are not supported by ampmr streaming"));
  }
  return absl::StrCat("exec:", command);
}

absl::StatusOr<int32_t> IntValue(absl::string_view what, absl::string_view text) {
  int32_t n;
  if (!absl::SimpleAtoi(text, &n)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": want an integer, got \"", text, "\""));
  }
  return n;
}

// Applies the collected -D properties and class choices to `job`.
absl::Status ApplyProperties(const std::map<std::string, std::string>& d,
                             const std::string& partitioner, JobFlags* job) {
  auto get = [&d](const char* name) -> const std::string* {
    auto it = d.find(name);
    return it == d.end() ? nullptr : &it->second;
  };
  if (const std::string* v = get("mapreduce.job.reduces")) {
    AMPMR_ASSIGN_OR_RETURN(job->reduces, IntValue("-D mapreduce.job.reduces", *v));
  }
  if (const std::string* v = get("stream.num.map.output.key.fields")) {
    AMPMR_ASSIGN_OR_RETURN(job->key_fields, IntValue("-D stream.num.map.output.key.fields", *v));
  }
  if (const std::string* v = get("stream.map.output.field.separator")) job->field_separator = *v;
  if (const std::string* v = get("mapreduce.map.output.key.field.separator")) {
    if (*v != job->field_separator) {
      return absl::InvalidArgumentError(
          "-D mapreduce.map.output.key.field.separator: a key field separator other than "
          "stream.map.output.field.separator is not supported by ampmr streaming");
    }
  }
  if (const std::string* v = get("mapreduce.partition.keypartitioner.options");
      v != nullptr && IsKeyFieldBasedPartitioner(partitioner)) {
    absl::string_view rest = absl::StripAsciiWhitespace(*v);
    int32_t first = 0;
    int32_t last = 0;
    const bool has_k = absl::ConsumePrefix(&rest, "-k");
    std::vector<absl::string_view> range = absl::StrSplit(rest, ',');
    if (!has_k || range.size() != 2 || !absl::SimpleAtoi(range[0], &first) || first != 1 ||
        !absl::SimpleAtoi(range[1], &last) || last < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("-D mapreduce.partition.keypartitioner.options=", *v,
                       ": only -k1,K (the first K key fields) is supported by ampmr streaming"));
    }
    job->partition_fields = last;
  }
  const std::string* comparator = get("mapreduce.job.output.key.comparator.class");
  if (comparator != nullptr && !IsKeyFieldBasedComparator(*comparator)) {
    return Unsupported(absl::StrCat("-D mapreduce.job.output.key.comparator.class=", *comparator));
  }
  if (const std::string* v = get("mapreduce.partition.keycomparator.options");
      v != nullptr && comparator != nullptr) {
    job->sort_key = *v;
  }
  if (const std::string* v = get("mapreduce.job.name")) job->name = *v;
  const std::string* compress = get("mapreduce.output.fileoutputformat.compress");
  if (compress != nullptr && *compress == "true") {
    const std::string* codec = get("mapreduce.output.fileoutputformat.compress.codec");
    if (codec != nullptr && *codec == "org.apache.hadoop.io.compress.GzipCodec") {
      job->compress_output = "gzip";
    } else if (codec != nullptr && *codec == "org.apache.hadoop.io.compress.ZStandardCodec") {
      job->compress_output = "zstd";
    } else {
      return Unsupported(absl::StrCat(
          "-D mapreduce.output.fileoutputformat.compress.codec=", codec ? *codec : "(default)",
          " (use org.apache.hadoop.io.compress.GzipCodec or ZStandardCodec)"));
    }
  } else if (compress != nullptr && *compress != "false") {
    return absl::InvalidArgumentError(absl::StrCat(
        "-D mapreduce.output.fileoutputformat.compress: want true or false, got \"", *compress,
        "\""));
  }
  if (const std::string* v = get("mapreduce.task.timeout")) {
    AMPMR_ASSIGN_OR_RETURN(int32_t ms, IntValue("-D mapreduce.task.timeout", *v));
    job->task_timeout_seconds = ms / 1000.0;
  }
  if (const std::string* v = get("mapreduce.map.maxattempts")) {
    AMPMR_ASSIGN_OR_RETURN(job->max_attempts, IntValue("-D mapreduce.map.maxattempts", *v));
  }
  if (const std::string* v = get("mapreduce.job.reduce.slowstart.completedmaps")) {
    double fraction = 0;
    if (!absl::SimpleAtod(*v, &fraction) || !(fraction >= 0 && fraction <= 1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "-D mapreduce.job.reduce.slowstart.completedmaps: want a fraction between 0 and 1, "
          "got \"", *v, "\""));
    }
    job->reduce_slowstart = *v;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<StreamingJob> ParseStreamingArgs(const std::vector<std::string>& args) {
  StreamingJob out;
  JobFlags& job = out.job;
  job.reducer = "builtin:identity";
  std::map<std::string, std::string> properties;
  std::string partitioner;
  bool have_mapper = false;
  bool have_output = false;
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg == "-h" || arg == "-help" || arg == "--help" || arg == "-info") {
      out.help = true;
      return out;
    }
    std::string value;
    auto take = [&](absl::string_view name) -> absl::Status {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat(name, ": missing value"));
      }
      value = args[++i];
      return absl::OkStatus();
    };
    if (absl::StartsWith(arg, "-D")) {
      std::string assignment(arg.substr(2));
      if (assignment.empty()) {
        AMPMR_RETURN_IF_ERROR(take("-D"));
        assignment = value;
      }
      size_t eq = assignment.find('=');
      if (eq == std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat("-D ", assignment, ": want PROP=VALUE"));
      }
      std::string name = assignment.substr(0, eq);
      auto known = PropertyNames().find(name);
      if (known == PropertyNames().end()) return Unsupported(absl::StrCat("-D ", name));
      properties[known->second] = assignment.substr(eq + 1);
      continue;
    }
    if (arg == "-input") {
      AMPMR_RETURN_IF_ERROR(take(arg));
      for (absl::string_view p : absl::StrSplit(value, ',', absl::SkipEmpty())) {
        job.inputs.emplace_back(p);
      }
    } else if (arg == "-output") {
      AMPMR_RETURN_IF_ERROR(take(arg));
      job.output = value;
      have_output = true;
    } else if (arg == "-mapper") {
      AMPMR_RETURN_IF_ERROR(take(arg));
      AMPMR_ASSIGN_OR_RETURN(job.mapper, TaskSpecOf(arg, value));
      have_mapper = true;
    } else if (arg == "-reducer") {
      AMPMR_RETURN_IF_ERROR(take(arg));
      AMPMR_ASSIGN_OR_RETURN(job.reducer, TaskSpecOf(arg, value));
    } else if (arg == "-combiner") {
      AMPMR_RETURN_IF_ERROR(take(arg));
      AMPMR_ASSIGN_OR_RETURN(job.combiner, TaskSpecOf(arg, value));
    } else if (arg == "-file") {
      AMPMR_RETURN_IF_ERROR(take(arg));
      job.files.push_back(value);
    } else if (arg == "-files") {
      AMPMR_RETURN_IF_ERROR(take(arg));
      for (absl::string_view f : absl::StrSplit(value, ',', absl::SkipEmpty())) {
        job.files.emplace_back(f);
      }
    } else if (arg == "-cmdenv") {
      AMPMR_RETURN_IF_ERROR(take(arg));
      job.env.push_back(value);
    } else if (arg == "-numReduceTasks") {
      AMPMR_RETURN_IF_ERROR(take(arg));
      AMPMR_ASSIGN_OR_RETURN(int32_t n, IntValue("-numReduceTasks", value));
      properties["mapreduce.job.reduces"] = absl::StrCat(n);
    } else if (arg == "-partitioner") {
      AMPMR_RETURN_IF_ERROR(take(arg));
      if (!IsKeyFieldBasedPartitioner(value) && !IsHashPartitioner(value)) {
        return Unsupported(absl::StrCat("-partitioner ", value));
      }
      partitioner = value;
    } else if (arg == "--master") {
      AMPMR_RETURN_IF_ERROR(take(arg));
      out.master = value;
    } else if (arg == "--workers") {
      AMPMR_RETURN_IF_ERROR(take(arg));
      AMPMR_ASSIGN_OR_RETURN(out.workers, IntValue("--workers", value));
    } else {
      return Unsupported(arg);
    }
  }
  if (job.inputs.empty()) return absl::InvalidArgumentError("missing -input");
  if (!have_output) return absl::InvalidArgumentError("missing -output");
  if (!have_mapper) return absl::InvalidArgumentError("missing -mapper");
  // A map-only job when the reducer says so or there are no reduces.
  auto reduces = properties.find("mapreduce.job.reduces");
  if (reduces != properties.end() && reduces->second == "0") {
    job.reducer = "none";
    properties.erase(reduces);
  }
  AMPMR_RETURN_IF_ERROR(ApplyProperties(properties, partitioner, &job));
  RunShippedFromWorkingDir(job.files, &job.mapper);
  RunShippedFromWorkingDir(job.files, &job.reducer);
  RunShippedFromWorkingDir(job.files, &job.combiner);
  return out;
}

}  // namespace ampmr::client
