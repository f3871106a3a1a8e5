// The Prometheus metrics of `streamrec learn`, rendered from its stats (the
// JSON of --stats-file: {"consumer": ConsumeLoop's, "sink": StreamPipeline's})
// and the process's resident memory. Names follow Prometheus conventions:
// streamrec_learn_* with a unit suffix, counters ending in _total.
//
// Pure function of its input; thread-safe. A stats JSON that does not parse
// gives only the process metrics (and streamrec_learn_stats_valid 0).
#pragma once

#include <string>
#include <string_view>

#include "serving/prometheus_text.h"

namespace streamrec::serving {

// Appends the learner's metrics to `out`. `stats_age_s`: how long ago the
// stats were taken (the learner reports every --status-interval).
void expose_learner_metrics(std::string_view stats_json, double stats_age_s, PrometheusText& out);

// This process's resident set size in bytes (/proc/self/statm), 0 if unknown.
double resident_memory_bytes();

}  // namespace streamrec::serving
