// RetailRocket events.csv: timestamp,visitorid,event,itemid,transactionid
// with a header; timestamp in milliseconds. view and addtocart are clicks,
// transaction is a purchase (no amount in this file). Categories live in the
// separate item_properties files, so the catalog has ids only.
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

}  // namespace streamrec::datasets
