// How the journal encodes what it keeps in blobs: a job's planned splits, and
// batches of accepted tasks (one batch per job per commit, so that accepting
// a task costs an append to a buffer rather than a row).
//
// A task record: varint kind (0 map, 1 reduce), varint index, varint length +
// the worker's shuffle address, varint length + the v1::Answer (counters
// included). A splits blob: varint length + v1::Split, repeated.
#ifndef AMPMR_MASTER_JOURNAL_FORMAT_H_
#define AMPMR_MASTER_JOURNAL_FORMAT_H_

#include <string>
#include <vector>

#include "ampmr/v1/session.pb.h"
#include "master/journal.h"
#include "master/split_plan.h"

namespace ampmr::master {

std::string EncodeSplits(const SplitPlan& splits);
// False if `data` is not a splits blob.
bool DecodeSplits(const void* data, int size, SplitPlan* splits);

void AppendTaskRecord(bool is_map, int index, const std::string& worker_address,
                      const v1::Answer& answer, std::string* batch);
// Appends the records of `batch` to `tasks`, counters moved out of the
// answers; false if `batch` is not a batch of records.
bool DecodeTaskRecords(const void* data, int size, std::vector<JournaledTask>* tasks);

}  // namespace ampmr::master

#endif  // AMPMR_MASTER_JOURNAL_FORMAT_H_
