#include "worker/shuffle_service.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "worker/task/record_io.h"

namespace ampmr::worker {
namespace {

constexpr int64_t kChunkBytes = 1 << 20;
// A FetchRequest is an attempt id and two numbers.
constexpr int kMaxRequestBytes = 64 << 10;

}  // namespace

grpc::Status ShuffleServiceImpl::Fetch(grpc::ServerContext* ctx, const v1::FetchRequest* request,
                                       grpc::ServerWriter<v1::Chunk>* writer) {
  if (grpc::Status refused = credentials_->Authenticate(*ctx, "ShuffleService.Fetch");
      !refused.ok()) {
    return refused;
  }
  std::optional<std::string> path = store_->Find(request->attempt_id());
  if (!path.has_value()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no map output for attempt=", request->attempt_id()));
  }
  if (request->record_format() != kRecordFormat) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        RecordFormatMismatch(kRecordFormat, request->record_format()));
  }
  if (request->offset() < 0 || request->length() < 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "negative offset or length");
  }
  int fd = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("open ", *path, ": ", std::strerror(errno)));
  }
  v1::Chunk chunk;
  int64_t offset = request->offset();
  int64_t left = request->length();
  grpc::Status status = grpc::Status::OK;
  while (left > 0 && !ctx->IsCancelled()) {
    std::string* data = chunk.mutable_data();
    data->resize(std::min(left, kChunkBytes));
    ssize_t n = ::pread(fd, data->data(), data->size(), offset);
    if (n <= 0) {
      status = grpc::Status(grpc::StatusCode::DATA_LOSS,
                            absl::StrCat("read ", *path, " at ", offset, ": ",
                                         n == 0 ? "unexpected end of file" : std::strerror(errno)));
      break;
    }
    data->resize(n);
    chunk.set_record_format(offset == request->offset() ? kRecordFormat : 0);
    if (!writer->Write(chunk)) break;
    offset += n;
    left -= n;
  }
  ::close(fd);
  return status;
}

}  // namespace ampmr::worker

namespace ampmr::worker {

absl::StatusOr<std::unique_ptr<ShuffleServer>> ShuffleServer::Start(
    const std::string& listen, const MapOutputStore* store,
    const ClusterCredentials* credentials) {
  if (absl::Status s = credentials->CheckListen(listen, "--shuffle-listen"); !s.ok()) return s;
  std::unique_ptr<ShuffleServer> server(new ShuffleServer(store, credentials));
  grpc::ServerBuilder builder;
  AddListener(&builder, listen, *credentials, &server->port_);
  builder.RegisterService(&server->service_);
  builder.SetMaxReceiveMessageSize(kMaxRequestBytes);
  // Reducers ping during long fetches (see ShuffleFetcher); allow it.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("--shuffle-listen ", listen, ": cannot listen there (is the port taken?)"));
  }
  return server;
}

ShuffleServer::~ShuffleServer() { Shutdown(); }

void ShuffleServer::Shutdown() {
  if (server_ == nullptr) return;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(250));
  server_->Wait();
  server_.reset();
}

}  // namespace ampmr::worker
