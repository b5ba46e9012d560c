#include "worker/task/plugin_adapter.h"

#include <exception>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "worker/task/utf8.h"

namespace ampmr::worker {
namespace {

absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }
std::string_view Std(absl::string_view s) { return std::string_view(s.data(), s.size()); }

// The attempt as a plugin sees it; owns a copy of the context so it outlives
// nothing it points to.
class PluginTask final : public plugin::Task {
 public:
  explicit PluginTask(const AttemptContext& context) : context_(context) {}

  std::string_view job_id() const override { return context_.job_id; }
  std::string_view attempt_id() const override { return context_.attempt_id; }
  int32_t partition() const override { return context_.partition; }
  bool is_map() const override { return context_.is_map; }
  std::string_view input_file() const override { return context_.input_file; }
  int64_t input_start() const override { return context_.input_start; }
  int64_t input_length() const override { return context_.input_length; }
  bool GetParameter(std::string_view name, std::string_view* value) const override {
    auto it = context_.env.find(std::string(name));
    if (it == context_.env.end()) return false;
    *value = it->second;
    return true;
  }

 private:
  const AttemptContext context_;
};

// Forwards a plugin's output to the task's Emitter.
class EmitterOutput final : public plugin::Output {
 public:
  explicit EmitterOutput(Emitter* out) : out_(out) {}
  void Emit(std::string_view key, std::string_view value) override {
    out_->Emit(Absl(key), Absl(value));
  }
  void IncrementCounter(std::string_view group, std::string_view counter, int64_t amount) override {
    out_->IncrementCounter(ToPrintableUtf8(absl::StrCat(Absl(group), ".", Absl(counter))), amount);
  }

 private:
  Emitter* const out_;
};

absl::Status PluginError(const plugin::Status& s) {
  return absl::InvalidArgumentError(ToPrintableUtf8(s.message()));
}

// Runs one call into plugin code; an exception becomes an error.
template <typename Fn>
absl::Status Call(const std::string& what, Fn fn) {
  try {
    plugin::Status s = fn();
    return s.ok() ? absl::OkStatus() : PluginError(s);
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat(what, " threw an exception: ", ToPrintableUtf8(e.what())));
  } catch (...) {
    return absl::InternalError(absl::StrCat(what, " threw an exception"));
  }
}

class PluginMapper final : public Mapper {
 public:
  PluginMapper(std::unique_ptr<PluginTask> task, std::unique_ptr<plugin::Mapper> mapper,
               std::string what)
      : task_(std::move(task)), mapper_(std::move(mapper)), what_(std::move(what)) {}
  ~PluginMapper() override {
    mapper_.reset();  // before the task it was given
  }

  absl::Status Map(const MapInput& input, Emitter* out) override {
    EmitterOutput o(out);
    return Call(what_, [&] { return mapper_->Map(Std(input.data), o); });
  }
  absl::Status Finish(Emitter* out) override {
    EmitterOutput o(out);
    return Call(what_, [&] { return mapper_->Finish(o); });
  }

 private:
  const std::unique_ptr<PluginTask> task_;
  std::unique_ptr<plugin::Mapper> mapper_;
  const std::string what_;
};

// One key group of a sorted stream at a time. NextGroup() starts the next
// group (copying its key, since the stream's views change with each Next);
// Next() yields its values; SkipRest() drops what the plugin left unread.
class GroupValues final : public plugin::Values {
 public:
  explicit GroupValues(SortedPairs* in) : in_(in) {}

  bool NextGroup() {
    SkipRest();
    if (!have_peek_ && !in_->Next(&peek_key_, &peek_value_)) return false;
    key_.assign(peek_key_.data(), peek_key_.size());
    have_peek_ = true;
    group_done_ = false;
    return true;
  }

  bool Next(std::string_view* value) override {
    if (group_done_) return false;
    if (have_peek_) {
      have_peek_ = false;
      *value = Std(peek_value_);
      return true;
    }
    absl::string_view k;
    absl::string_view v;
    if (!in_->Next(&k, &v)) {
      group_done_ = true;
      return false;
    }
    if (k != key_) {
      peek_key_ = k;
      peek_value_ = v;
      have_peek_ = true;
      group_done_ = true;
      return false;
    }
    *value = Std(v);
    return true;
  }

  std::string_view key() const { return key_; }

 private:
  void SkipRest() {
    std::string_view v;
    while (Next(&v)) {
    }
  }

  SortedPairs* const in_;
  std::string key_;
  absl::string_view peek_key_;  // the pair read ahead, not yet handed out
  absl::string_view peek_value_;
  bool have_peek_ = false;
  bool group_done_ = true;
};

class PluginReducer final : public Reducer {
 public:
  PluginReducer(std::unique_ptr<PluginTask> task, std::unique_ptr<plugin::Reducer> reducer,
                std::string what)
      : task_(std::move(task)), reducer_(std::move(reducer)), what_(std::move(what)) {}
  ~PluginReducer() override { reducer_.reset(); }

  absl::Status Reduce(SortedPairs* in, Emitter* out) override {
    EmitterOutput o(out);
    GroupValues values(in);
    while (values.NextGroup()) {
      absl::Status s = Call(what_, [&] { return reducer_->Reduce(values.key(), values, o); });
      if (!s.ok()) return s;
    }
    if (!in->status().ok()) return absl::OkStatus();  // the task reports the stream's error
    return Call(what_, [&] { return reducer_->Finish(o); });
  }

 private:
  const std::unique_ptr<PluginTask> task_;
  std::unique_ptr<plugin::Reducer> reducer_;
  const std::string what_;
};

template <typename T, typename Factory>
absl::StatusOr<std::unique_ptr<T>> Create(Factory factory, const plugin::Task* task,
                                          const std::string& what) {
  try {
    std::unique_ptr<T> made(factory(task));
    if (made == nullptr) return absl::InternalError(absl::StrCat(what, ": factory returned null"));
    return made;
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat(what, ": factory threw an exception: ", ToPrintableUtf8(e.what())));
  } catch (...) {
    return absl::InternalError(absl::StrCat(what, ": factory threw an exception"));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Mapper>> MakePluginMapper(plugin::NewMapperFn factory,
                                                         const AttemptContext& context,
                                                         const std::string& what) {
  auto task = std::make_unique<PluginTask>(context);
  auto made = Create<plugin::Mapper>(factory, task.get(), what);
  if (!made.ok()) return made.status();
  return std::make_unique<PluginMapper>(std::move(task), std::move(made).value(), what);
}

absl::StatusOr<std::unique_ptr<Reducer>> MakePluginReducer(plugin::NewReducerFn factory,
                                                           const AttemptContext& context,
                                                           const std::string& what) {
  auto task = std::make_unique<PluginTask>(context);
  auto made = Create<plugin::Reducer>(factory, task.get(), what);
  if (!made.ok()) return made.status();
  return std::make_unique<PluginReducer>(std::move(task), std::move(made).value(), what);
}

}  // namespace ampmr::worker
