// The ampmr C++ plugin interface, version 1.
//
// A plugin is a shared object (`plugin:PATH.so` for --mapper, --reducer or
// --combiner) that provides a mapper, a reducer and/or a combiner. The worker
// loads it with dlopen(RTLD_NOW | RTLD_LOCAL), looks up the one symbol it
// needs, `ampmr_plugin_entry`, and calls it:
//
//   extern "C" const AmpmrPlugin* ampmr_plugin_entry(void);
//
// The AmpmrPlugin it returns names the interface version the plugin was built
// for and holds its factories. A plugin built for another interface version
// is refused, with an error naming the path and both versions. The easiest
// way to export the entry point is the AMPMR_PLUGIN macro at the bottom:
//
//   #include "ampmr/plugin.h"
//
//   class WordCount : public ampmr::plugin::Mapper {
//    public:
//     ampmr::plugin::Status Map(std::string_view lines,
//                               ampmr::plugin::Output& out) override { ... }
//   };
//   class Sum : public ampmr::plugin::Reducer { ... };
//
//   AMPMR_PLUGIN("wordcount", ampmr::plugin::NewMapper<WordCount>,
//                ampmr::plugin::NewReducer<Sum>, ampmr::plugin::NewReducer<Sum>)
//
// Build it as a shared object (g++ -std=c++17 -O2 -fPIC -shared -I
// ampmr/sdk/include wc.cc -o wc.so, or a CMake MODULE library; see
// examples/plugin/). The interface passes std::string_view and std::string
// and calls virtual functions across the boundary, so build plugins with a
// C++ compiler and standard library ABI-compatible with the worker's (on
// Debian: its g++). A plugin needs nothing from ampmr but this header.
//
// Lifecycle and threads. For every task attempt that uses the plugin, the
// worker calls one factory and gets a fresh object; it calls that object from
// one thread only and deletes it (through the virtual destructor) when the
// attempt ends. Different attempts may run at the same time on different
// threads of one worker process, so plugin objects must not share mutable
// state without locking. The shared object is never unloaded.
//
// Errors. Map, Reduce and Finish return a Status: an error fails the attempt
// (the master retries it elsewhere, up to --max-attempts) and its message
// appears in the job's error. An exception that escapes is caught at the
// boundary and treated the same way. A plugin runs inside the worker
// process, so a crash in it takes the worker down (the master then reruns
// that worker's tasks elsewhere); code that may crash is safer as exec:.
//
// Versioning. kInterfaceVersion changes whenever a change could break a
// plugin built against an older header: a changed or added virtual function
// in a class the plugin implements (Mapper, Reducer), a changed signature, a
// change to AmpmrPlugin's layout. Host-implemented classes (Task, Output,
// Values) only ever gain virtual functions at their end, which does not need
// a new version. AmpmrPlugin's first member stays `uint32_t
// interface_version` in every version, so a worker can always read it.
#ifndef AMPMR_PLUGIN_H_
#define AMPMR_PLUGIN_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#define AMPMR_PLUGIN_INTERFACE_VERSION 1u

// The name of the symbol every plugin exports.
#define AMPMR_PLUGIN_ENTRY_SYMBOL "ampmr_plugin_entry"

namespace ampmr::plugin {

inline constexpr uint32_t kInterfaceVersion = AMPMR_PLUGIN_INTERFACE_VERSION;

// The result of a plugin call: OK, or an error with a message.
class Status {
 public:
  Status() = default;  // OK
  static Status Ok() { return Status(); }
  static Status Error(std::string message) {
    Status s;
    s.failed_ = true;
    s.message_ = std::move(message);
    return s;
  }
  bool ok() const { return !failed_; }
  const std::string& message() const { return message_; }

 private:
  bool failed_ = false;
  std::string message_;
};

// What the worker tells a plugin object about the attempt it serves.
// Implemented by the worker; valid for the whole life of the object that was
// created with it.
class Task {
 public:
  virtual std::string_view job_id() const = 0;
  // Unique per attempt, e.g. "j7-m12-a2".
  virtual std::string_view attempt_id() const = 0;
  // The task's index: the map index for a mapper or combiner, the reduce
  // partition for a reducer.
  virtual int32_t partition() const = 0;
  // True in a map task (mapper and combiner), false in a reduce task.
  virtual bool is_map() const = 0;
  // The split a map task reads: bytes [input_start, input_start +
  // input_length) of input_file. Empty and 0 in a reduce task.
  virtual std::string_view input_file() const = 0;
  virtual int64_t input_start() const = 0;
  virtual int64_t input_length() const = 0;
  // The job parameter NAME given as --env NAME=VALUE: sets *value and returns
  // true, or returns false if the job has no such parameter.
  virtual bool GetParameter(std::string_view name, std::string_view* value) const = 0;

 protected:
  ~Task() = default;
};

// Where a mapper, reducer or combiner sends its output. Implemented by the
// worker. Emit copies what it keeps; the views need only live for the call.
class Output {
 public:
  // Outputs one pair.
  virtual void Emit(std::string_view key, std::string_view value) = 0;
  // Adds `amount` to the user counter GROUP.COUNTER; the job reports the sum
  // over accepted attempts.
  virtual void IncrementCounter(std::string_view group, std::string_view counter,
                                int64_t amount) = 0;

 protected:
  ~Output() = default;
};

// Turns the lines of one input split into pairs.
class Mapper {
 public:
  virtual ~Mapper() = default;

  // Called for consecutive chunks of the split, in order. A chunk is whole
  // lines, each ending with '\n' except possibly the split's last line at the
  // end of its file; the view is valid during the call only.
  virtual Status Map(std::string_view lines, Output& out) = 0;

  // Called once after the last chunk (also for an empty split), unless Map
  // failed.
  virtual Status Finish(Output& out) { return Status(); }
};

// A Mapper called once per line, with the line terminator ("\n" or "\r\n")
// removed. Implement MapLine.
class LineMapper : public Mapper {
 public:
  virtual Status MapLine(std::string_view line, Output& out) = 0;

  Status Map(std::string_view lines, Output& out) final {
    while (!lines.empty()) {
      size_t nl = lines.find('\n');
      std::string_view line = lines.substr(0, nl);
      lines.remove_prefix(nl == std::string_view::npos ? lines.size() : nl + 1);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      Status s = MapLine(line, out);
      if (!s.ok()) return s;
    }
    return Status();
  }
};

// The values of one key group, in order. Implemented by the worker.
class Values {
 public:
  // Sets *value to the next value and returns true, or returns false after
  // the group's last value. The view is valid until the next call.
  virtual bool Next(std::string_view* value) = 0;

 protected:
  ~Values() = default;
};

// Reduces key groups: called once per distinct key, in ascending bytewise key
// order, with all of that key's values. Serves as a reducer (all map outputs'
// partition r) and as a combiner (one sorted map output partition; its
// output goes back into the map output and must keep the key).
class Reducer {
 public:
  virtual ~Reducer() = default;

  // Values left unread when Reduce returns are skipped.
  virtual Status Reduce(std::string_view key, Values& values, Output& out) = 0;

  // Called once after the last group (also when there were none), unless
  // Reduce failed.
  virtual Status Finish(Output& out) { return Status(); }
};

// Factories: return a new object (the worker deletes it), or null for "not
// provided". `task` outlives the object.
using NewMapperFn = Mapper* (*)(const Task* task);
using NewReducerFn = Reducer* (*)(const Task* task);

// NewMapper<T> / NewReducer<T>: a factory for T, constructed from the Task if
// it has a constructor T(const Task&), else default-constructed.
template <typename T>
Mapper* NewMapper(const Task* task) {
  static_assert(std::is_base_of_v<Mapper, T>, "T must derive from ampmr::plugin::Mapper");
  if constexpr (std::is_constructible_v<T, const Task&>) {
    return new T(*task);
  } else {
    return new T();
  }
}

template <typename T>
Reducer* NewReducer(const Task* task) {
  static_assert(std::is_base_of_v<Reducer, T>, "T must derive from ampmr::plugin::Reducer");
  if constexpr (std::is_constructible_v<T, const Task&>) {
    return new T(*task);
  } else {
    return new T();
  }
}

}  // namespace ampmr::plugin

extern "C" {

// What ampmr_plugin_entry returns; static storage in the plugin.
typedef struct AmpmrPlugin {
  // AMPMR_PLUGIN_INTERFACE_VERSION of the header the plugin was built with.
  // Always the first member.
  uint32_t interface_version;
  // A short name for messages, e.g. "wordcount".
  const char* name;
  // Each may be null. Used as --combiner, a plugin without new_combiner
  // uses new_reducer (as Hadoop uses a Reducer class as combiner).
  ampmr::plugin::NewMapperFn new_mapper;
  ampmr::plugin::NewReducerFn new_reducer;
  ampmr::plugin::NewReducerFn new_combiner;
} AmpmrPlugin;

typedef const AmpmrPlugin* (*AmpmrPluginEntryFn)(void);

}  // extern "C"

// Defines and exports ampmr_plugin_entry. Pass a name and three factories
// (or nullptr for a role the plugin does not provide).
#define AMPMR_PLUGIN(NAME, NEW_MAPPER, NEW_REDUCER, NEW_COMBINER)                                 \
  extern "C" __attribute__((visibility("default"))) const AmpmrPlugin* ampmr_plugin_entry(void) { \
    static const AmpmrPlugin plugin = {AMPMR_PLUGIN_INTERFACE_VERSION, NAME, NEW_MAPPER,          \
                                       NEW_REDUCER, NEW_COMBINER};                                \
    return &plugin;                                                                               \
  }

#endif  // AMPMR_PLUGIN_H_
