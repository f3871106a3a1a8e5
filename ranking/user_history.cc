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
    : viewed_capacity_(viewed_capacity), bought_capacity_(bought_capacity) {
  for (const auto& [user_id, history] : other.users_) {
    UserHistory copy;
    copy.viewed.assign(history.viewed.begin(),
                       history.viewed.begin() + static_cast<std::ptrdiff_t>(std::min(viewed_capacity, history.viewed.size())));
    copy.bought.assign(history.bought.begin(),
                       history.bought.begin() + static_cast<std::ptrdiff_t>(std::min(bought_capacity, history.bought.size())));
    if (!copy.viewed.empty() || !copy.bought.empty()) users_.emplace(user_id, std::move(copy));
  }
}

void UserHistories::observe(const Event& event) {
  if (event.type == EventType::kClick) {
    if (viewed_capacity_ == 0) return;
    auto& viewed = users_[event.user_id].viewed;
    ViewedItem item{event.item_id, event.ts_ms, 1};
    auto it = std::find_if(viewed.begin(), viewed.end(), [&](const ViewedItem& v) { return v.item_id == event.item_id; });
    if (it != viewed.end()) {
      item.views = it->views + 1;
      item.ts_ms = std::max(it->ts_ms, event.ts_ms);
      viewed.erase(it);
    }
    viewed.push_front(std::move(item));
    if (viewed.size() > viewed_capacity_) viewed.pop_back();
  } else if (event.type == EventType::kPurchase) {
    if (bought_capacity_ == 0) return;
    auto& bought = users_[event.user_id].bought;
    bought.erase(std::remove(bought.begin(), bought.end(), event.item_id), bought.end());
    bought.push_front(event.item_id);
    if (bought.size() > bought_capacity_) bought.pop_back();
  }
}

const UserHistory* UserHistories::find(const std::string& user_id) const {
  auto it = users_.find(user_id);
  return it == users_.end() ? nullptr : &it->second;
}

void UserHistories::save(learner::ByteWriter& out) const {
  std::vector<const std::pair<const std::string, UserHistory>*> users;
  for (auto& entry : users_) users.push_back(&entry);
  std::sort(users.begin(), users.end(), [](auto* a, auto* b) { return a->first < b->first; });  // deterministic bytes
  out.u64(users.size());
  for (auto* user : users) {
    out.str(user->first);
    out.u64(user->second.viewed.size());
    for (const ViewedItem& v : user->second.viewed) {
      out.str(v.item_id);
      out.i64(v.ts_ms);
      out.u32(v.views);
    }
    out.u64(user->second.bought.size());
    for (const std::string& b : user->second.bought) out.str(b);
  }
}

bool UserHistories::load(learner::ByteReader& in) {
  users_.clear();
  const uint64_t n = in.u64();
  for (uint64_t i = 0; i < n && in.ok(); ++i) {
    UserHistory& user = users_[in.str()];
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
  return in.ok();
}

}  // namespace streamrec::ranking
