// Top-K ranking metrics of one recommender over held-out events: each event
// is one user's next item, held against the list served just before it.
//
//  - hit rate@K: the share of events whose item is among the first K;
//  - NDCG@K: the mean of 1 / log2(1 + rank) over events whose item has rank
//    <= K (ranks from 1; one relevant item per event, so the ideal DCG is 1);
//  - MRR@K: the mean of 1 / rank over events whose item has rank <= K.
// Each also over the events whose item is new to its user (never in one of
// their earlier events). An empty list is a miss. A plain value; not
// thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace streamrec::ranking {

struct TopKSummary {
  uint64_t events = 0;
  double hit_rate = 0, ndcg = 0, mrr = 0;
};

class RankingMetrics {
 public:
  explicit RankingMetrics(int k) : k_(k) {}

  // `ranked` is the served list, best first (only its first K count).
  void add(std::span<const std::string> ranked, const std::string& item, bool new_to_user);

  int k() const { return k_; }
  TopKSummary all() const { return summary(all_); }
  TopKSummary new_items() const { return summary(new_); }

 private:
  struct Sums {
    uint64_t events = 0, hits = 0;
    double ndcg = 0, mrr = 0;
  };
  static TopKSummary summary(const Sums& s);

  int k_;
  Sums all_, new_;
};

}  // namespace streamrec::ranking
