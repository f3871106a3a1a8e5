// What each user viewed and bought lately, as the candidate sources and the
// re-consumption policy read it: the last `viewed_capacity` distinct items
// viewed (clicked), newest first, each with the time of its latest view and
// how often it was viewed while kept; and the last `bought_capacity`
// distinct items bought, newest first. Impressions are not views.
//
// A plain value: not thread-safe, never fails; users are kept for the life
// of the object (and in save()/load(); load() returns false on damaged
// bytes, the reader naming the error).
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>

#include "core/event.h"
#include "online_learner/byte_io.h"

namespace streamrec::ranking {

struct ViewedItem {
  std::string item_id;
  int64_t ts_ms = 0;    // of the latest view
  uint32_t views = 0;   // views while in the list
};

struct UserHistory {
  std::deque<ViewedItem> viewed;   // distinct, newest first
  std::deque<std::string> bought;  // distinct, newest first

  bool has_bought(const std::string& item_id) const;
  bool has_viewed(const std::string& item_id) const;
};

class UserHistories {
 public:
  UserHistories(size_t viewed_capacity, size_t bought_capacity)
      : viewed_capacity_(viewed_capacity), bought_capacity_(bought_capacity) {}
  // A copy of `other`'s users holding at most these capacities (the newest).
  UserHistories(const UserHistories& other, size_t viewed_capacity, size_t bought_capacity);

  // Takes a click (a view) or a purchase in; other events change nothing.
  void observe(const Event& event);
  // Drops the user's history; true when there was one.
  bool erase(const std::string& user_id) { return users_.erase(user_id) > 0; }
  // The user's history; nullptr for a user with no view or purchase yet.
  const UserHistory* find(const std::string& user_id) const;
  size_t users() const { return users_.size(); }

  void save(learner::ByteWriter& out) const;
  bool load(learner::ByteReader& in);

 private:
  size_t viewed_capacity_, bought_capacity_;
  std::unordered_map<std::string, UserHistory> users_;
};

}  // namespace streamrec::ranking
