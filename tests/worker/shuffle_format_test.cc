// Workers of builds that write different map output record formats refuse
// each other's map outputs (FetchRequest/Chunk.record_format) instead of
// misreading them: real ShuffleServer and ShuffleFetcher over real gRPC.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ampmr/v1/shuffle.grpc.pb.h"
#include "common/task_errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "tests/worker/test_util.h"
#include "worker/map_output_feed.h"
#include "worker/map_output_store.h"
#include "worker/shuffle_fetcher.h"
#include "worker/shuffle_service.h"
#include "worker/task/record_io.h"

namespace ampmr::worker {
namespace {

using ::ampmr::testing::StatusIs;
using ::ampmr::worker::testing::ScratchDir;
using ::ampmr::worker::testing::WriteFile;
using ::testing::HasSubstr;

struct Holder {
  Holder() {
    WriteFile(dir.Join("out"), "abcdef");
    store.Add("j1-m0-a1", "j1", dir.Join("out"));
    auto started = ShuffleServer::Start("127.0.0.1:0", &store, credentials.get());
    EXPECT_TRUE(started.ok()) << started.status();
    server = std::move(*started);
    stub = v1::ShuffleService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", server->port()), grpc::InsecureChannelCredentials()));
  }
  ScratchDir dir;
  std::shared_ptr<const ClusterCredentials> credentials = ClusterCredentials::None();
  MapOutputStore store;
  std::unique_ptr<ShuffleServer> server;
  std::unique_ptr<v1::ShuffleService::Stub> stub;
};

TEST(ShuffleFormatTest, HolderServesItsFormatAndRefusesAReducerOfAnother) {
  Holder h;
  v1::FetchRequest request;
  request.set_attempt_id("j1-m0-a1");
  request.set_length(6);
  request.set_record_format(kRecordFormat);
  {
    grpc::ClientContext ctx;
    auto reader = h.stub->Fetch(&ctx, request);
    v1::Chunk chunk;
    ASSERT_TRUE(reader->Read(&chunk));
    EXPECT_EQ(chunk.data(), "abcdef");
    EXPECT_EQ(chunk.record_format(), kRecordFormat);
    EXPECT_FALSE(reader->Read(&chunk));
    EXPECT_TRUE(reader->Finish().ok());
  }
  request.clear_record_format();  // as a build from before formats were numbered asks
  grpc::ClientContext ctx;
  auto reader = h.stub->Fetch(&ctx, request);
  v1::Chunk chunk;
  EXPECT_FALSE(reader->Read(&chunk));
  grpc::Status refused = reader->Finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(),
              HasSubstr(absl::StrCat("map output record format mismatch: the holder writes format ",
                                     kRecordFormat, ", the reducer reads format 0")));
}

// A holder of an older build: it serves its bytes and names no format.
class OldHolder final : public v1::ShuffleService::Service {
  grpc::Status Fetch(grpc::ServerContext*, const v1::FetchRequest*,
                     grpc::ServerWriter<v1::Chunk>* writer) override {
    v1::Chunk chunk;
    chunk.set_data("abcdef");
    writer->Write(chunk);
    return grpc::Status::OK;
  }
};

TEST(ShuffleFormatTest, ReducerRefusesAHolderOfAnotherFormatAsALostOutput) {
  OldHolder old;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&old);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);

  ScratchDir dir;
  MapOutputStore none;
  ShuffleFetcher fetcher(&none, dir.path(), nullptr);
  v1::RunReduce run;
  run.mutable_task()->set_attempt_id("j1-r0-a1");
  v1::MapOutputLocation* loc = run.add_inputs();
  loc->set_map_task_id("m0");
  loc->set_attempt_id("j1-m0-a1");
  loc->set_worker_id("w2");
  loc->set_shuffle_address(absl::StrCat("127.0.0.1:", port));
  loc->set_length(6);
  MapOutputFeed feed(run);
  std::atomic<bool> cancelled{false};
  std::vector<std::string> fetched;
  absl::StatusOr<std::vector<ReduceInput>> inputs =
      fetcher.Fetch(run.task(), &feed, cancelled, &fetched);
  EXPECT_THAT(inputs, StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(inputs.status().message(),
              HasSubstr(absl::StrCat("fetch map output of task m0 from worker=w2 at 127.0.0.1:",
                                     port, ": map output record format mismatch: the holder "
                                           "writes format 0, the reducer reads format ",
                                     kRecordFormat)));
  auto lost = inputs.status().GetPayload(kLostMapOutputPayload);
  ASSERT_TRUE(lost.has_value());
  EXPECT_EQ(std::string(*lost), "j1-m0-a1");
  server->Shutdown();
}

}  // namespace
}  // namespace ampmr::worker
