// A user whose ranking is to be recomputed, with the real-time state it is
// computed from: what the ranking debouncer (pipeline/ranking_debouncer.h)
// hands the model's thread (pipeline/model_thread.h). A plain value.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/event.h"

namespace streamrec::pipeline {

struct RankRequest {
  std::string user_id;
  std::vector<std::string> recent_clicks;  // newest first
  std::vector<ContextFeature> context;      // of the user's latest event
  int64_t ts_ms = 0;                        // the user's latest event time
  int64_t asked_at_kafka_ms = -1;           // oldest event that asked for it; -1: not measured
};

}  // namespace streamrec::pipeline
