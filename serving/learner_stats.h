// Reads what the learners published about themselves (sr:stats, a capped
// list of their stats samples, newest first, and the sr:model summary) and
// turns it into the time series of the dashboard (GET /v1/stats,
// docs/serving.md): per learner and per sample, the rates over the interval
// since its sample before (events, samples, rankings, dead letters per
// second), freshness p50/p99 over that interval, and the gauges as sampled
// (lag, per-task AUC and calibration over the learner's recent window).
//
// Threads: const and stateless beyond the keys; call from any thread, each
// with its own connection. Errors: a Redis failure is an Error; a sample
// that does not parse is skipped (and counted in the answer's "skipped").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "feature_store/redis_connection.h"
#include "feature_store/redis_keys.h"

namespace streamrec::serving {

class LearnerStatsReader {
 public:
  explicit LearnerStatsReader(RedisKeys keys) : keys_(std::move(keys)) {}

  // The dashboard's JSON over the samples of the last `minutes` before
  // `now_ms`: {"now", "model", "learners": [...], "points": [...], "skipped"}.
  Result<std::string> read(RedisConnection& redis, int64_t minutes, int64_t now_ms) const;

 private:
  const RedisKeys keys_;
};

// Builds the dashboard's JSON from raw samples (any order) and the sr:model
// fields (name, value pairs); exposed for the tests.
std::string learner_stats_json(const std::vector<std::string>& samples,
                               const std::vector<std::pair<std::string, std::string>>& model, int64_t since_ms,
                               int64_t now_ms);

// The q-quantile of the observations a cumulative histogram gained between
// two samples (bounds ascending, counts cumulative at each bound, totals
// including those above the last bound), interpolated linearly inside the
// bucket; NaN when it gained none; the last bound when the quantile lies
// beyond it.
double interval_quantile(const std::vector<double>& bounds, const std::vector<double>& before,
                         const std::vector<double>& after, double total_before, double total_after, double q);

}  // namespace streamrec::serving
