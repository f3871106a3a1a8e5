// Public behaviour logs read into the project's events and items: one
// interface, one adapter per format (docs/datasets.md has the mapping of each
// format's behaviours to events and the catalog it derives).
//
//   auto dataset = read_dataset("UserBehavior.csv", DatasetFormat::kTaobao, {});
//   if (!dataset.ok()) ... dataset.error().message ...
//   for (const Event& e : dataset->events) ...        // in event-time order
//   for (const DatasetItem& i : dataset->items) ...   // the derived catalog
//
// Guarantees:
//  - events are in event-time order (a stable sort: rows of equal ts keep
//    their file order). A file that was not in order is sorted, and
//    stats.out_of_order says how many rows went back in time (a warning is
//    logged too).
//  - Each event_id is "<format>:<line>" (1-based line of the file), so ids
//    are unique within a file and a row can be found from its event.
//  - items holds every item that any row named (also rows of a behaviour that
//    maps to no event), in order of first appearance in the file, with the
//    category, brand and price of the last row (in event time) that carried
//    them; Item::ts_ms is the item's first event time, available is true.
//  - A malformed row (too few columns, a bad number or time, an empty or too
//    long id, an unknown behaviour) becomes no event; it is counted in
//    stats.rejected_rows and listed with its line number in stats.rejected
//    (the first options.max_rejected_kept of them). With options.strict the
//    first one fails the whole read instead. Nothing is dropped silently: a
//    known behaviour that maps to no event (e.g. REES46 remove_from_cart) is
//    counted by name in stats.skipped.
//
// Errors: a file that cannot be opened or read, a header that is not the
// format's, or (strict) a malformed row, as an Error naming the file and line.
// Thread-safe: read_dataset keeps no state between calls.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/status.h"

namespace streamrec {

enum class DatasetFormat {
  kJsonl,         // the project's own events, one JSON object a line (docs/events.md)
  kTaobao,        // Tianchi UserBehavior.csv: user,item,category,behavior,ts (no header)
  kRetailRocket,  // events.csv: timestamp,visitorid,event,itemid,transactionid
  kRees46,        // event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session
  kMovieLens,     // ratings.csv: userId,movieId,rating,timestamp
  kCsv,           // any CSV, columns named by DatasetOptions::csv
};

// "jsonl", "taobao", "retailrocket", "rees46", "movielens", "csv".
Result<DatasetFormat> parse_dataset_format(std::string_view name);
std::string_view to_string(DatasetFormat format);
// The names parse_dataset_format accepts, for help texts: "jsonl, taobao, ...".
std::string_view dataset_format_names();
// The item file a format's events need for their items' categories
// ("item_properties.csv", "movies.csv": DatasetOptions::items_path), or
// nullptr when its events file carries them.
const char* needed_item_file(DatasetFormat format);

// The generic CSV's column mapping (format kCsv).
struct CsvColumns {
  bool header = true;     // with a header, columns are named; without, numbered from 1 ("1", "2", ...)
  char delimiter = ',';
  std::string user = "user_id";
  std::string item = "item_id";
  std::string ts = "ts";
  std::string ts_unit = "s";  // "s", "ms", or "iso" (YYYY-MM-DD[T ]HH:MM:SS[.fff][Z| UTC])
  std::string behavior;       // optional: the column whose value `behaviors` maps; none = every row a click
  std::string category, brand, price, value;  // optional columns
  // behaviour value -> "click", "purchase", "impression" or "skip"; a value
  // not listed is a malformed row.
  std::map<std::string, std::string> behaviors = {{"view", "click"}, {"click", "click"}, {"purchase", "purchase"}};
};

// CsvColumns from the two config strings producer.csv_columns
// ("user=visitor,item=sku,ts=time,ts_unit=ms,behavior=action,category=cat,
// brand=,price=,value=,header=true,delimiter=semicolon"; keys not given keep
// their defaults; delimiter is comma, semicolon, tab, pipe or one other
// character) and producer.csv_behaviors ("view=click,buy=purchase,x=skip";
// empty keeps the default). An Error names the setting and the bad part.
Result<CsvColumns> parse_csv_columns(std::string_view columns, std::string_view behaviors);

struct DatasetOptions {
  bool strict = false;                 // the first malformed row fails the read
  size_t max_rejected_kept = 100;      // how many malformed rows stats.rejected lists
  // The file that describes the items (optional): kJsonl an items JSONL;
  // kRetailRocket its item_properties.csv (each item's latest categoryid);
  // kMovieLens its movies.csv (the genres as the category). The catalog is
  // still the items the events name, with these attributes. Other formats
  // carry their attributes in the events file and refuse one.
  std::string items_path;
  CsvColumns csv;                      // kCsv only
};

struct DatasetItem {
  Item item;  // item_id, category, brand ("" when the format has none), price, available = true, ts_ms = first event time
};

struct RejectedRow {
  int64_t line = 0;     // 1-based line of the file
  std::string message;  // e.g. "price: \"abc\" is not a number"
  std::string file;     // "": the events file; else the item file (DatasetOptions::items_path) it is in
};

struct DatasetStats {
  int64_t rows = 0;            // data rows read (not the header, not blank lines)
  int64_t rejected_rows = 0;   // malformed rows, no event made
  std::vector<RejectedRow> rejected;           // the first max_rejected_kept of them
  std::map<std::string, int64_t> skipped;      // behaviour -> rows that map to no event
  int64_t out_of_order = 0;    // rows whose ts is below an earlier row's (then sorted)
  int64_t impressions = 0, clicks = 0, purchases = 0;
};

struct Dataset {
  std::vector<Event> events;       // in event-time order
  std::vector<DatasetItem> items;  // in order of first appearance
  DatasetStats stats;
};

// Reads the whole file. See the top of this header for what the result
// guarantees and how failures show.
Result<Dataset> read_dataset(const std::string& path, DatasetFormat format, const DatasetOptions& options = {});

// Only the catalog of a file: for kJsonl an items file (one item object a
// line, docs/events.md; a bad line is an Error with its line number), for
// the other formats the items read_dataset derives from the events file.
Result<std::vector<DatasetItem>> read_catalog(const std::string& path, DatasetFormat format,
                                              const DatasetOptions& options = {});

// One line for a user: "12 rows rejected (first: line 7: ...), 3 skipped
// (remove_from_cart 3), 40 rows out of event-time order (sorted)"; "" when
// there is nothing to say.
std::string describe_problems(const DatasetStats& stats);

}  // namespace streamrec
