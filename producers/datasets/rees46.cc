// REES46 "eCommerce behavior data from multi category store" (2019-Oct.csv
// and its siblings): event_time,event_type,product_id,category_id,
// category_code,brand,price,user_id,user_session with a header; event_time
// is "2019-10-01 00:00:00 UTC". view and cart are clicks, purchase is a
// purchase worth the row's price; remove_from_cart is counted as skipped.
// The item's category is category_code (e.g. electronics.smartphone), or
// category_id when that is empty; brand and price come from the same rows.
#include "producers/datasets/dataset_builder.h"

namespace streamrec::datasets {

CsvAdapter rees46_adapter() {
  CsvAdapter a;
  a.header = {"event_time", "event_type", "product_id", "category_id", "category_code",
              "brand",      "price",      "user_id",    "user_session"};
  a.min_columns = 8;  // user_session may be missing: the learner does not use it
  a.map_row = [](const std::vector<std::string>& f, DatasetBuilder& out) -> std::optional<std::string> {
    auto ts = parse_time(f[0], "iso", "event_time");
    if (!ts.ok()) return ts.error().message;
    auto item = parse_id(f[2], "product_id");
    if (!item.ok()) return item.error().message;
    auto user = parse_id(f[7], "user_id");
    if (!user.ok()) return user.error().message;
    const std::string& category = f[4].empty() ? f[3] : f[4];
    if (category.size() > kMaxIdBytes) return "category_code: longer than 128 bytes";
    if (f[5].size() > kMaxIdBytes) return "brand: longer than 128 bytes";
    std::optional<double> price;
    if (!f[6].empty()) {
      auto p = parse_number(f[6], "price");
      if (!p.ok()) return p.error().message;
      price = *p;
    }
    const std::string& type = f[1];
    if (type != "view" && type != "cart" && type != "purchase" && type != "remove_from_cart")
      return "event_type: \"" + type.substr(0, 40) + "\" is not view, cart, remove_from_cart or purchase";
    out.add_item(*item, *ts, category, f[5], price);
    if (type == "remove_from_cart") out.skip(type);
    else if (type == "purchase") out.add_event(EventType::kPurchase, *user, *item, *ts, price.value_or(0));
    else out.add_event(EventType::kClick, *user, *item, *ts);
    return std::nullopt;
  };
  return a;
}

}  // namespace streamrec::datasets
