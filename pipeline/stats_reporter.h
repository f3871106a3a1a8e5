// What the pipeline reports about its model: the stats JSON of `streamrec
// learn --stats-file` (samples, rankings, freshness, write failures, AUCs,
// the candidate sources' share of the rankings, co-visitation memory)
// and the fields of the sr:model summary (version, samples, windowed AUCs).
//
// The whole run's AUCs (auc_click, auc_ctcvr, over auc_samples samples) are
// recomputed at most every kWholeAucInterval, and in the final stats. They
// sort every sample kept, up to 2 * learner.metrics_max_samples per series
// (0.5 s at 10 M): on a thread of their own (std::async) from copies, so
// neither the consumer nor the model waits for them, and the stats show the
// last finished; the final stats compute them in place.
//
// Threads: one caller thread (the consumer's). It takes the model lock
// (ModelThread::lock) itself in stats_json(); summarize() is called with it
// held. Never fails: an AUC that is undefined is NaN ("nan" in Redis, null in
// JSON).
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <future>
#include <string>
#include <utility>
#include <vector>

#include "core/config.h"
#include "online_learner/learner.h"
#include "online_learner/metrics.h"
#include "pipeline/model_thread.h"
#include "ranking/ranker.h"

namespace streamrec::pipeline {

// One bounded structure's size, its bound and its evictions so far, for
// the stats' "memory" object (docs/operations.md, "Memory").
struct MemoryBound {
  const char* name;
  size_t entries;
  int64_t bound;
  uint64_t evicted;
};

class StatsReporter {
 public:
  explicit StatsReporter(const LearnerConfig& config) : window_(static_cast<size_t>(config.metrics_window)) {}

  // The sr:model summary's numbers, copied under the model lock (held by
  // the caller) so that the AUCs are computed after it is released.
  struct ModelSummary {
    uint64_t version = 0;
    uint64_t samples = 0;
    learner::MetricSeries click, ctcvr;  // the last learner.metrics_window samples
  };
  ModelSummary summarize(const learner::Learner& learner);
  // Its fields, for sr:model: version, events_trained, auc_click, auc_ctcvr, updated_ts.
  static std::vector<std::pair<std::string, std::string>> summary_fields(const ModelSummary& summary);

  // `effects_write_failures`, `held_for_event_time` and
  // `ranking_refreshes_shed` come from the effects scheduler, the
  // event-time merger and the ranking debouncer; `rankings_waiting` (users
  // asked for and not ranked yet: many while the model's thread is behind)
  // and `checkpoint_age_s` (NaN: none written) from the pipeline.
  // The ranker's figures (under the same lock): the items of the rankings
  // by the candidate source that proposed them ("top_k_sources", counts
  // and "top_k_share", fractions), the learned blend's "clicks_learned" and
  // rankings kept for it or not ("rankings_kept", "rankings_out_of_step":
  // ranking/ranker.h), and the co-visitation memory.
  // "memory": `pipeline_bounds` (the consumer thread's structures) and the
  // learner's and ranker's, each {"entries", "bound", "evicted"}.
  std::string stats_json(bool final, const ModelThread& model, const learner::Learner& learner,
                         const ranking::Ranker& ranker, int64_t effects_write_failures,
                         const LatencyHistogram& effects_write_ms, size_t held_for_event_time,
                         uint64_t ranking_refreshes_shed, size_t rankings_waiting, double checkpoint_age_s, const std::vector<MemoryBound>& pipeline_bounds = {}) const;

 private:
  static constexpr std::chrono::seconds kWholeAucInterval{30};

  const size_t window_;
  uint64_t model_version_ = 0;  // grows when the samples learned changed since the last summary
  uint64_t samples_at_last_summary_ = 0;

  // stats_json()'s last whole-run AUCs, and the one being computed. Its
  // copies of the learner's series are caught up under the model lock
  // (MetricSeries::catch_up: only the samples new since the last time, not
  // millions) and lent to the computation.
  struct WholeAuc {
    double click = std::nan(""), ctcvr = std::nan("");
    uint64_t samples = 0;
    std::chrono::steady_clock::time_point computed{};
  };
  struct WholeSeries {
    learner::MetricSeries click, ctcvr;
  };
  mutable WholeAuc whole_auc_;
  mutable WholeSeries whole_series_;
  mutable std::future<std::pair<WholeAuc, WholeSeries>> whole_auc_job_;
};

}  // namespace streamrec::pipeline
