// The pipeline's checkpoint file (checkpoint.path): the stream positions
// (the Kafka cluster id and, per partition, the offset to resume at: after
// the last event consumed), each user's real-time state, the events the
// event-time merger held (consumed, not yet learned), the ranker's catalog
// and popularity, and the learner's whole state, in one file written atomically
// (online_learner/checkpoint.h's framing and checksum).
//
// Free functions; the caller holds whatever guards the objects passed (the
// model lock for the Learner and the Ranker). Errors: a file that cannot be
// written, or one that is damaged, of another version or truncated, is an
// Error naming the path; a restore that fails may have changed the objects
// it was given (the caller then gives up).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/consumed.h"
#include "core/status.h"
#include "online_learner/byte_io.h"
#include "online_learner/learner.h"
#include "pipeline/event_time_merger.h"
#include "pipeline/ranking_debouncer.h"
#include "ranking/ranker.h"

namespace streamrec::pipeline {

// Where the stream resumes: the next offset per partition, in cluster `cluster_id`.
struct StreamPositions {
  std::string cluster_id;
  std::map<TopicPartition, int64_t> next;
};

// The checkpoint's bytes, written in two steps so that each thread
// serializes what it owns: the consumer's state (where the stream resumes,
// the users' real-time state, the events the merger holds) at the
// checkpoint's point, then the ranker and the learner once the model's
// thread has learned exactly the events the merger released before that
// point (ModelThread::at_this_point), appended to `out` (a
// learner::StreamedCheckpoint's payload: spilled to its file as it goes).
std::string serialize_stream_state(const StreamPositions& positions, const RankingDebouncer& users,
                                   const EventTimeMerger& merger);
void finish_pipeline_checkpoint(const std::string& stream_state, const ranking::Ranker& ranker,
                                const learner::Learner& learner, learner::ByteWriter& out);
// Restores into the given objects from the newest good checkpoint of `path`
// (<path>, or <path>.prev when <path> is missing or damaged; see
// learner::read_newest_checkpoint) and returns the file it came from; the
// events the merger held go to `held`, in the order it would have released
// them, for the caller to learn first. Without either file (or with an
// empty `path`), changes nothing and returns "".
Result<std::string> restore_pipeline_checkpoint(const std::string& path, StreamPositions& positions,
                                                RankingDebouncer& users,
                                                std::vector<learner::EventWithRecentClicks>& held,
                                                ranking::Ranker& ranker, learner::Learner& learner);

}  // namespace streamrec::pipeline
