#include "worker/worker.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <memory>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "worker/agent.h"
#include "worker/call_handlers.h"
#include "worker/local_address.h"
#include "worker/master_link.h"
#include "worker/process_usage.h"
#include "worker/shuffle_service.h"
#include "worker/slot_task_runner.h"

namespace ampmr::worker {
namespace {

namespace fs = std::filesystem;

// The identity --task-user names. INVALID_ARGUMENT unless this process is
// root (only root may take another identity) and the user exists.
absl::StatusOr<RunAs> TaskUser(const std::string& name) {
  if (geteuid() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--task-user ", name, ": the worker must run as root to run tasks as another user"));
  }
  absl::StatusOr<RunAs> user = LookUpUser(name);
  if (!user.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--task-user ", name, ": ",
                     absl::IsNotFound(user.status()) ? "no such user" : user.status().message()));
  }
  return user;
}

// Whether `who` may pass through the directory `st` describes (its mode
// bits; ACLs are not looked at).
bool Searchable(const struct stat& st, const RunAs& who) {
  if (st.st_uid == who.uid) return (st.st_mode & S_IXUSR) != 0;
  bool group = st.st_gid == who.gid;
  for (gid_t g : who.groups) group = group || st.st_gid == g;
  return (st.st_mode & (group ? S_IXGRP : S_IXOTH)) != 0;
}

// OK if `who` can reach `dir` (every directory above it lets it pass), which
// exec tasks run as --task-user need to enter their attempt directories.
absl::Status CheckReachable(const std::string& user, const RunAs& who, const std::string& dir) {
  std::error_code ec;
  fs::path path = fs::absolute(dir, ec);
  if (ec) return absl::OkStatus();  // the tasks will say what is wrong
  for (fs::path up = path.parent_path(); !up.empty(); up = up.parent_path()) {
    struct stat st;
    if (::stat(up.c_str(), &st) == 0 && !Searchable(st, who)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "--task-user %s: cannot reach the work dir %s: %s (mode %04o) does not let it pass; "
          "give a --work-dir that user may reach",
          user, path.string(), up.string(), st.st_mode & 07777));
    }
    if (up == up.root_path()) break;
  }
  return absl::OkStatus();
}

std::string Hostname() {
  char name[256] = {0};
  if (gethostname(name, sizeof(name) - 1) != 0) return "localhost";
  return name;
}

// The HandlerPool as the Agent's CallHandlers.
class HandlerPoolCalls : public CallHandlers {
 public:
  explicit HandlerPoolCalls(HandlerPool* pool) : pool_(pool) {}
  std::vector<std::string> names() const override { return pool_->names(); }
  void Call(HandlerCall call, HandlerPool::Done done) override {
    pool_->Call(std::move(call), std::move(done));
  }
  void Cancel(const std::string& call_id) override { pool_->Cancel(call_id); }
  void DropQueued(const absl::Status& why) override { pool_->DropQueued(why); }

 private:
  HandlerPool* const pool_;
};

}  // namespace

Worker::Worker(const WorkerOptions& options) : options_(options) {}

Worker::~Worker() { Shutdown(); }

absl::StatusOr<std::unique_ptr<Worker>> Worker::Start(const WorkerOptions& options) {
  if (options.slots < 1) return absl::InvalidArgumentError("--slots: must be >= 1");
  AMPMR_RETURN_IF_ERROR(CheckMasterAddress(options.master));
  AMPMR_ASSIGN_OR_RETURN(std::shared_ptr<const ClusterCredentials> credentials,
                         ClusterCredentials::Load(options.security));
  std::optional<RunAs> run_as;
  if (!options.task_user.empty()) {
    AMPMR_ASSIGN_OR_RETURN(run_as, TaskUser(options.task_user));
  }
  std::unique_ptr<Worker> worker(new Worker(options));
  worker->credentials_ = std::move(credentials);
  worker->run_as_ = std::move(run_as);
  // On failure the destructor takes down what started, work dir included.
  AMPMR_RETURN_IF_ERROR(worker->MakeWorkDir());
  AMPMR_RETURN_IF_ERROR(worker->StartParts());
  return worker;
}

absl::Status Worker::MakeWorkDir() {
  std::error_code ec;
  if (options_.work_dir.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "ampmr-worker-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      return absl::InternalError(
          absl::StrCat("cannot create a work dir under ", fs::temp_directory_path().string()));
    }
    options_.work_dir = tmpl;
    owns_work_dir_ = true;
  } else {
    fs::create_directories(options_.work_dir, ec);
    if (ec) {
      return absl::FailedPreconditionError(
          absl::StrCat("--work-dir ", options_.work_dir, ": ", ec.message()));
    }
    // Its mode is about to be changed and its subdirectories replaced: it must
    // be the worker's, not a shared directory such as /tmp.
    struct stat st;
    if (::stat(options_.work_dir.c_str(), &st) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("--work-dir ", options_.work_dir, ": ", std::strerror(errno)));
    }
    if (st.st_uid != geteuid()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "--work-dir %s: owned by uid %d, not by the worker's user (uid %d); give the worker a "
          "directory of its own",
          options_.work_dir, st.st_uid, geteuid()));
    }
    if ((st.st_mode & 0022) != 0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "--work-dir %s: writable by others (mode %04o); give the worker a directory of its own",
          options_.work_dir, st.st_mode & 07777));
    }
  }
  // What it keeps (map outputs, fetched shuffle input, attempts' stderr, job
  // files) only the worker may read. Tasks run as --task-user may pass
  // through, not list, to their own attempt directories (attempts/), so the
  // rest is in subdirectories of the worker's alone.
  const fs::perms mode = run_as_.has_value() ? fs::perms(0711) : fs::perms(0700);
  fs::permissions(options_.work_dir, mode, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("--work-dir ", options_.work_dir, ": ", ec.message()));
  }
  if (run_as_.has_value()) {
    AMPMR_RETURN_IF_ERROR(CheckReachable(options_.task_user, *run_as_, options_.work_dir));
  }
  // What an earlier worker kept here belongs to attempts no master can ask
  // this one about.
  const fs::path own = PrivateDir();
  fs::remove_all(own, ec);
  fs::create_directory(own, ec);
  if (!ec) fs::permissions(own, fs::perms(0700), ec);
  if (ec) return absl::InternalError(absl::StrCat("create ", own.string(), ": ", ec.message()));
  return absl::OkStatus();
}

std::string Worker::PrivateDir() const { return options_.work_dir + "/private"; }

absl::Status Worker::StartParts() {
  HandlerPoolOptions handler_options;
  handler_options.handlers = options_.handlers;
  handler_options.slots = options_.slots;
  handler_options.max_calls = options_.handler_max_calls;
  handler_options.run_as = run_as_;
  AMPMR_ASSIGN_OR_RETURN(handlers_, HandlerPool::Start(std::move(handler_options)));
  calls_ = std::make_unique<HandlerPoolCalls>(handlers_.get());

  files_ = std::make_unique<JobFileStore>(options_.work_dir, run_as_);
  SlotTaskRunnerOptions runner_options;
  runner_options.slots = options_.slots;
  runner_options.work_dir = PrivateDir();
  runner_options.credentials = credentials_;
  runner_options.run_as = run_as_;
  runner_ = std::make_unique<SlotTaskRunner>(runner_options, &store_, files_.get());

  std::string listen = options_.shuffle_listen;
  if (listen.empty()) {
    absl::StatusOr<std::string> local = LocalAddressToward(options_.master);
    if (!local.ok()) {
      return absl::Status(local.status().code(),
                          absl::StrCat(local.status().message(),
                                       " (needed to pick the shuffle address; or set "
                                       "--shuffle-listen)"));
    }
    listen = absl::StrCat(*local, ":0");
  }
  AMPMR_ASSIGN_OR_RETURN(shuffle_, ShuffleServer::Start(listen, &store_, credentials_.get()));
  std::string host = options_.advertise_host;
  if (host.empty()) {
    host = listen.substr(0, listen.rfind(':'));
    if (host == "0.0.0.0" || host == "[::]" || host.empty()) host = Hostname();
  }
  shuffle_address_ = absl::StrCat(host, ":", shuffle_->port());

  loop_.Start("session");
  AgentOptions agent_options;
  agent_options.host = Hostname();
  agent_options.shuffle_address = shuffle_address_;
  agent_options.slots = options_.slots;
  agent_options.pid = getpid();
  agent_options.usage = [usage = std::make_shared<ProcessUsage>(getpid())] {
    return usage->Sample(absl::Now());
  };
  agent_ = std::make_unique<Agent>(&loop_, runner_.get(), calls_.get(), &store_, files_.get(),
                                   agent_options);

  MasterLinkOptions link_options;
  link_options.master = options_.master;
  link_options.credentials = credentials_;
  link_options.max_backoff = options_.max_backoff;
  Agent* agent = agent_.get();
  AMPMR_ASSIGN_OR_RETURN(
      link_, MasterLink::Create(
                 link_options, &loop_, [agent](amp::Session* s) { return agent->Attach(s); },
                 [agent](const absl::Status& why) { agent->Detach(why); }));
  link_->Start();
  return absl::OkStatus();
}

void Worker::Drain(absl::Duration grace) {
  if (agent_ == nullptr) return;
  auto given_back = std::make_shared<std::promise<void>>();
  loop_.Post([this, given_back] { agent_->Drain([given_back] { given_back->set_value(); }); });
  // The agent gives up waiting for the master after a while; this is a backstop.
  given_back->get_future().wait_for(std::chrono::seconds(5));
  AMPMR_LOG(INFO) << "draining: waiting up to " << absl::FormatDuration(grace)
                  << " for running tasks";
  absl::Time until = absl::Now() + grace;
  if (!runner_->WaitIdle(grace)) {
    AMPMR_LOG(WARNING) << "drain grace over; cancelling what still runs";
  }
  // The master sends no new calls either; let the ones here answer.
  if (!handlers_->WaitIdle(std::max(until - absl::Now(), absl::ZeroDuration()))) {
    AMPMR_LOG(WARNING) << "drain grace over; calls still running will fail";
  }
}

void Worker::Shutdown() {
  if (link_ != nullptr) link_->Close();
  if (runner_ != nullptr) runner_->Stop();
  if (handlers_ != nullptr) handlers_->Stop();  // kills the children
  if (shuffle_ != nullptr) shuffle_->Shutdown();
  loop_.Stop();
  link_.reset();
  agent_.reset();
  runner_.reset();
  shuffle_.reset();
  files_.reset();
  calls_.reset();
  handlers_.reset();
  if (owns_work_dir_) {
    std::error_code ec;
    fs::remove_all(options_.work_dir, ec);
    owns_work_dir_ = false;
  }
}

}  // namespace ampmr::worker
