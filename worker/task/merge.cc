#include "worker/task/merge.h"

#include <utility>

namespace ampmr::worker {

MergingPairs::MergingPairs(const std::vector<RunInput>& runs, const KeyComparator* order)
    : order_(order != nullptr && !order->bytewise() ? order : nullptr) {
  cursors_.reserve(runs.size());
  for (size_t i = 0; i < runs.size(); ++i) {
    cursors_.push_back(Cursor{RecordReader(runs[i].data, runs[i].name, runs[i].base_offset),
                              absl::string_view(), absl::string_view(), i, 0});
  }
}

bool MergingPairs::Start(Cursor* c) {
  if (c->reader.Next(&c->key, &c->value)) {
    SetPrefix(c);
    return true;
  }
  if (!c->reader.status().ok() && status_.ok()) status_ = c->reader.status();
  return false;
}

void MergingPairs::SiftDown(size_t i) {
  const size_t n = heap_.size();
  Cursor* moving = heap_[i];
  while (true) {
    size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && Before(heap_[child + 1], heap_[child])) ++child;
    if (!Before(heap_[child], moving)) break;
    heap_[i] = heap_[child];
    i = child;
  }
  heap_[i] = moving;
}

bool MergingPairs::Next(absl::string_view* key, absl::string_view* value) {
  if (!status_.ok()) return false;
  if (!started_) {
    started_ = true;
    heap_.reserve(cursors_.size());
    for (Cursor& c : cursors_) {
      if (Start(&c)) heap_.push_back(&c);
    }
    if (!status_.ok()) return false;
    for (size_t i = heap_.size() / 2; i-- > 0;) SiftDown(i);
  } else if (top_taken_) {
    // Replace the returned record by its run's next one, or drop the run. A
    // next record of the same group, or of a group with the same key, still
    // goes first: every other run's record sorted after the one returned,
    // equal keys by run.
    Cursor* top = heap_[0];
    const absl::string_view previous = top->key;
    const uint64_t previous_prefix = top->prefix;
    if (!top->reader.Next(&top->key, &top->value)) {
      if (!top->reader.status().ok()) {
        status_ = top->reader.status();
        return false;
      }
      heap_[0] = heap_.back();
      heap_.pop_back();
      if (!heap_.empty()) SiftDown(0);
    } else if (!top->reader.new_group()) {
      same_key_ = true;
      *value = top->value;
      *key = top->key;
      return true;
    } else {
      SetPrefix(top);
      if (HasKey(top, previous_prefix, previous)) {
        same_key_ = true;
        *key = top->key;
        *value = top->value;
        return true;
      }
      SiftDown(0);
    }
    same_key_ = !heap_.empty() && HasKey(heap_[0], previous_prefix, previous);
  }
  if (heap_.empty()) {
    top_taken_ = false;
    return false;
  }
  *key = heap_[0]->key;
  *value = heap_[0]->value;
  top_taken_ = true;
  return true;
}

}  // namespace ampmr::worker
