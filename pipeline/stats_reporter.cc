#include "pipeline/stats_reporter.h"

#include <fmt/format.h>

#include <array>
#include <algorithm>
#include <tuple>

#include "core/wall_clock.h"

namespace streamrec::pipeline {

using learner::Learner;
using learner::MetricSeries;

namespace {

using Clock = std::chrono::steady_clock;

// The learner's series of that name; an empty one if it has none. Read
// under the model lock: callers copy what they score (copy_last, catch_up),
// so that an AUC is computed after the lock is released, not while the
// model's thread waits.
const MetricSeries& find_series(const Learner& learner, const std::string& name) {
  static const MetricSeries kNone;
  for (const auto& [series_name, series] : learner.series())
    if (series_name == name) return series;
  return kNone;
}

// Its AUC over the last `window` samples (0: all); NaN when undefined. Only
// the AUC: the series' other summaries (log loss, calibration) cost a log
// per sample.
double auc(const MetricSeries& series, size_t window = 0) {
  const size_t n = series.size();
  return series.auc(window ? n - std::min(n, window) : 0, n);
}

// For Redis (any text) and for JSON (null when undefined).
std::string number(double v) { return std::isfinite(v) ? fmt::format("{:.6f}", v) : "nan"; }
std::string json_number(double v) { return std::isfinite(v) ? fmt::format("{:.6f}", v) : "null"; }

}  // namespace

StatsReporter::ModelSummary StatsReporter::summarize(const Learner& learner) {
  ModelSummary summary;
  summary.samples = learner.samples_learned();
  if (summary.samples != samples_at_last_summary_) ++model_version_;
  samples_at_last_summary_ = summary.samples;
  summary.version = model_version_;
  summary.click = find_series(learner, "click").copy_last(window_);
  summary.ctcvr = find_series(learner, "ctcvr").copy_last(window_);
  return summary;
}

std::vector<std::pair<std::string, std::string>> StatsReporter::summary_fields(const ModelSummary& summary) {
  return {{"version", std::to_string(summary.version)},
          {"events_trained", std::to_string(summary.samples)},
          {"auc_click", number(auc(summary.click))},
          {"auc_ctcvr", number(auc(summary.ctcvr))},
          {"updated_ts", std::to_string(wall_clock_ms())}};
}

std::string StatsReporter::stats_json(bool final, const ModelThread& model, const Learner& learner,
                                      const ranking::Ranker& ranker, int64_t effects_write_failures,
                                      const LatencyHistogram& effects_write_ms, size_t held_for_event_time,
                                      uint64_t ranking_refreshes_shed, size_t rankings_waiting,
                                      double checkpoint_age_s,
                                      const std::vector<MemoryBound>& pipeline_bounds) const {
  RankingStats r = model.ranking_stats();
  const auto now = Clock::now();
  // A finished computation of the whole-run AUCs is taken; the final stats
  // wait for one still running.
  if (whole_auc_job_.valid() &&
      (final || whole_auc_job_.wait_for(std::chrono::seconds(0)) == std::future_status::ready))
    std::tie(whole_auc_, whole_series_) = whole_auc_job_.get();
  auto lock = model.lock();
  const uint64_t samples_learned = learner.samples_learned();
  const uint64_t joiner_duplicates = learner.joiner_counters().duplicates;
  const std::array<uint64_t, ranking::kCandidateSources> top_k_sources = ranker.top_k_sources();
  std::string blend_weights;
  for (size_t f = 0; f < ranking::kBlendFeatures; ++f)
    blend_weights += fmt::format("{}\"{}\":{}", f ? "," : "", ranking::blend_feature_name(f),
                                 json_number(ranker.blend().weights()[f]));
  const std::string blend_json =
      fmt::format("{{\"clicks_learned\":{},\"rankings_kept\":{},\"rankings_out_of_step\":{},\"weights\":{{{}}}}}",
                  ranker.blend().clicks_learned(), ranker.blend_rankings_kept(), ranker.blend_rankings_out_of_step(),
                  blend_weights);
  const ranking::CoVisitation& covisits = ranker.covisitation();
  const std::string covisit_json =
      fmt::format("{{\"items\":{},\"neighbours\":{},\"evicted_items\":{},\"evicted_neighbours\":{}}}",
                  covisits.items(), covisits.cells(), covisits.evicted_items(), covisits.evicted_neighbours());
  const LearnerConfig& lc = learner.config();
  std::vector<MemoryBound> bounds = pipeline_bounds;
  bounds.push_back({"user_histories", ranker.histories().users(), lc.max_users, ranker.histories().evicted_users()});
  bounds.push_back({"catalog_items", learner.catalog().size(), lc.max_items, learner.catalog().evicted_items()});
  bounds.push_back({"item_counts", learner.baseline().items(), lc.max_items, learner.baseline().evicted_items()});
  bounds.push_back({"embedding_rows", learner.table().rows(), lc.max_embedding_rows, learner.table().evicted_total()});
  bounds.push_back({"retrieval_index_items", ranker.retrieval_index_items(), lc.max_items, 0});
  std::string memory_json;
  for (const MemoryBound& b : bounds)
    fmt::format_to(std::back_inserter(memory_json), "{}\"{}\":{{\"entries\":{},\"bound\":{},\"evicted\":{}}}",
                   memory_json.empty() ? "" : ",", b.name, b.entries, b.bound, b.evicted);
  const bool whole_due = samples_learned != whole_auc_.samples && !whole_auc_job_.valid() &&
                         (final || whole_auc_.samples == 0 || now - whole_auc_.computed >= kWholeAucInterval);
  MetricSeries click = find_series(learner, "click").copy_last(window_),
               ctcvr = find_series(learner, "ctcvr").copy_last(window_);
  if (whole_due) {
    whole_series_.click.catch_up(find_series(learner, "click"));
    whole_series_.ctcvr.catch_up(find_series(learner, "ctcvr"));
  }
  lock.unlock();
  if (whole_due) {
    auto compute = [series = std::move(whole_series_), samples_learned, now]() mutable {
      WholeAuc result{auc(series.click), auc(series.ctcvr), samples_learned, now};
      return std::make_pair(result, std::move(series));
    };
    if (final) std::tie(whole_auc_, whole_series_) = compute();
    else whole_auc_job_ = std::async(std::launch::async, std::move(compute));
  }
  uint64_t ranked = 0;
  for (uint64_t n : top_k_sources) ranked += n;
  std::string sources_json, share_json;
  for (size_t i = 0; i < top_k_sources.size(); ++i) {
    const char* name = ranking::source_name(static_cast<ranking::CandidateSource>(i));
    fmt::format_to(std::back_inserter(sources_json), "{}\"{}\":{}", i ? "," : "", name, top_k_sources[i]);
    fmt::format_to(std::back_inserter(share_json), "{}\"{}\":{}", i ? "," : "", name,
                   json_number(ranked ? static_cast<double>(top_k_sources[i]) / static_cast<double>(ranked) : std::nan("")));
  }
  const auto& f = r.freshness_ms;
  // Cumulative counts at fixed bounds, for a Prometheus histogram.
  std::string freshness_le;
  for (int bound_ms : {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000})
    fmt::format_to(std::back_inserter(freshness_le), "{}\"{}\":{}", freshness_le.empty() ? "" : ",", bound_ms,
                   f.count_at_most(bound_ms));
  // Redis write latency per writer, as cumulative counts for a Prometheus histogram.
  auto write_json = [](const LatencyHistogram& h) {
    std::string le;
    for (double bound_ms : {0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0})
      fmt::format_to(std::back_inserter(le), "{}\"{}\":{}", le.empty() ? "" : ",", bound_ms, h.count_at_most(bound_ms));
    return fmt::format("{{\"count\":{},\"sum\":{:.3f},\"le\":{{{}}}}}", h.count(), h.sum(), le);
  };
  const std::string redis_write_json = "{\"effects\":" + write_json(effects_write_ms) +
                                       ",\"rankings\":" + write_json(r.write_ms) + "}";
  // Log loss and calibration per task over the window (their AUC with them).
  const learner::SeriesSummary click_window = click.window(window_), ctcvr_window = ctcvr.window(window_);
  auto task_json = [](const learner::SeriesSummary& s) {
    return fmt::format("{{\"samples\":{},\"log_loss\":{},\"calibration\":{}}}", s.count, json_number(s.logloss),
                       json_number(s.calibration));
  };
  return fmt::format(
      "{{\"samples_learned\":{},\"rankings_written\":{},\"rankings_skipped\":{},\"ranking_refreshes_shed\":{},\"rankings_waiting\":{},"
      "\"ranking_write_failures\":{},\"effects_write_failures\":{},\"freshness_ms\":{{\"count\":{},\"p50\":{:.1f},\"p99\":{:.1f},\"max\":{:.1f},\"sum\":{:.1f},\"le\":{{{}}}}},"
      "\"auc_click_window\":{},\"auc_ctcvr_window\":{},\"auc_click\":{},\"auc_ctcvr\":{},\"auc_samples\":{},"
      "\"held_for_event_time\":{},\"joiner_duplicates\":{},\"tasks\":{{\"click\":{},\"ctcvr\":{}}},\"checkpoint_age_s\":{},"
      "\"top_k_sources\":{{{}}},\"top_k_share\":{{{}}},\"blend\":{},\"covisitation\":{},\"memory\":{{{}}},\"redis_write_ms\":{}}}",
      samples_learned, r.rankings_written, r.rankings_skipped, ranking_refreshes_shed, rankings_waiting, r.ranking_write_failures, effects_write_failures,
      f.count(), f.percentile(0.5), f.percentile(0.99), f.max(), f.sum(), freshness_le, json_number(click_window.auc),
      json_number(ctcvr_window.auc), json_number(whole_auc_.click), json_number(whole_auc_.ctcvr),
      whole_auc_.samples, held_for_event_time, joiner_duplicates, task_json(click_window), task_json(ctcvr_window),
      json_number(checkpoint_age_s), sources_json, share_json, blend_json, covisit_json, memory_json, redis_write_json);
}

}  // namespace streamrec::pipeline
