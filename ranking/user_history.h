// What each user viewed and bought lately, as the candidate sources and the
// re-consumption policy read it: the last `viewed_capacity` distinct items
// viewed (clicked), newest first, each with the time of its latest view and
// how often it was viewed while kept; and the last `bought_capacity`
// distinct items bought, newest first. Impressions are not views.
//
// At most `max_users` users are kept: beyond, the user whose last view or
// purchase is the oldest is forgotten (evicted_users()).
//
// A plain value: not thread-safe, never fails; save()/load() carry the
// users and their recency (load() returns false on damaged bytes, the
// reader naming the error).
#pragma once

#include <cstdint>
#include <vector>
#include <string>

#include "core/least_recent.h"

#include "core/event.h"
#include "online_learner/byte_io.h"

namespace streamrec::ranking {

struct ViewedItem {
  std::string item_id;
  int64_t ts_ms = 0;    // of the latest view
  uint32_t views = 0;   // views while in the list
};

struct UserHistory {
  // Vectors, not deques: a handful of entries each, and a deque allocates
  // ~600 bytes even for one (per user, per copy: learner.max_users of them).
  std::vector<ViewedItem> viewed;   // distinct, newest first
  std::vector<std::string> bought;  // distinct, newest first

  bool has_bought(const std::string& item_id) const;
  bool has_viewed(const std::string& item_id) const;
};

class UserHistories {
 public:
  UserHistories(size_t viewed_capacity, size_t bought_capacity, size_t max_users = 1'000'000)
      : viewed_capacity_(viewed_capacity), bought_capacity_(bought_capacity),
        max_users_(max_users < 1 ? 1 : max_users) {}
  // A copy of `other`'s users holding at most these capacities (the newest),
  // with other's bound and recency.
  UserHistories(const UserHistories& other, size_t viewed_capacity, size_t bought_capacity);

  // Takes a click (a view) or a purchase in; other events change nothing.
  void observe(const Event& event);
  // The user's history; nullptr for a user with no view or purchase yet.
  const UserHistory* find(const std::string& user_id) const;
  size_t users() const { return users_.size(); }
  // Forgets `user_id`; false when it was not kept.
  bool erase(const std::string& user_id) { return users_.erase(user_id); }
  uint64_t evicted_users() const { return evicted_users_; }  // past max_users, since construction

  void save(learner::ByteWriter& out) const;
  bool load(learner::ByteReader& in);

 private:
  // The user's history, now the most recent, evicting beyond max_users_.
  UserHistory& touch(const std::string& user_id);

  size_t viewed_capacity_, bought_capacity_, max_users_;
  LeastRecentMap<std::string, UserHistory> users_;  // least recently active first
  uint64_t evicted_users_ = 0;
};

}  // namespace streamrec::ranking
