// What a perfect next-click recommender reaches on the synthetic stream that
// bench/robustness.sh evaluates (`streamrec produce --synthetic --users N
// --seed S`), by the generator's own truth: at each held-out click (the
// last 20% of the events, as `streamrec evaluate` splits them), the HR@10
// of ranking the catalog by
//   exposure x p_click  impressions of the item so far x the true p_click
//                       of the user for it now (SyntheticStream::truth_of):
//                       the next click needs the item shown, then clicked;
//   exposure            impressions so far alone (what popularity tracks);
//   p_click             the true p_click alone (what a perfect click model
//                       predicts: P(click | shown));
//   clicks              clicks so far.
// A ceiling for streamrec's HR@10 on that stream, and the reason the model's
// score alone cannot beat popularity there (docs/evaluation.md).
//
//   build/bench/next_click_oracle [--users N] [--seed S]    (2000, 7: robustness.sh's)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "producers/synthetic_stream.h"

using namespace streamrec;

int main(int argc, char** argv) {
  SyntheticConfig config;
  config.users = 2000;
  config.seed = 7;
  for (int a = 1; a + 1 < argc; a += 2) {
    if (!std::strcmp(argv[a], "--users")) config.users = std::atoll(argv[a + 1]);
    else if (!std::strcmp(argv[a], "--seed")) config.seed = std::atoll(argv[a + 1]);
    else {
      std::fprintf(stderr, "usage: %s [--users N] [--seed S]\n", argv[0]);
      return 2;
    }
  }
  auto created = SyntheticStream::create(config);
  if (!created.ok()) {
    std::fprintf(stderr, "%s\n", created.error().message.c_str());
    return 2;
  }
  SyntheticStream& stream = *created;
  std::vector<Event> events;
  GeneratedEvent g;
  while (stream.next(g))
    if (!g.item) events.push_back(g.event);
  const int64_t split_ts = events[static_cast<size_t>(static_cast<double>(events.size()) * 0.8)].ts_ms;
  const char* names[] = {"exposure x p_click", "exposure", "p_click", "clicks"};
  constexpr int kRankings = 4;
  std::vector<double> impressions(static_cast<size_t>(stream.items()), 0), clicks(impressions.size(), 0);
  std::vector<std::pair<double, int64_t>> scored[kRankings];
  double hits[kRankings] = {};
  int held_out = 0;
  for (const Event& e : events) {
    const int64_t item = std::atoll(e.item_id.c_str() + 1), user = std::atoll(e.user_id.c_str() + 1);
    if (e.ts_ms >= split_ts && e.type == EventType::kClick) {
      ++held_out;
      for (auto& s : scored) s.clear();
      for (int64_t i = 0; i < stream.items(); ++i) {
        const double p = stream.truth_of(user, i, e.ts_ms).p_click;
        const auto n = static_cast<size_t>(i);
        scored[0].emplace_back(impressions[n] * p, i);
        scored[1].emplace_back(impressions[n], i);
        scored[2].emplace_back(p, i);
        scored[3].emplace_back(clicks[n], i);
      }
      for (int r = 0; r < kRankings; ++r) {
        std::partial_sort(scored[r].begin(), scored[r].begin() + 10, scored[r].end(),
                          [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
        for (int j = 0; j < 10; ++j) hits[r] += scored[r][static_cast<size_t>(j)].second == item;
      }
    }
    if (e.type == EventType::kImpression) impressions[static_cast<size_t>(item)] += 1;
    if (e.type == EventType::kClick) clicks[static_cast<size_t>(item)] += 1;
  }
  std::printf("synthetic stream, %lld users, seed %lld: %d held-out clicks\n", static_cast<long long>(config.users),
              static_cast<long long>(config.seed), held_out);
  for (int r = 0; r < kRankings; ++r) std::printf("  HR@10 by %-20s %.4f\n", names[r], held_out ? hits[r] / held_out : 0.0);
  return 0;
}
