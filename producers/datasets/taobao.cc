// Tianchi UserBehavior.csv (Taobao): user,item,category,behavior,ts with no
// header; ts in seconds. pv (page view), cart and fav are clicks: each says
// the user chose to look at or keep the item, and the stream has no
// impressions for them to join; buy is a purchase (the log has no amount).
#include "producers/datasets/dataset_builder.h"

namespace streamrec::datasets {

CsvAdapter taobao_adapter() {
  CsvAdapter a;
  a.min_columns = 5;
  a.map_row = [](const std::vector<std::string>& f, DatasetBuilder& out) -> std::optional<std::string> {
    auto user = parse_id(f[0], "user");
    if (!user.ok()) return user.error().message;
    auto item = parse_id(f[1], "item");
    if (!item.ok()) return item.error().message;
    if (f[2].size() > kMaxIdBytes) return "category: longer than 128 bytes";
    auto ts = parse_time(f[4], "s", "ts");
    if (!ts.ok()) return ts.error().message;
    const std::string& behavior = f[3];
    EventType type;
    if (behavior == "pv" || behavior == "cart" || behavior == "fav") type = EventType::kClick;
    else if (behavior == "buy") type = EventType::kPurchase;
    else return "behavior: \"" + behavior.substr(0, 40) + "\" is not pv, cart, fav or buy";
    out.add_item(*item, *ts, f[2]);
    out.add_event(type, *user, *item, *ts);
    return std::nullopt;
  };
  return a;
}

}  // namespace streamrec::datasets
