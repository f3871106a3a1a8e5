// Inside the dataset adapters: what every format shares. CsvAdapter says how
// one format's rows become events; read_csv_dataset runs it over a file;
// DatasetBuilder collects the events and the catalog the rows make, and the
// field parsers turn a column into a value or a message naming the column.
// Not part of the interface (dataset.h is); not thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "producers/datasets/dataset.h"

namespace streamrec::datasets {

// A value or the reason the field is malformed.
template <class T>
using Parsed = Result<T>;

Parsed<int64_t> parse_int(std::string_view field, std::string_view column);
Parsed<double> parse_number(std::string_view field, std::string_view column);  // finite, 0 – 1e9
// ms since epoch from seconds (unit "s"), milliseconds ("ms") or an ISO-like
// UTC time ("iso": 2019-10-01 00:00:04 UTC, 2019-10-01T00:00:04.250Z).
Parsed<int64_t> parse_time(std::string_view field, std::string_view unit, std::string_view column);
// An id: 1–128 bytes.
Parsed<std::string_view> parse_id(std::string_view field, std::string_view column);

class DatasetBuilder {
 public:
  DatasetBuilder(DatasetFormat format, const DatasetOptions& options);

  // Called by read_csv_dataset before each row.
  void start_row(int64_t line) { line_ = line; ++dataset_.stats.rows; }
  // The current row becomes one event ("<format>:<line>").
  void add_event(EventType type, std::string_view user, std::string_view item, int64_t ts_ms,
                 std::optional<double> value = std::nullopt);
  // The current row names an item; category/brand/price replace earlier ones
  // when this row is not older than the row that set them. Empty strings and
  // nullopt leave what is known.
  void add_item(std::string_view item_id, int64_t ts_ms, std::string_view category = {},
                std::string_view brand = {}, std::optional<double> price = std::nullopt);
  // The current row is a known behaviour that maps to no event.
  void skip(std::string_view behavior) { ++dataset_.stats.skipped[std::string(behavior)]; }
  // The current row is malformed. Returns the Error to fail with when strict.
  std::optional<Error> reject(const std::string& path, std::string message);

  // Sorts by event time (noting disorder) and hands the dataset over.
  Dataset finish();

 private:
  struct ItemState {
    DatasetItem entry;
    int64_t attributes_ts = INT64_MIN;
    bool first_ts_set = false;
  };
  DatasetFormat format_;
  const DatasetOptions& options_;
  int64_t line_ = 0;
  int64_t max_ts_ = INT64_MIN;
  Dataset dataset_;
  std::vector<ItemState> items_;
  std::unordered_map<std::string, size_t> item_index_;
};

// One CSV format: its header (empty: the file has none), the fewest columns
// a row needs, and how a row's fields become events. map_row returns a
// message when the row is malformed (and then must not have called add_*).
struct CsvAdapter {
  std::vector<std::string> header;
  size_t min_columns = 0;
  char delimiter = ',';
  // Set from the header when the mapping is by column name (kCsv); the
  // default checks the header equals `header`.
  std::function<std::optional<std::string>(const std::vector<std::string>& header_fields)> read_header;
  std::function<std::optional<std::string>(const std::vector<std::string>& fields, DatasetBuilder& out)> map_row;
};

Result<Dataset> read_csv_dataset(const std::string& path, DatasetFormat format, const DatasetOptions& options,
                                 CsvAdapter adapter);

CsvAdapter taobao_adapter();
CsvAdapter rees46_adapter();
CsvAdapter retailrocket_adapter();
CsvAdapter movielens_adapter();
// The item files of the formats whose events name items only: their rows
// make no events, only items with attributes (DatasetOptions::items_path).
CsvAdapter retailrocket_items_adapter();
CsvAdapter movielens_items_adapter();
Result<CsvAdapter> mapped_csv_adapter(const CsvColumns& columns);

}  // namespace streamrec::datasets
