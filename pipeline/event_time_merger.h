// Merges the events of many Kafka partitions into one stream in event-time
// order, for the joiner, whose windows run on event time.
//
// Each partition is in order by itself, but partitions are fetched in
// chunks, so one may run minutes of event time ahead of another; fed as
// consumed, the joiner would close the click windows of the lagging
// partition's impressions before their clicks arrive. The merger holds each
// partition's events and releases them in (ts, partition, offset) order up
// to the watermark: the smallest latest-seen ts among partitions that may
// still have older events to deliver. A partition the consumer has read to
// its end (caught_up(), from Kafka's end-of-partition event) stops holding
// the others back until it delivers again; so does one removed by forget().
// Because the watermark depends on what was read, not on wall time, the
// released order is the same however fast or slow the consumer runs.
// Each event travels with its user's recent clicks as they were when it was
// consumed (the learner's features: learner::EventWithRecentClicks).
// Memory is bounded: beyond `max_held` events held, pop_ready() also
// releases the oldest ones down to the bound without waiting for the other
// partitions (counted in released_over_bound()); a partition far behind
// (or an idle one never caught up) then costs ordering, never memory.
// Plain value; not thread-safe.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <utility>
#include <vector>

#include "core/consumed.h"
#include "core/event.h"
#include "online_learner/recent_clicks.h"

namespace streamrec::pipeline {

class EventTimeMerger {
 public:
  explicit EventTimeMerger(size_t max_held = std::numeric_limits<size_t>::max()) : max_held_(max_held) {}

  // A partition just assigned: until it delivers or is caught up, it holds
  // the others back, since its first events may be older.
  void expect(const TopicPartition& partition) { lanes_[partition].caught_up = false; }
  // The consumer reached the end of `partition` at `end_offset`; it is
  // caught up unless it has delivered past that since.
  void caught_up(const TopicPartition& partition, int64_t end_offset) {
    Lane& lane = lanes_[partition];
    if (lane.next_offset <= end_offset) lane.caught_up = true;
  }

  // Keeps a copy of `event` (the consumer's batch is gone by the time it
  // is released) with `recent_clicks`.
  void push(const TopicPartition& partition, int64_t offset, const Event& event, learner::RecentClicks recent_clicks) {
    Lane& lane = lanes_[partition];
    lane.held.push_back({offset, {event, std::move(recent_clicks)}});
    lane.max_ts = std::max(lane.max_ts, event.ts_ms);
    lane.next_offset = offset + 1;
    lane.caught_up = false;
    ++held_;
  }

  // Appends every event at or below the watermark to `out`, oldest first;
  // first, beyond max_held, the oldest events down to the bound.
  void pop_ready(std::vector<learner::EventWithRecentClicks>& out) {
    if (held_ > max_held_) {
      const size_t before = held_;
      release(std::numeric_limits<int64_t>::max(), out, max_held_);
      released_over_bound_ += before - held_;
    }
    int64_t watermark = std::numeric_limits<int64_t>::max();
    for (auto& [p, lane] : lanes_)
      if (!lane.caught_up) watermark = std::min(watermark, lane.max_ts);  // nothing seen yet: holds all
    release(watermark, out);
  }

  // Appends everything held, oldest first.
  void pop_all(std::vector<learner::EventWithRecentClicks>& out) { release(std::numeric_limits<int64_t>::max(), out); }

  // Everything held, in the order it would be released, left held (the
  // checkpoint's copy).
  std::vector<const learner::EventWithRecentClicks*> held_in_order() const {
    std::vector<const learner::EventWithRecentClicks*> out;
    std::vector<std::pair<const Lane*, size_t>> next;  // each lane and its next event
    for (auto& [p, lane] : lanes_)
      if (!lane.held.empty()) next.emplace_back(&lane, 0);
    while (!next.empty()) {
      auto oldest = std::min_element(next.begin(), next.end(), [](const auto& a, const auto& b) {
        return ts_at(a) < ts_at(b);  // the first lane on ties, as release()
      });
      out.push_back(&oldest->first->held[oldest->second].event);
      if (++oldest->second == oldest->first->held.size()) next.erase(oldest);
    }
    return out;
  }

  void forget(const TopicPartition& partition) {
    auto it = lanes_.find(partition);
    if (it == lanes_.end()) return;
    held_ -= it->second.held.size();
    lanes_.erase(it);
  }

  // Drops the held events of `user_id` (they are never released); returns
  // how many. For forgetting a user.
  size_t erase_user(const std::string& user_id) {
    size_t n = 0;
    for (auto& [p, lane] : lanes_)
      n += std::erase_if(lane.held, [&](const Held& h) { return h.event.event.user_id == user_id; });
    held_ -= n;
    return n;
  }

  size_t held() const { return held_; }
  // Events released past max_held before the watermark reached them.
  uint64_t released_over_bound() const { return released_over_bound_; }

 private:
  struct Held {
    int64_t offset;
    learner::EventWithRecentClicks event;
  };
  struct Lane {
    std::deque<Held> held;
    int64_t max_ts = std::numeric_limits<int64_t>::min();
    int64_t next_offset = 0;  // after the last event delivered
    bool caught_up = false;
  };

  static int64_t ts_at(const std::pair<const Lane*, size_t>& at) { return at.first->held[at.second].event.event.ts_ms; }

  // Releases in order up to `watermark`, stopping once `keep` are left.
  void release(int64_t watermark, std::vector<learner::EventWithRecentClicks>& out, size_t keep = 0) {
    while (held_ > keep) {
      Lane* next = nullptr;
      for (auto& [p, lane] : lanes_)  // few partitions: a scan beats a heap
        if (!lane.held.empty() &&
            (!next || lane.held.front().event.event.ts_ms < next->held.front().event.event.ts_ms))
          next = &lane;
      if (!next || next->held.front().event.event.ts_ms > watermark) return;
      out.push_back(std::move(next->held.front().event));
      next->held.pop_front();
      --held_;
    }
  }

  size_t max_held_;
  std::map<TopicPartition, Lane> lanes_;
  size_t held_ = 0;
  uint64_t released_over_bound_ = 0;
};

}  // namespace streamrec::pipeline
