// Writes a synthetic stream to a directory, for offline training and tests:
//   items.jsonl  one Item a line (encode_item): the opening catalog, then
//                the launches and retirements (churn_share > 0) in
//                event-time order; a later line for an item replaces the
//                earlier one
//   events.jsonl one Event a line (encode_event), in event-time order
//   truth.csv    header "event_id,p_click,p_cvr,p_ctcvr,clicked,purchased",
//                then one row per impression, in stream order
// Probabilities are written in the shortest form that reads back to the same
// double, so the files are byte-identical for the same SyntheticConfig.
//
// The directory is created if missing; existing files are replaced. Errors
// (bad settings, I/O) are values naming the file. Streams: memory does not
// grow with the number of events.
#pragma once

#include <cstdint>
#include <string>

#include "core/config.h"
#include "core/status.h"

namespace streamrec {

struct SyntheticFilesSummary {
  int64_t items = 0;         // the opening catalog
  int64_t item_changes = 0;  // launches and retirements
  int64_t events = 0;
  int64_t impressions = 0;
  int64_t clicks = 0;
  int64_t purchases = 0;
};

Result<SyntheticFilesSummary> write_synthetic_files(const SyntheticConfig& config, const std::string& dir);

}  // namespace streamrec
