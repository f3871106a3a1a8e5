#include "online_learner/recent_clicks.h"

#include "online_learner/byte_io.h"

namespace streamrec::learner {

RecentClicks RecentClicksBook::of(const std::string& user_id) {
  const RecentClicks* bag = bags_.touch_if_present(user_id);
  return bag ? *bag : RecentClicks{};
}

void RecentClicksBook::remember(const Event& click) {
  if (cap_ <= 0) return;
  remember_click(bags_.touch(click.user_id), click.item_id, cap_);
  while (bags_.size() > max_users_) {
    bags_.pop_least_recent();
    ++evicted_users_;
  }
}

// The joiner's format before the book left it (so checkpoints of either
// read back): the count, then each user, least recently active first, with
// their items; load() touches them back in that order.
void RecentClicksBook::save(ByteWriter& out) const {
  out.u64(bags_.size());
  bags_.for_each_oldest_first([&](const std::string& user, const RecentClicks& items) {
    out.str(user);
    out.u32(static_cast<uint32_t>(items.size()));
    for (const std::string& i : items) out.str(i);
  });
}

void RecentClicksBook::load(ByteReader& in) {
  bags_.clear();
  const uint64_t n = in.u64();
  for (uint64_t i = 0; i < n && in.ok(); ++i) {
    RecentClicks& items = bags_.touch(in.str());
    const uint32_t m = in.u32();
    for (uint32_t j = 0; j < m && in.ok(); ++j) items.push_back(in.str());
  }
  while (bags_.size() > max_users_) bags_.pop_least_recent();  // saved under a larger bound
}

}  // namespace streamrec::learner
