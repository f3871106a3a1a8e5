// The obvious recommenders streamrec's rankings are held against
// (docs/evaluation.md), each kept online from the same events:
//  - popular:       the most popular items overall (decayed in event time,
//                   the score sr:pop keeps: core/popularity.h);
//  - last_viewed:   the user's last distinct viewed (clicked) items, newest first;
//  - top_category:  the most popular items of the user's top category (the
//                   category of most of their views and purchases; ties: the
//                   one seen last);
//  - covisitation:  the items most co-visited (ranking/covisitation.h) with the
//                   user's last `covisit_sources` distinct viewed items, by
//                   the sum of their counts (ties: more popular, then item id).
// A list may be shorter than asked (or empty) when a baseline knows no more.
// Popularity ties are broken by item id. Not thread-safe; never fails.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/config.h"
#include "core/event.h"
#include "ranking/covisitation.h"
#include "ranking/user_history.h"

namespace streamrec::ranking {

// Items by decayed popularity, overall and per category, kept sorted as
// events arrive.
class PopularityIndex {
 public:
  explicit PopularityIndex(const PopularityConfig& config) : config_(config) {}
  void add(const Event& event, const std::string& category);
  // log2 popularity (core/popularity.h); -infinity for an item never counted.
  double score(const std::string& item) const;
  void top(size_t k, std::vector<std::string>& out) const;
  void top_in_category(const std::string& category, size_t k, std::vector<std::string>& out) const;

 private:
  struct Entry {
    double score;
    std::string item;
    bool operator<(const Entry& o) const { return score != o.score ? score > o.score : item < o.item; }
  };
  struct Counted {
    double score;
    std::string category;
  };
  PopularityConfig config_;
  std::unordered_map<std::string, Counted> items_;
  std::set<Entry> overall_;
  std::unordered_map<std::string, std::set<Entry>> by_category_;
};

struct BaselineSettings {
  size_t last_viewed = 10;      // distinct items kept per user
  size_t covisit_sources = 5;   // the user's latest items whose co-visits count
  size_t covisit_window_items = 5;
  int64_t covisit_window_ms = 3'600'000;
};

class Baselines {
 public:
  Baselines(const PopularityConfig& popularity, const BaselineSettings& settings);

  // Takes `event` in; `category` is its item's ("" when unknown).
  void observe(const Event& event, const std::string& category);

  void popular(size_t k, std::vector<std::string>& out) const;
  void last_viewed(const std::string& user, size_t k, std::vector<std::string>& out) const;
  void top_category(const std::string& user, size_t k, std::vector<std::string>& out) const;
  void covisitation(const std::string& user, size_t k, std::vector<std::string>& out) const;

  const CoVisitation& covisits() const { return covisits_; }

 private:
  struct CategoryCount {
    uint64_t count = 0;
    uint64_t last_seen = 0;  // sequence number of the latest event
  };
  BaselineSettings settings_;
  PopularityIndex popularity_;
  UserHistories history_;
  CoVisitation covisits_;
  std::unordered_map<std::string, std::unordered_map<std::string, CategoryCount>> user_categories_;
  uint64_t seq_ = 0;
};

}  // namespace streamrec::ranking
