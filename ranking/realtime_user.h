// What a user's ranking is computed from besides the model, kept per user as
// the events are consumed: the context of their latest event, its time, and
// the items they clicked last (remember_click). Where users' real-time state
// is kept, this is the one copy of their recent clicks: the learner is given
// the bag from here with each event (online_learner/recent_clicks.h), so the
// model ranks with the bag it learned from. A click counts at once, before
// any label window closes: rankings react to it before the model has learned
// anything from it. A plain value; not thread-safe.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "core/event.h"
#include "online_learner/recent_clicks.h"

namespace streamrec::ranking {

struct RealtimeUser {
  learner::RecentClicks recent;         // newest first (remember_click)
  std::vector<ContextFeature> context;  // of the latest event
  int64_t last_ts_ms = 0;

  // Takes `event` in, keeping at most `recent_clicks` (at least 1) clicked
  // items; returns whether it changed `recent` (it was a click).
  bool observe(const Event& event, int64_t recent_clicks) {
    if (!event.context.empty()) context = event.context;
    last_ts_ms = std::max(last_ts_ms, event.ts_ms);
    if (event.type != EventType::kClick) return false;
    learner::remember_click(recent, event.item_id, std::max<int64_t>(1, recent_clicks));
    return true;
  }
};

}  // namespace streamrec::ranking
