#include "ranking/ranking_metrics.h"

#include <algorithm>
#include <cmath>

namespace streamrec::ranking {

void RankingMetrics::add(std::span<const std::string> ranked, const std::string& item, bool new_to_user) {
  const size_t n = std::min(ranked.size(), static_cast<size_t>(std::max(k_, 0)));
  size_t rank = 0;  // 1-based; 0 = not in the first K
  for (size_t i = 0; i < n && rank == 0; ++i)
    if (ranked[i] == item) rank = i + 1;
  for (Sums* s : {&all_, new_to_user ? &new_ : nullptr}) {
    if (!s) continue;
    ++s->events;
    if (rank == 0) continue;
    ++s->hits;
    s->ndcg += 1.0 / std::log2(1.0 + static_cast<double>(rank));
    s->mrr += 1.0 / static_cast<double>(rank);
  }
}

TopKSummary RankingMetrics::summary(const Sums& s) {
  TopKSummary out;
  out.events = s.events;
  if (s.events == 0) return out;
  const double n = static_cast<double>(s.events);
  out.hit_rate = static_cast<double>(s.hits) / n;
  out.ndcg = s.ndcg / n;
  out.mrr = s.mrr / n;
  return out;
}

}  // namespace streamrec::ranking
