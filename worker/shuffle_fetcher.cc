#include "worker/shuffle_fetcher.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "ampmr/v1/shuffle.grpc.pb.h"
#include "common/amp/grpc_stream.h"
#include "common/task_errors.h"

namespace ampmr::worker {
namespace {

absl::Status WriteAll(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("write ", path, ": ", std::strerror(errno)));
    }
    done += n;
  }
  return absl::OkStatus();
}

}  // namespace

std::shared_ptr<grpc::Channel> ShuffleFetcher::ChannelTo(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& channel = channels_[address];
  if (channel == nullptr) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    // A worker that hangs (SIGSTOP, a dead host) answers no HTTP/2 ping: the
    // fetch fails within seconds instead of waiting for its deadline.
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 2000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 3000);
    channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  }
  return channel;
}

absl::StatusOr<std::vector<ReduceInput>> ShuffleFetcher::Fetch(const v1::RunReduce& run,
                                                               const std::atomic<bool>& cancelled,
                                                               std::vector<std::string>* fetched) {
  std::vector<ReduceInput> inputs;
  inputs.reserve(run.inputs_size());
  const std::string path = absl::StrCat(work_dir_, "/", run.task().attempt_id(), ".shuffle");
  int fd = -1;
  int64_t written = 0;
  absl::Status status;
  for (const v1::MapOutputLocation& loc : run.inputs()) {
    if (cancelled.load()) {
      status = absl::CancelledError("cancelled while fetching map outputs");
      break;
    }
    if (std::optional<std::string> local = store_->Find(loc.attempt_id())) {
      inputs.push_back(ReduceInput{*local, loc.offset(), loc.length()});
      continue;
    }
    if (fd < 0) {
      fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0) {
        status = absl::InternalError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
        break;
      }
      fetched->push_back(path);
    }
    auto stub = v1::ShuffleService::NewStub(ChannelTo(loc.shuffle_address()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
    v1::FetchRequest request;
    request.set_attempt_id(loc.attempt_id());
    request.set_offset(loc.offset());
    request.set_length(loc.length());
    auto reader = stub->Fetch(&ctx, request);
    v1::Chunk chunk;
    int64_t got = 0;
    while (status.ok() && reader->Read(&chunk)) {
      status = WriteAll(fd, chunk.data(), path);
      got += static_cast<int64_t>(chunk.data().size());
    }
    absl::Status rpc = amp::FromGrpcStatus(reader->Finish());
    if (status.ok() && !rpc.ok()) {
      // ABORTED, not UNAVAILABLE: this attempt failed, the reduce worker did not.
      status = absl::AbortedError(absl::StrCat("fetch map output of task ", loc.map_task_id(),
                                               " from worker=", loc.worker_id(), " at ",
                                               loc.shuffle_address(), ": ", rpc.message()));
      status.SetPayload(kLostMapOutputPayload, absl::Cord(loc.attempt_id()));
    }
    if (status.ok() && got != loc.length()) {
      status = absl::DataLossError(absl::StrCat("fetch map output of task ", loc.map_task_id(),
                                                ": got ", got, " bytes, want ", loc.length()));
      status.SetPayload(kLostMapOutputPayload, absl::Cord(loc.attempt_id()));
    }
    if (!status.ok()) break;
    inputs.push_back(ReduceInput{path, written, got});
    written += got;
  }
  if (fd >= 0) ::close(fd);
  if (!status.ok()) return status;
  return inputs;
}

}  // namespace ampmr::worker
