// RetailRocket events.csv: timestamp,visitorid,event,itemid,transactionid
// with a header; timestamp in milliseconds. view and addtocart are clicks,
// transaction is a purchase (no amount in this file). Categories live in the
// separate item_properties files: given one (DatasetOptions::items_path),
// each item takes its latest `categoryid` from it.
#include "producers/datasets/dataset_builder.h"

namespace streamrec::datasets {

CsvAdapter retailrocket_adapter() {
  CsvAdapter a;
  a.header = {"timestamp", "visitorid", "event", "itemid", "transactionid"};
  a.min_columns = 4;
  a.map_row = [](const std::vector<std::string>& f, DatasetBuilder& out) -> std::optional<std::string> {
    auto ts = parse_time(f[0], "ms", "timestamp");
    if (!ts.ok()) return ts.error().message;
    auto user = parse_id(f[1], "visitorid");
    if (!user.ok()) return user.error().message;
    auto item = parse_id(f[3], "itemid");
    if (!item.ok()) return item.error().message;
    const std::string& event = f[2];
    EventType type;
    if (event == "view" || event == "addtocart") type = EventType::kClick;
    else if (event == "transaction") type = EventType::kPurchase;
    else return "event: \"" + event.substr(0, 40) + "\" is not view, addtocart or transaction";
    out.add_item(*item, *ts);
    out.add_event(type, *user, *item, *ts);
    return std::nullopt;
  };
  return a;
}

// item_properties.csv: timestamp,itemid,property,value, one property of
// one item at a time (most are hashed; `categoryid` is plain). Only the
// category is read; the other properties are skipped.
CsvAdapter retailrocket_items_adapter() {
  CsvAdapter a;
  a.header = {"timestamp", "itemid", "property", "value"};
  a.min_columns = 4;
  a.map_row = [](const std::vector<std::string>& f, DatasetBuilder& out) -> std::optional<std::string> {
    if (f[2] != "categoryid") return std::nullopt;
    auto ts = parse_time(f[0], "ms", "timestamp");
    if (!ts.ok()) return ts.error().message;
    auto item = parse_id(f[1], "itemid");
    if (!item.ok()) return item.error().message;
    auto category = parse_id(f[3], "value");
    if (!category.ok()) return category.error().message;
    out.add_item(*item, *ts, *category);
    return std::nullopt;
  };
  return a;
}

}  // namespace streamrec::datasets
