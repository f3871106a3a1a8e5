#include "ranking/offline_evaluation.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <unordered_map>
#include <unordered_set>

#include "online_learner/learner.h"
#include "ranking/baselines.h"
#include "ranking/ranker.h"
#include "ranking/realtime_user.h"

namespace streamrec::ranking {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Sorts by event time, keeping the input order among equal times; returns
// how many events came after a later one.
uint64_t sort_by_event_time(std::vector<Event>& events) {
  uint64_t reordered = 0;
  int64_t newest = INT64_MIN;
  for (const Event& e : events) {
    if (e.ts_ms < newest) ++reordered;
    newest = std::max(newest, e.ts_ms);
  }
  if (reordered > 0)
    std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.ts_ms < b.ts_ms; });
  return reordered;
}

}  // namespace

Result<EvaluationReport> evaluate_offline(const Config& config, const EvaluationSettings& settings,
                                          std::span<const Item> items, std::vector<Event> events,
                                          const EvaluationProgress& progress) {
  const auto start = Clock::now();
  if (settings.k <= 0) return Error{"k: must be at least 1"};
  if (!(settings.test_fraction > 0 && settings.test_fraction < 1)) return Error{"test fraction: must be in (0, 1)"};
  auto created = learner::Learner::create(config.learner);
  if (!created.ok()) return Error{"bad configuration: " + created.error().message};
  learner::Learner& learner = **created;
  for (const Item& item : items) learner.add_item(item);

  EvaluationReport report;
  report.k = settings.k;
  report.events = events.size();
  report.reordered = sort_by_event_time(events);
  const size_t split = std::min(events.size(), static_cast<size_t>(static_cast<double>(events.size()) *
                                                                   (1 - settings.test_fraction)));
  report.split_ts_ms = split < events.size() ? events[split].ts_ms : INT64_MAX;

  RankingConfig rankings = config.rankings;
  rankings.top_k = settings.k;
  Ranker ranker(rankings, config.popularity, learner);
  ranker.rebuild_index_every(settings.index_rebuild_events);
  BaselineSettings baseline_settings;
  baseline_settings.last_viewed = static_cast<size_t>(settings.k);
  Baselines baselines(config.popularity, baseline_settings);
  std::unordered_map<std::string, RealtimeUser> users;
  std::unordered_set<std::string> seen_pairs;  // user '\0' item
  std::unordered_set<std::string> evaluated_users;

  const char* names[] = {"streamrec", "popular", "last_viewed", "top_category", "covisitation"};
  std::vector<RankingMetrics> metrics(std::size(names), RankingMetrics(settings.k));
  const size_t k = static_cast<size_t>(settings.k);
  std::vector<std::string> served;
  std::string pair;
  double ranking_seconds = 0;
  std::array<uint64_t, kCandidateSources> top_k_sources{};
  std::array<std::array<uint64_t, 2>, kCandidateSources> candidate_hits{};

  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    pair.assign(e.user_id).push_back('\0');
    pair += e.item_id;
    if (e.ts_ms >= report.split_ts_ms) {
      ++report.held_out_events;
      if (e.type == EventType::kClick) {
        ++report.held_out_clicks;
        evaluated_users.insert(e.user_id);
        const bool new_to_user = !seen_pairs.contains(pair);
        const RealtimeUser& user = users[e.user_id];
        const auto rank_start = Clock::now();
        const auto sources_before = ranker.top_k_sources();
        auto ranking = ranker.rank(e.user_id, user.recent, user.context, e.ts_ms);
        ranking_seconds += since(rank_start);
        for (size_t s = 0; s < kCandidateSources; ++s) top_k_sources[s] += ranker.top_k_sources()[s] - sources_before[s];
        if (auto source = ranker.candidate_source(e.item_id)) {
          ++report.candidate_hits;
          report.candidate_hits_new += new_to_user;
          ++candidate_hits[static_cast<size_t>(*source)][0];
          candidate_hits[static_cast<size_t>(*source)][1] += new_to_user;
        }
        served.clear();
        for (size_t j = 0; j < ranking.size() && j < k; ++j) served.push_back(std::move(ranking[j].first));
        if (served.empty()) {
          ++report.fallback_rankings;
          baselines.popular(k, served);
        }
        metrics[0].add(served, e.item_id, new_to_user);
        baselines.popular(k, served);
        metrics[1].add(served, e.item_id, new_to_user);
        baselines.last_viewed(e.user_id, k, served);
        metrics[2].add(served, e.item_id, new_to_user);
        baselines.top_category(e.user_id, k, served);
        metrics[3].add(served, e.item_id, new_to_user);
        baselines.covisitation(e.user_id, k, served);
        metrics[4].add(served, e.item_id, new_to_user);
      }
    } else {
      ++report.train_events;
      if (e.type == EventType::kClick && ranker.learns_blend() && ranker.histories().find(e.user_id)) {
        // The ranking `learn` would have served before this click: the
        // click then teaches the blend (Ranker::add_event below).
        const RealtimeUser& user = users[e.user_id];
        ranker.rank(e.user_id, user.recent, user.context, e.ts_ms);
      }
    }
    // The users' state here keeps the recent clicks, for the learner too.
    RealtimeUser& user = users[e.user_id];
    learner.add_event(e, learner::needs_recent_clicks(e) ? user.recent : learner::RecentClicks{});
    ranker.add_event(e);
    user.observe(e, config.learner.recent_clicks);
    const Item* item = learner.catalog().find(e.item_id);
    baselines.observe(e, item ? item->category : std::string());
    seen_pairs.insert(pair);
    if (progress && (i + 1) % 1024 == 0) progress(i + 1, events.size());
  }
  learner.finish();
  if (progress) progress(events.size(), events.size());

  report.users_evaluated = evaluated_users.size();
  report.samples_learned = learner.samples_learned();
  for (size_t m = 0; m < metrics.size(); ++m)
    report.recommenders.push_back({names[m], metrics[m].all(), metrics[m].new_items()});
  for (size_t s = 0; s < kCandidateSources; ++s) {
    report.top_k_sources.emplace_back(source_name(static_cast<CandidateSource>(s)), top_k_sources[s]);
    report.candidate_hits_by_source.emplace_back(source_name(static_cast<CandidateSource>(s)), candidate_hits[s]);
  }
  if (ranker.learns_blend()) {
    for (size_t f = 0; f < kBlendFeatures; ++f) report.blend_weights.emplace_back(blend_feature_name(f), ranker.blend().weights()[f]);
    report.blend_clicks_learned = ranker.blend().clicks_learned();
  }
  report.ranking_seconds = ranking_seconds;
  report.seconds = since(start);
  return report;
}

}  // namespace streamrec::ranking
