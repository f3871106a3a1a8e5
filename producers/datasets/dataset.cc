// read_dataset: the project's JSONL here, the CSV formats through their
// adapters (one file each) and read_csv_dataset.
#include "producers/datasets/dataset.h"

#include <spdlog/spdlog.h>

#include <fstream>

#include "producers/datasets/dataset_builder.h"

namespace streamrec {

namespace {

constexpr std::pair<std::string_view, DatasetFormat> kFormats[] = {
    {"jsonl", DatasetFormat::kJsonl},   {"taobao", DatasetFormat::kTaobao},
    {"retailrocket", DatasetFormat::kRetailRocket}, {"rees46", DatasetFormat::kRees46},
    {"movielens", DatasetFormat::kMovieLens}, {"csv", DatasetFormat::kCsv}};

// The project's events: decoded as the consumer would (no clock check); a
// line the decoder refuses is a malformed row with the decoder's message.
Result<Dataset> read_jsonl(const std::string& path, const DatasetOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path + ": cannot be opened"};
  Dataset d;
  EventDecoder decoder;
  std::unordered_map<std::string, size_t> item_index;
  auto note_item = [&](const Item& item, bool replace) {
    auto [it, fresh] = item_index.try_emplace(item.item_id, d.items.size());
    if (fresh) d.items.push_back({item});
    else if (replace) d.items[it->second].item = item;
  };
  auto reject = [&](int64_t line, std::string message) -> std::optional<Error> {
    ++d.stats.rejected_rows;
    if (options.strict) return Error{path + ":" + std::to_string(line) + ": " + message};
    if (d.stats.rejected.size() < options.max_rejected_kept) d.stats.rejected.push_back({line, std::move(message), {}});
    return std::nullopt;
  };
  if (!options.items_path.empty()) {
    std::ifstream items(options.items_path, std::ios::binary);
    if (!items) return Error{options.items_path + ": cannot be opened"};
    int64_t n = 0;
    for (std::string line; std::getline(items, line);) {
      ++n;
      if (line.empty()) continue;
      auto item = decoder.decode_item(line);
      if (auto* i = std::get_if<Item>(&item)) note_item(*i, true);
      else return Error{options.items_path + ":" + std::to_string(n) + ": " + std::get<DecodeError>(item).message};
    }
  }
  int64_t line_number = 0, max_ts = INT64_MIN;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (line.empty()) continue;
    ++d.stats.rows;
    auto decoded = decoder.decode_event(line);
    auto* e = std::get_if<Event>(&decoded);
    if (e == nullptr) {
      if (auto fail = reject(line_number, std::get<DecodeError>(decoded).message)) return *fail;
      continue;
    }
    if (e->ts_ms < max_ts) ++d.stats.out_of_order;
    max_ts = std::max(max_ts, e->ts_ms);
    (e->type == EventType::kImpression ? d.stats.impressions
     : e->type == EventType::kClick    ? d.stats.clicks
                                       : d.stats.purchases)++;
    Item item;
    item.item_id = e->item_id;
    item.ts_ms = e->ts_ms;
    note_item(item, false);
    d.events.push_back(std::move(*e));
  }
  if (in.bad()) return Error{path + ": read error"};
  if (d.stats.out_of_order > 0)
    std::stable_sort(d.events.begin(), d.events.end(), [](const Event& a, const Event& b) { return a.ts_ms < b.ts_ms; });
  return d;
}

// Gives the items of `d` the attributes the item file `path` describes (the
// adapter's rows make items only); its malformed rows join d's, named by
// the file.
std::optional<Error> describe_items(const std::string& path, DatasetFormat format, const DatasetOptions& options,
                                    datasets::CsvAdapter adapter, Dataset& d) {
  auto described = datasets::read_csv_dataset(path, format, options, std::move(adapter));
  if (!described.ok()) return described.error();
  std::unordered_map<std::string_view, const Item*> by_id;
  for (const DatasetItem& i : described->items) by_id.emplace(i.item.item_id, &i.item);
  for (DatasetItem& i : d.items) {
    auto it = by_id.find(i.item.item_id);
    if (it == by_id.end()) continue;
    if (!it->second->category.empty()) i.item.category = it->second->category;
    if (!it->second->brand.empty()) i.item.brand = it->second->brand;
  }
  d.stats.rejected_rows += described->stats.rejected_rows;
  for (RejectedRow& r : described->stats.rejected)
    if (d.stats.rejected.size() < options.max_rejected_kept)
      d.stats.rejected.push_back({r.line, std::move(r.message), path});
  return std::nullopt;
}

}  // namespace

Result<DatasetFormat> parse_dataset_format(std::string_view name) {
  for (auto [n, f] : kFormats)
    if (n == name) return f;
  return Error{"--format: \"" + std::string(name) + "\": must be one of " + std::string(dataset_format_names())};
}

std::string_view to_string(DatasetFormat format) {
  for (auto [n, f] : kFormats)
    if (f == format) return n;
  return "unknown";
}

std::string_view dataset_format_names() { return "jsonl, taobao, retailrocket, rees46, movielens, csv"; }

const char* needed_item_file(DatasetFormat format) {
  return format == DatasetFormat::kRetailRocket ? "item_properties.csv"
         : format == DatasetFormat::kMovieLens  ? "movies.csv"
                                                : nullptr;
}

Result<Dataset> read_dataset(const std::string& path, DatasetFormat format, const DatasetOptions& options) {
  if (!options.items_path.empty() && format != DatasetFormat::kJsonl && !needed_item_file(format))
    return Error{"an item file (" + options.items_path + ") with " + std::string(to_string(format)) +
                 ": these files carry their items' attributes; an item file is read with jsonl, retailrocket "
                 "(item_properties.csv) and movielens (movies.csv)"};
  Result<Dataset> d = Error{""};
  switch (format) {
    case DatasetFormat::kJsonl: d = read_jsonl(path, options); break;
    case DatasetFormat::kTaobao: d = datasets::read_csv_dataset(path, format, options, datasets::taobao_adapter()); break;
    case DatasetFormat::kRees46: d = datasets::read_csv_dataset(path, format, options, datasets::rees46_adapter()); break;
    case DatasetFormat::kRetailRocket:
      d = datasets::read_csv_dataset(path, format, options, datasets::retailrocket_adapter());
      if (d.ok() && !options.items_path.empty())
        if (auto e = describe_items(options.items_path, format, options, datasets::retailrocket_items_adapter(), *d))
          return *e;
      break;
    case DatasetFormat::kMovieLens:
      d = datasets::read_csv_dataset(path, format, options, datasets::movielens_adapter());
      if (d.ok() && !options.items_path.empty())
        if (auto e = describe_items(options.items_path, format, options, datasets::movielens_items_adapter(), *d))
          return *e;
      break;
    case DatasetFormat::kCsv: {
      auto adapter = datasets::mapped_csv_adapter(options.csv);
      if (!adapter.ok()) return adapter.error();
      d = datasets::read_csv_dataset(path, format, options, std::move(adapter).value());
      break;
    }
  }
  if (d.ok() && (d->stats.rejected_rows > 0 || d->stats.out_of_order > 0))
    spdlog::warn("{}: {}", path, describe_problems(d->stats));
  return d;
}

Result<std::vector<DatasetItem>> read_catalog(const std::string& path, DatasetFormat format,
                                              const DatasetOptions& options) {
  if (format != DatasetFormat::kJsonl) {
    auto d = read_dataset(path, format, options);
    if (!d.ok()) return d.error();
    return std::move(d->items);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path + ": cannot be opened"};
  EventDecoder decoder;
  std::vector<DatasetItem> items;
  std::unordered_map<std::string, size_t> index;
  int64_t n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    if (line.empty()) continue;
    auto item = decoder.decode_item(line);
    auto* i = std::get_if<Item>(&item);
    if (i == nullptr) return Error{path + ":" + std::to_string(n) + ": " + std::get<DecodeError>(item).message};
    auto [it, fresh] = index.try_emplace(i->item_id, items.size());
    if (fresh) items.push_back({std::move(*i)});
    else items[it->second].item = std::move(*i);  // a later line replaces the earlier one
  }
  if (in.bad()) return Error{path + ": read error"};
  return items;
}

std::string describe_problems(const DatasetStats& stats) {
  std::string out;
  auto add = [&out](const std::string& s) { out += (out.empty() ? "" : "; ") + s; };
  if (stats.rejected_rows > 0) {
    std::string s = std::to_string(stats.rejected_rows) + " malformed row" + (stats.rejected_rows == 1 ? "" : "s") +
                    " rejected";
    if (!stats.rejected.empty())
      s += " (first: line " + std::to_string(stats.rejected[0].line) +
           (stats.rejected[0].file.empty() ? "" : " of " + stats.rejected[0].file) + ": " + stats.rejected[0].message +
           ")";
    add(s);
  }
  if (!stats.skipped.empty()) {
    std::string s;
    int64_t total = 0;
    for (const auto& [behavior, n] : stats.skipped) {
      s += (s.empty() ? "" : ", ") + behavior + " " + std::to_string(n);
      total += n;
    }
    add(std::to_string(total) + " rows of behaviours that make no event skipped (" + s + ")");
  }
  if (stats.out_of_order > 0)
    add(std::to_string(stats.out_of_order) + " rows out of event-time order: sorted by event time");
  return out;
}

}  // namespace streamrec
