// What a user's ranking is computed from besides the model, kept per user as
// the events are consumed: the context of their latest event, its time, and
// the items they clicked last (newest first, no repeats). A click counts at
// once, before any label window closes: rankings react to it before the
// model has learned anything from it. A plain value; not thread-safe.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "core/event.h"

namespace streamrec::ranking {

struct RealtimeUser {
  std::deque<std::string> recent;       // clicked items, newest first, no repeats
  std::vector<ContextFeature> context;  // of the latest event
  int64_t last_ts_ms = 0;

  // Takes `event` in, keeping at most `recent_clicks` (at least 1) clicked
  // items; returns whether it changed `recent` (it was a click).
  bool observe(const Event& event, int64_t recent_clicks) {
    if (!event.context.empty()) context = event.context;
    last_ts_ms = std::max(last_ts_ms, event.ts_ms);
    if (event.type != EventType::kClick) return false;
    recent.erase(std::remove(recent.begin(), recent.end(), event.item_id), recent.end());
    recent.push_front(event.item_id);
    while (recent.size() > static_cast<size_t>(std::max<int64_t>(1, recent_clicks))) recent.pop_back();
    return true;
  }
};

}  // namespace streamrec::ranking
