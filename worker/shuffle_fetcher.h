// ShuffleFetcher: brings a reduce attempt's inputs (partitions of map outputs)
// to this worker as their locations arrive (MapOutputFeed). Outputs this
// worker holds are read in place; others are fetched from their worker's
// ShuffleService into one local file, up to kParallelFetches at a time (as
// Hadoop's shuffle.parallelcopies), so the round trips of many small fetches
// overlap, and, when the reduce started early, overlap the maps still running. Fetches carry the
// cluster token and, with --tls-ca, run over TLS verified against it.
//
// Thread-safe; called from slot threads.
#ifndef AMPMR_WORKER_SHUFFLE_FETCHER_H_
#define AMPMR_WORKER_SHUFFLE_FETCHER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "ampmr/v1/session.pb.h"
#include "common/credentials.h"
#include "worker/map_output_feed.h"
#include "worker/map_output_store.h"
#include "worker/task/reduce_task.h"

namespace grpc {
class Channel;
}

namespace ampmr::worker {

class ShuffleFetcher {
 public:
  static constexpr int kParallelFetches = 5;

  // `credentials` null: no token, no TLS.
  ShuffleFetcher(const MapOutputStore* store, std::string work_dir,
                 std::shared_ptr<const ClusterCredentials> credentials)
      : store_(store),
        work_dir_(std::move(work_dir)),
        credentials_(credentials != nullptr ? std::move(credentials)
                                            : ClusterCredentials::None()) {}

  // Local ranges for every input `feed` brings (one per map task, in map
  // task order), once its last location is in. The fetched file is named
  // after `task`'s attempt and listed in *fetched for the caller to delete.
  // A fetch that failed for good (see MapOutputFeed; the other fetches stop)
  // names the map task, its worker and address, and carries
  // kLostMapOutputPayload with its attempt.
  absl::StatusOr<std::vector<ReduceInput>> Fetch(const v1::TaskContext& task, MapOutputFeed* feed,
                                                 const std::atomic<bool>& cancelled,
                                                 std::vector<std::string>* fetched);

 private:
  std::shared_ptr<grpc::Channel> ChannelTo(const std::string& address);
  // Fetches `loc` into `fd` (`path`) at byte `at`; gives up when `stop` says so.
  absl::Status FetchOne(const v1::MapOutputLocation& loc, int fd, const std::string& path,
                        int64_t at, const std::function<bool()>& stop);

  const MapOutputStore* store_;
  const std::string work_dir_;
  const std::shared_ptr<const ClusterCredentials> credentials_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ampmr::worker

#endif  // AMPMR_WORKER_SHUFFLE_FETCHER_H_
