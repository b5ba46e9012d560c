// KeySampler is the Emitter of a --total-order sampling task (RunMap with
// sample_bytes): it keeps the keys the mapper emits, split from its lines as
// the map output collector would split them, up to a byte budget, for the
// master to pick the reduces' cut points from.
//
// Not thread-safe; the map task thread owns it.
#ifndef AMPMR_WORKER_TASK_KEY_SAMPLER_H_
#define AMPMR_WORKER_TASK_KEY_SAMPLER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/key_spec.h"
#include "worker/task/counters.h"
#include "worker/task/emitter.h"
#include "worker/task/key_partitioner.h"

namespace ampmr::worker {

class KeySampler final : public Emitter {
 public:
  // Keys beyond this many bytes in all are dropped (the answer stays small).
  static constexpr size_t kMaxSampleBytes = size_t{2} << 20;

  explicit KeySampler(KeySpec keys) : keys_(std::move(keys)) {}

  void Emit(absl::string_view key, absl::string_view) override {
    if (bytes_ + key.size() > kMaxSampleBytes) return;
    bytes_ += key.size();
    sampled_.emplace_back(key);
  }
  void EmitLine(absl::string_view line) override {
    absl::string_view key;
    absl::string_view value;
    SplitMapOutputLine(keys_, line, &key, &value);
    Emit(key, value);
  }
  void IncrementCounter(absl::string_view, int64_t) override {}  // a sample counts nothing

  absl::Status status() const { return absl::OkStatus(); }
  std::vector<std::string>& keys() { return sampled_; }

 private:
  const KeySpec keys_;
  std::vector<std::string> sampled_;
  size_t bytes_ = 0;
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_TASK_KEY_SAMPLER_H_
