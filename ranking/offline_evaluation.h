// Offline evaluation of rankings (`streamrec evaluate`, docs/evaluation.md):
// a stream replayed in event-time order through the same learner (joiner,
// features, model) and Ranker as `streamrec learn`, in one process, with the
// baselines (ranking/baselines.h) kept from the same events beside them.
//
// The last `test_fraction` of the events (by position in time order: every
// event at or after the event time of the first of them) is held out: at
// each held-out click, before the event is learned or counted anywhere, each
// recommender is asked for the top K it would serve that user at that
// moment, and the clicked item is looked up in it (ranking/ranking_metrics.h);
// "new" events are those whose item the user never had an event with
// before. Every event, held out or not, is then learned and counted: the
// evaluation is online, as the stream is.
//
// streamrec's list is Ranker::rank() (rankings.top_k set to K), or, for a user it has no
// ranking for, the most popular items (what apps fall back to: sr:pop).
// With the learned blend (`rankings.blend: learned`), the ranker is also
// asked for a ranking before every click of the training part whose user
// it has a history for, as `learn` refreshes a user's ranking after each of
// their events: the click that follows teaches the blend
// (ranking/learned_blend.h); held-out clicks teach it after they are
// measured, as the stream would.
// The ranker's index is rebuilt every `index_rebuild_events` events (not
// every wall-clock second as in `learn`), so that the report is a function
// of the input, the config and its seed: bit-identical reruns.
//
// Errors: a bad learner configuration is an Error. Not thread-safe; the
// progress callback runs on the caller's thread.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/event.h"
#include "core/status.h"
#include "ranking/ranking_metrics.h"

namespace streamrec::ranking {

struct EvaluationSettings {
  int k = 10;
  double test_fraction = 0.2;
  uint64_t index_rebuild_events = 1000;
};

struct RecommenderResult {
  std::string name;
  TopKSummary all, new_items;
};

struct EvaluationReport {
  uint64_t events = 0;            // replayed
  uint64_t reordered = 0;         // events not in event-time order in the input (sorted first)
  uint64_t train_events = 0;      // before the held-out part
  uint64_t held_out_events = 0;   // every event of the held-out part
  uint64_t held_out_clicks = 0;   // those evaluated
  int64_t split_ts_ms = 0;        // where the held-out part starts
  uint64_t users_evaluated = 0;
  uint64_t fallback_rankings = 0;  // held-out clicks where streamrec had no ranking (popular items served)
  uint64_t samples_learned = 0;
  int k = 0;
  std::vector<RecommenderResult> recommenders;  // streamrec first, then the baselines
  // streamrec's top K items, by the candidate source that proposed them
  // (source name, items), over every ranking served.
  std::vector<std::pair<std::string, uint64_t>> top_k_sources;  // of the held-out rankings only
  // Candidate recall: held-out clicks whose item was among streamrec's
  // candidates (proposed by any source, whether or not it made the top K),
  // and the same for clicks on items new to the user; then per source (the
  // source that proposed it: the first, in the ranker's order).
  uint64_t candidate_hits = 0, candidate_hits_new = 0;
  std::vector<std::pair<std::string, std::array<uint64_t, 2>>> candidate_hits_by_source;  // source, {all, new}
  // The learned blend at the end of the replay (empty with the fixed blend):
  // feature name, weight; and the clicks it learned from.
  std::vector<std::pair<std::string, double>> blend_weights;
  uint64_t blend_clicks_learned = 0;
  // Wall-clock seconds (not part of the deterministic result).
  double seconds = 0, ranking_seconds = 0;
};

// Called now and then with (events done, events in all).
using EvaluationProgress = std::function<void(uint64_t, uint64_t)>;

Result<EvaluationReport> evaluate_offline(const Config& config, const EvaluationSettings& settings,
                                          std::span<const Item> items, std::vector<Event> events,
                                          const EvaluationProgress& progress = {});

}  // namespace streamrec::ranking
