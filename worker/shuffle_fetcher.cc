#include "worker/shuffle_fetcher.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "ampmr/v1/shuffle.grpc.pb.h"
#include "common/amp/grpc_status.h"
#include "common/task_errors.h"
#include "worker/task/record_io.h"

namespace ampmr::worker {
namespace {

absl::Status WriteAllAt(int fd, const std::string& data, int64_t at, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done,
                         static_cast<off_t>(at + static_cast<int64_t>(done)));
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
    channel = grpc::CreateCustomChannel(address, credentials_->ChannelCredentials(), args);
  }
  return channel;
}

absl::Status ShuffleFetcher::FetchOne(const v1::MapOutputLocation& loc, int fd,
                                      const std::string& path, int64_t at,
                                      const std::function<bool()>& stop) {
  auto stub = v1::ShuffleService::NewStub(ChannelTo(loc.shuffle_address()));
  grpc::ClientContext ctx;
  credentials_->Apply(&ctx);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
  v1::FetchRequest request;
  request.set_attempt_id(loc.attempt_id());
  request.set_offset(loc.offset());
  request.set_length(loc.length());
  request.set_record_format(kRecordFormat);
  auto reader = stub->Fetch(&ctx, request);
  v1::Chunk chunk;
  int64_t got = 0;
  absl::Status status;
  absl::Status mismatch;  // the holder writes another record format
  while (status.ok() && reader->Read(&chunk)) {
    if (stop()) {
      ctx.TryCancel();
      status = absl::CancelledError("fetch stopped");
      break;
    }
    if (got == 0 && chunk.record_format() != kRecordFormat) {
      mismatch = absl::FailedPreconditionError(
          RecordFormatMismatch(chunk.record_format(), kRecordFormat));
      ctx.TryCancel();
      break;
    }
    if (got + static_cast<int64_t>(chunk.data().size()) > loc.length()) {
      got += static_cast<int64_t>(chunk.data().size());
      ctx.TryCancel();
      break;  // more than asked for: reported below
    }
    status = WriteAllAt(fd, chunk.data(), at + got, path);
    got += static_cast<int64_t>(chunk.data().size());
  }
  if (!status.ok()) ctx.TryCancel();
  absl::Status rpc = amp::FromGrpcStatus(reader->Finish());
  if (!status.ok()) return status;
  if (!mismatch.ok()) rpc = mismatch;
  if (!rpc.ok()) {
    // ABORTED, not UNAVAILABLE: this attempt failed, the reduce worker did not.
    absl::Status lost = absl::AbortedError(absl::StrCat("fetch map output of task ",
                                                        loc.map_task_id(), " from worker=",
                                                        loc.worker_id(), " at ",
                                                        loc.shuffle_address(), ": ",
                                                        credentials_->ExplainConnectFailure(
                                                            rpc.message())));
    lost.SetPayload(kLostMapOutputPayload, absl::Cord(loc.attempt_id()));
    return lost;
  }
  if (got != loc.length()) {
    absl::Status lost = absl::DataLossError(
        absl::StrCat("fetch map output of task ", loc.map_task_id(), " from worker=",
                     loc.worker_id(), " at ", loc.shuffle_address(), ": got ", got,
                     " bytes, want ", loc.length()));
    lost.SetPayload(kLostMapOutputPayload, absl::Cord(loc.attempt_id()));
    return lost;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ReduceInput>> ShuffleFetcher::Fetch(const v1::TaskContext& task,
                                                               MapOutputFeed* feed,
                                                               const std::atomic<bool>& cancelled,
                                                               std::vector<std::string>* fetched) {
  // Local outputs are read in place; remote ones get a region each of one
  // file, taken as they come, so several fetches write at once.
  const std::string path = absl::StrCat(work_dir_, "/", task.attempt_id(), ".shuffle");
  std::mutex mu;
  int fd = -1;  // guarded by mu; opened for the first remote input
  std::atomic<int64_t> size{0};
  auto open_file = [&]() -> absl::StatusOr<int> {
    std::lock_guard<std::mutex> lock(mu);
    if (fd >= 0) return fd;
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return absl::InternalError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
    fetched->push_back(path);
    return fd;
  };
  auto stop = [&] { return cancelled.load() || feed->stopped(); };
  auto fetch_some = [&] {
    while (std::optional<v1::MapOutputLocation> loc = feed->Next(cancelled)) {
      if (std::optional<std::string> local = store_->Find(loc->attempt_id())) {
        feed->Fetched(*loc, ReduceInput{*local, loc->offset(), loc->length()});
        continue;
      }
      absl::StatusOr<int> out = open_file();
      if (!out.ok()) {
        feed->Fetched(*loc, out.status());
        continue;
      }
      const int64_t at = size.fetch_add(loc->length());
      absl::Status s = FetchOne(*loc, *out, path, at, stop);
      if (cancelled.load()) return;
      if (!s.ok()) {
        feed->Fetched(*loc, s);
      } else {
        feed->Fetched(*loc, ReduceInput{path, at, loc->length()});
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < kParallelFetches; ++t) threads.emplace_back(fetch_some);
  fetch_some();
  for (std::thread& t : threads) t.join();
  if (fd >= 0) ::close(fd);
  if (cancelled.load()) return absl::CancelledError("cancelled while fetching map outputs");
  return feed->Inputs();
}

}  // namespace ampmr::worker
