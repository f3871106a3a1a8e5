#include "ranking/user_history.h"

#include <algorithm>
#include <vector>

namespace streamrec::ranking {

bool UserHistory::has_bought(const std::string& item_id) const {
  return std::find(bought.begin(), bought.end(), item_id) != bought.end();
}

bool UserHistory::has_viewed(const std::string& item_id) const {
  return std::any_of(viewed.begin(), viewed.end(), [&](const ViewedItem& v) { return v.item_id == item_id; });
}

UserHistories::UserHistories(const UserHistories& other, size_t viewed_capacity, size_t bought_capacity)
    : viewed_capacity_(viewed_capacity), bought_capacity_(bought_capacity), max_users_(other.max_users_) {
  other.users_.for_each_oldest_first([&](const std::string& user_id, const UserHistory& history) {
    UserHistory copy;
    copy.viewed.assign(history.viewed.begin(),
                       history.viewed.begin() + static_cast<std::ptrdiff_t>(std::min(viewed_capacity, history.viewed.size())));
    copy.bought.assign(history.bought.begin(),
                       history.bought.begin() + static_cast<std::ptrdiff_t>(std::min(bought_capacity, history.bought.size())));
    if (!copy.viewed.empty() || !copy.bought.empty()) users_.touch(user_id) = std::move(copy);
  });
}

UserHistory& UserHistories::touch(const std::string& user_id) {
  UserHistory& history = users_.touch(user_id);
  while (users_.size() > max_users_) {  // never `history`: it is the most recent
    users_.pop_least_recent();
    ++evicted_users_;
  }
  return history;
}

void UserHistories::observe(const Event& event) {
  if (event.type == EventType::kClick) {
    if (viewed_capacity_ == 0) return;
    auto& viewed = touch(event.user_id).viewed;
    ViewedItem item{event.item_id, event.ts_ms, 1};
    auto it = std::find_if(viewed.begin(), viewed.end(), [&](const ViewedItem& v) { return v.item_id == event.item_id; });
    if (it != viewed.end()) {
      item.views = it->views + 1;
      item.ts_ms = std::max(it->ts_ms, event.ts_ms);
      viewed.erase(it);
    }
    viewed.insert(viewed.begin(), std::move(item));
    if (viewed.size() > viewed_capacity_) viewed.pop_back();
  } else if (event.type == EventType::kPurchase) {
    if (bought_capacity_ == 0) return;
    auto& bought = touch(event.user_id).bought;
    bought.erase(std::remove(bought.begin(), bought.end(), event.item_id), bought.end());
    bought.insert(bought.begin(), event.item_id);
    if (bought.size() > bought_capacity_) bought.pop_back();
  }
}

const UserHistory* UserHistories::find(const std::string& user_id) const {
  return users_.find(user_id);
}

void UserHistories::save(learner::ByteWriter& out) const {
  // Least recently active first (deterministic bytes: the recency is a
  // function of the events); load() touches them back in this order.
  // Checkpoints written before the bound existed list them by id.
  out.u64(users_.size());
  users_.for_each_oldest_first([&](const std::string& user_id, const UserHistory& user) {
    out.str(user_id);
    out.u64(user.viewed.size());
    for (const ViewedItem& v : user.viewed) {
      out.str(v.item_id);
      out.i64(v.ts_ms);
      out.u32(v.views);
    }
    out.u64(user.bought.size());
    for (const std::string& b : user.bought) out.str(b);
  });
}

bool UserHistories::load(learner::ByteReader& in) {
  users_.clear();
  const uint64_t n = in.u64();
  for (uint64_t i = 0; i < n && in.ok(); ++i) {
    UserHistory& user = users_.touch(in.str());
    const uint64_t viewed = in.u64();
    for (uint64_t j = 0; j < viewed && in.ok(); ++j) {
      ViewedItem v;
      v.item_id = in.str();
      v.ts_ms = in.i64();
      v.views = in.u32();
      user.viewed.push_back(std::move(v));
    }
    const uint64_t bought = in.u64();
    for (uint64_t j = 0; j < bought && in.ok(); ++j) user.bought.push_back(in.str());
  }
  while (users_.size() > max_users_) users_.pop_least_recent();  // saved under a larger bound
  return in.ok();
}

}  // namespace streamrec::ranking
