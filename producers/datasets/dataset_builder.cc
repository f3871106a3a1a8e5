#include "producers/datasets/dataset_builder.h"

#include <csv.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <fstream>

namespace streamrec::datasets {

namespace {

std::string quoted(std::string_view field) {
  constexpr size_t kShown = 40;
  std::string s = "\"" + std::string(field.substr(0, kShown));
  return s + (field.size() > kShown ? "...\"" : "\"");
}

bool read_digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  auto [end, ec] = std::from_chars(s.data() + pos, s.data() + pos + n, out);
  return ec == std::errc() && end == s.data() + pos + n;
}

// YYYY-MM-DD[T ]HH:MM:SS[.fff][Z| UTC| +00:00]
std::optional<int64_t> parse_iso_ms(std::string_view s) {
  int y, mo, d, h, mi, sec;
  if (!read_digits(s, 0, 4, y) || s.size() < 19 || s[4] != '-' || !read_digits(s, 5, 2, mo) || s[7] != '-' ||
      !read_digits(s, 8, 2, d) || (s[10] != ' ' && s[10] != 'T') || !read_digits(s, 11, 2, h) || s[13] != ':' ||
      !read_digits(s, 14, 2, mi) || s[16] != ':' || !read_digits(s, 17, 2, sec))
    return std::nullopt;
  size_t pos = 19;
  int64_t ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    int64_t scale = 100;
    for (++pos; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos, scale /= 10) ms += (s[pos] - '0') * scale;
  }
  std::string_view zone = s.substr(pos);
  if (!(zone.empty() || zone == "Z" || zone == " UTC" || zone == "+00:00" || zone == " +00:00")) return std::nullopt;
  using namespace std::chrono;
  year_month_day date{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!date.ok() || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  int64_t days = sys_days(date).time_since_epoch().count();
  return ((days * 24 + h) * 60 + mi) * 60'000 + sec * 1000 + ms;
}

}  // namespace

Parsed<int64_t> parse_int(std::string_view field, std::string_view column) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
  if (field.empty() || ec != std::errc() || end != field.data() + field.size())
    return Error{std::string(column) + ": " + quoted(field) + " is not an integer"};
  return v;
}

Parsed<double> parse_number(std::string_view field, std::string_view column) {
  double v = 0;
  auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
  if (field.empty() || ec != std::errc() || end != field.data() + field.size() || !std::isfinite(v))
    return Error{std::string(column) + ": " + quoted(field) + " is not a number"};
  if (v < 0) return Error{std::string(column) + ": " + quoted(field) + " is negative"};
  if (v > kMaxAmount) return Error{std::string(column) + ": " + quoted(field) + " is above 1e9"};
  return v;
}

Parsed<int64_t> parse_time(std::string_view field, std::string_view unit, std::string_view column) {
  int64_t ms = 0;
  if (unit == "iso") {
    auto t = parse_iso_ms(field);
    if (!t) return Error{std::string(column) + ": " + quoted(field) + " is not a UTC time like 2019-10-01 00:00:04 UTC"};
    ms = *t;
  } else {
    auto v = parse_int(field, column);
    if (!v.ok()) return v.error();
    constexpr int64_t kMaxSeconds = kMaxTimestampMs / 1000;
    if (unit == "s" && (*v > kMaxSeconds || *v < -kMaxSeconds))
      return Error{std::string(column) + ": " + quoted(field) + " is after the year 9999"};
    ms = unit == "s" ? *v * 1000 : *v;
  }
  if (ms < 0) return Error{std::string(column) + ": " + quoted(field) + " is before 1970"};
  if (ms > kMaxTimestampMs) return Error{std::string(column) + ": " + quoted(field) + " is after the year 9999"};
  return ms;
}

Parsed<std::string_view> parse_id(std::string_view field, std::string_view column) {
  if (field.empty()) return Error{std::string(column) + ": empty"};
  if (field.size() > kMaxIdBytes) return Error{std::string(column) + ": longer than 128 bytes"};
  return field;
}

DatasetBuilder::DatasetBuilder(DatasetFormat format, const DatasetOptions& options)
    : format_(format), options_(options) {}

void DatasetBuilder::add_event(EventType type, std::string_view user, std::string_view item, int64_t ts_ms,
                               std::optional<double> value) {
  Event e;
  e.event_id = std::string(to_string(format_)) + ":" + std::to_string(line_);
  e.type = type;
  e.user_id = user;
  e.item_id = item;
  e.ts_ms = ts_ms;
  e.value = value;
  if (ts_ms < max_ts_) ++dataset_.stats.out_of_order;
  max_ts_ = std::max(max_ts_, ts_ms);
  (type == EventType::kImpression ? dataset_.stats.impressions
   : type == EventType::kClick    ? dataset_.stats.clicks
                                  : dataset_.stats.purchases)++;
  dataset_.events.push_back(std::move(e));
}

void DatasetBuilder::add_item(std::string_view item_id, int64_t ts_ms, std::string_view category,
                              std::string_view brand, std::optional<double> price) {
  auto [it, fresh] = item_index_.try_emplace(std::string(item_id), items_.size());
  if (fresh) {
    items_.emplace_back();
    items_.back().entry.item.item_id = item_id;
    items_.back().entry.item.ts_ms = ts_ms;
  }
  ItemState& s = items_[it->second];
  s.entry.item.ts_ms = std::min(s.entry.item.ts_ms, ts_ms);
  if (ts_ms < s.attributes_ts) return;  // an older row than the one that set them
  s.attributes_ts = ts_ms;
  if (!category.empty()) s.entry.item.category = category;
  if (!brand.empty()) s.entry.item.brand = brand;
  if (price) s.entry.item.price = *price;
}

std::optional<Error> DatasetBuilder::reject(const std::string& path, std::string message) {
  DatasetStats& stats = dataset_.stats;
  ++stats.rejected_rows;
  if (options_.strict) return Error{path + ":" + std::to_string(line_) + ": " + message};
  if (stats.rejected.size() < options_.max_rejected_kept) stats.rejected.push_back({line_, std::move(message), {}});
  return std::nullopt;
}

Dataset DatasetBuilder::finish() {
  if (dataset_.stats.out_of_order > 0) {
    std::stable_sort(dataset_.events.begin(), dataset_.events.end(),
                     [](const Event& a, const Event& b) { return a.ts_ms < b.ts_ms; });
  }
  dataset_.items.reserve(items_.size());
  for (ItemState& s : items_) dataset_.items.push_back(std::move(s.entry));
  return std::move(dataset_);
}

namespace {

// libcsv's callbacks collect one line's fields.
struct Fields {
  std::vector<std::string> values;
  bool row_ended = false;
};

void on_field(void* data, size_t len, void* fields) {
  static_cast<Fields*>(fields)->values.emplace_back(static_cast<const char*>(data), len);
}
void on_row(int, void* fields) { static_cast<Fields*>(fields)->row_ended = true; }

// A libcsv parser, owned.
class CsvLineParser {
 public:
  explicit CsvLineParser(char delimiter) {
    csv_init(&parser_, CSV_STRICT | CSV_STRICT_FINI);
    csv_set_delim(&parser_, static_cast<unsigned char>(delimiter));
  }
  ~CsvLineParser() { csv_free(&parser_); }
  CsvLineParser(const CsvLineParser&) = delete;
  CsvLineParser& operator=(const CsvLineParser&) = delete;

  // Splits one line (quoted fields may not span lines); false when the
  // quoting is broken.
  bool split(std::string_view line, std::vector<std::string>& out) {
    Fields fields;
    bool ok = csv_parse(&parser_, line.data(), line.size(), on_field, on_row, &fields) == line.size();
    ok = csv_fini(&parser_, on_field, on_row, &fields) == 0 && ok;
    out = std::move(fields.values);
    return ok;
  }

 private:
  csv_parser parser_;
};

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}

}  // namespace

Result<Dataset> read_csv_dataset(const std::string& path, DatasetFormat format, const DatasetOptions& options,
                                 CsvAdapter adapter) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path + ": cannot be opened"};
  DatasetBuilder builder(format, options);
  CsvLineParser parser(adapter.delimiter);
  std::vector<std::string> fields;
  bool header_pending = !adapter.header.empty() || adapter.read_header != nullptr;
  int64_t line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    bool split = parser.split(line, fields);
    if (header_pending) {
      header_pending = false;
      if (!split) return Error{path + ":1: the header's quoting is broken"};
      std::optional<std::string> problem;
      if (adapter.read_header) problem = adapter.read_header(fields);
      else if (fields != adapter.header)
        problem = "expected the header " + join(adapter.header) + ", found " + line.substr(0, 200);
      if (problem) return Error{path + ":" + std::to_string(line_number) + ": " + *problem};
      continue;
    }
    builder.start_row(line_number);
    std::optional<std::string> problem;
    if (!split) problem = "broken quoting";
    else if (fields.size() < adapter.min_columns)
      problem = std::to_string(fields.size()) + " columns, expected " + std::to_string(adapter.min_columns);
    else problem = adapter.map_row(fields, builder);
    if (problem)
      if (auto fail = builder.reject(path, std::move(*problem))) return *fail;
  }
  if (in.bad()) return Error{path + ": read error"};
  if (header_pending) return Error{path + ": empty, expected the header " + join(adapter.header)};
  return builder.finish();
}

}  // namespace streamrec::datasets
