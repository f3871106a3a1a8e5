// A user's recent clicks as the model sees them: item ids, newest first, at
// most `cap`, every click counted (an item clicked twice is there twice and
// weighs twice in the bag's mean embedding).
//
// One owner per process: whoever keeps the users' real-time state. In
// `streamrec learn` that is the pipeline's consumer side
// (ranking::RealtimeUser), which ranks with the bag and hands the learner,
// with each event, the bag as it was just before it (EventWithRecentClicks):
// a sample is trained with exactly the bag its user's rankings were scored
// with. A learner given events alone (`train`) keeps them in its own
// RecentClicksBook. The joiner keeps none; each impression keeps a snapshot.
// (Dropping repeats instead measured worse on the REES46 sample: hit rate@10
// 0.3801 against 0.3865, docs/evaluation.md.)
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/event.h"
#include "core/least_recent.h"

namespace streamrec::learner {

class ByteWriter;
class ByteReader;

// A vector, not a deque: `cap` is a handful, and a deque allocates ~600
// bytes even for one item (one bag per user: learner.max_users of them).
using RecentClicks = std::vector<std::string>;

inline void remember_click(RecentClicks& recent, const std::string& item_id, int64_t cap) {
  if (cap <= 0) return;
  recent.insert(recent.begin(), item_id);
  while (static_cast<int64_t>(recent.size()) > cap) recent.pop_back();
}

// Which events the learner needs the bag of: an impression snapshots it, a
// click with sampled negatives stands for its own impression.
inline bool needs_recent_clicks(const Event& event) {
  return event.type == EventType::kImpression || event.type == EventType::kClick;
}

// An event and its user's recent clicks just before it (empty unless
// needs_recent_clicks): what the pipeline hands the learner.
struct EventWithRecentClicks {
  Event event;
  RecentClicks recent_clicks;
};

// The bags of a learner given events alone: at most `max_users` users (at
// least 1), the one whose last event is the oldest forgotten first. Plain
// value, not thread-safe.
class RecentClicksBook {
 public:
  RecentClicksBook(int64_t cap, int64_t max_users) : cap_(cap), max_users_(static_cast<size_t>(std::max<int64_t>(1, max_users))) {}

  // `user_id`'s bag (empty if none), the user now the most recent if kept.
  RecentClicks of(const std::string& user_id);
  // Remembers the click (nothing when cap <= 0), evicting beyond max_users.
  void remember(const Event& click);
  // Forgets the user's bag; false when there was none.
  bool erase(const std::string& user_id) { return bags_.erase(user_id); }
  size_t users() const { return bags_.size(); }
  uint64_t evicted_users() const { return evicted_users_; }  // since construction; not checkpointed

  void save(ByteWriter& out) const;
  void load(ByteReader& in);  // errors: in.ok() turns false

 private:
  int64_t cap_;
  size_t max_users_;
  LeastRecentMap<std::string, RecentClicks> bags_;  // least recently active first
  uint64_t evicted_users_ = 0;
};

}  // namespace streamrec::learner
