// A plugin for the plugin tests (tests/worker/plugin_test.cc, and the
// integration tests), exercising every part of the interface.
//
// Mapper: for each line emits (line, "ATTEMPT|FILE|START|LENGTH|P") where P is
// the job parameter "p" (or "-"), and counts lines in test.lines. The line
// "fail" fails the attempt, the line "throw" throws, the line "sleep-ms:N"
// sleeps N milliseconds first (a stall for --task-timeout).
// Reducer: per key emits key -> its values joined by ","; for the key
// "first-only" it reads just one value. Counts groups in test.groups. On the
// map side (as the combiner, which it also serves as: there is no combiner
// factory) it emits its groups at Finish in reverse key order, so that the
// worker has to sort them again.
// Built with -DTEST_PLUGIN_NO_MAPPER it provides no mapper.
#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "ampmr/plugin.h"

namespace {

using ampmr::plugin::Output;
using ampmr::plugin::Status;
using ampmr::plugin::Task;
using ampmr::plugin::Values;

class EchoMapper : public ampmr::plugin::LineMapper {
 public:
  explicit EchoMapper(const Task& task) {
    std::string_view p;
    if (!task.GetParameter("p", &p)) p = "-";
    info_ = std::string(task.attempt_id()) + "|" + std::string(task.input_file()) + "|" +
            std::to_string(task.input_start()) + "|" + std::to_string(task.input_length()) + "|" +
            std::string(p);
  }

  Status MapLine(std::string_view line, Output& out) override {
    if (line == "fail") return Status::Error("bad line: fail");
    if (line == "throw") throw std::runtime_error("thrown for line: throw");
    if (line.substr(0, 9) == "sleep-ms:") {
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::stoi(std::string(line.substr(9)))));
    }
    out.Emit(line, info_);
    out.IncrementCounter("test", "lines", 1);
    return Status::Ok();
  }

 private:
  std::string info_;
};

class JoinReducer : public ampmr::plugin::Reducer {
 public:
  explicit JoinReducer(const Task& task) : map_side_(task.is_map()) {}

  Status Reduce(std::string_view key, Values& values, Output& out) override {
    std::string joined;
    std::string_view value;
    while (values.Next(&value)) {
      if (!joined.empty()) joined += ",";
      joined += value;
      if (key == "first-only") break;
    }
    out.IncrementCounter("test", "groups", 1);
    if (map_side_) {
      held_.emplace_back(std::string(key), std::move(joined));
    } else {
      out.Emit(key, joined);
    }
    return Status::Ok();
  }

  Status Finish(Output& out) override {
    for (auto it = held_.rbegin(); it != held_.rend(); ++it) out.Emit(it->first, it->second);
    held_.clear();
    return Status::Ok();
  }

 private:
  const bool map_side_;
  std::vector<std::pair<std::string, std::string>> held_;
};

}  // namespace

#ifdef TEST_PLUGIN_NO_MAPPER
AMPMR_PLUGIN("test-no-mapper", nullptr, ampmr::plugin::NewReducer<JoinReducer>, nullptr)
#else
AMPMR_PLUGIN("test", ampmr::plugin::NewMapper<EchoMapper>, ampmr::plugin::NewReducer<JoinReducer>,
             nullptr)
#endif
