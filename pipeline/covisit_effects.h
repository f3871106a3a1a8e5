// The co-visitation counts in Redis (sr:{i:<id>}:cv, docs/redis-keys.md):
// finds each consumed click's co-visit pairs by the ranker's rule
// (ranking/covisitation.h) and hands them to the effects, marked with the
// click's source and offset like its counters, so the counts in Redis are
// exact under replay: a re-delivered click's pairs are skipped with its
// other effects, a duplicate event never reaches here.
//
// The pairs of a click depend on its user's views before it. The ranker's
// copy of them lives on the model's thread, behind the event-time merger;
// the effects of a message must be added when it is consumed (they are
// written and its offset committed before the ranker sees it). So this
// keeps its own copy of each user's last rankings.covisit_window_items
// viewed items, on the consumer's thread. A user's events all come from one
// partition, in its order, before and after the merger, so both copies find
// the same pairs. After a checkpoint restore it starts from the ranker's
// histories, which are as of where the stream resumes; re-reading a stretch
// already in it changes nothing (a most-recent-first list of distinct items
// is the same after its last events are taken in again).
//
// A plain value: the consumer's thread only. Never fails.
#pragma once

#include <cstdint>

#include "core/config.h"
#include "core/consumed.h"
#include "core/event.h"
#include "pipeline/effects_scheduler.h"
#include "ranking/covisitation.h"
#include "ranking/user_history.h"

namespace streamrec::pipeline {

class CoVisitEffects {
 public:
  explicit CoVisitEffects(const RankingConfig& config)
      : window_items_(static_cast<size_t>(config.covisit_window_items)),
        window_ms_(config.covisit_window_s * 1000),
        histories_(window_items_, 0) {}

  // Adds the co-visits of `event`, consumed at `origin`, to `effects`, then
  // takes it into its user's history.
  void add(const Event& event, const MessageOrigin& origin, EffectsScheduler& effects);
  // Starts again from `restored` (the ranker's, just restored from a checkpoint).
  void restore(const ranking::UserHistories& restored) { histories_ = ranking::UserHistories(restored, window_items_, 0); }

  // Drops the user's last viewed items; true when there were some.
  bool erase_user(const std::string& user_id) { return histories_.erase(user_id); }

  size_t users() const { return histories_.users(); }

 private:
  const size_t window_items_;
  const int64_t window_ms_;
  ranking::UserHistories histories_;
  ranking::CoVisitPairs pairs_;  // scratch
};

}  // namespace streamrec::pipeline
