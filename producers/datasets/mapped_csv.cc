// The generic CSV: columns named by CsvColumns (by header name, or by
// 1-based number when the file has no header), behaviours mapped by
// CsvColumns::behaviors.
#include <algorithm>
#include <charconv>
#include <memory>

#include "producers/datasets/dataset_builder.h"

namespace streamrec::datasets {

namespace {

constexpr size_t kAbsent = SIZE_MAX;

struct Resolved {
  size_t user = kAbsent, item = kAbsent, ts = kAbsent, behavior = kAbsent;
  size_t category = kAbsent, brand = kAbsent, price = kAbsent, value = kAbsent;
  size_t needed = 0;  // fewest columns a row needs
};

enum class Action { kClick, kPurchase, kImpression, kSkip };

}  // namespace

Result<CsvAdapter> mapped_csv_adapter(const CsvColumns& c) {
  if (c.user.empty() || c.item.empty() || c.ts.empty())
    return Error{"dataset.csv: user, item and ts columns are required"};
  if (c.ts_unit != "s" && c.ts_unit != "ms" && c.ts_unit != "iso")
    return Error{"dataset.csv.ts_unit: \"" + c.ts_unit + "\": must be s, ms or iso"};
  auto actions = std::make_shared<std::map<std::string, Action, std::less<>>>();
  for (const auto& [value, action] : c.behaviors) {
    if (action == "click") (*actions)[value] = Action::kClick;
    else if (action == "purchase") (*actions)[value] = Action::kPurchase;
    else if (action == "impression") (*actions)[value] = Action::kImpression;
    else if (action == "skip") (*actions)[value] = Action::kSkip;
    else return Error{"dataset.csv.behaviors: \"" + value + "\" -> \"" + action + "\": must be click, purchase, impression or skip"};
  }
  auto at = std::make_shared<Resolved>();
  // Resolves every configured column against `names` (header names, or
  // "1".."n" without a header).
  auto resolve = [c, at](const std::vector<std::string>& names) -> std::optional<std::string> {
    std::pair<const std::string*, size_t*> wanted[] = {
        {&c.user, &at->user},         {&c.item, &at->item},   {&c.ts, &at->ts},       {&c.behavior, &at->behavior},
        {&c.category, &at->category}, {&c.brand, &at->brand}, {&c.price, &at->price}, {&c.value, &at->value}};
    for (auto [name, index] : wanted) {
      if (name->empty()) continue;
      auto it = std::find(names.begin(), names.end(), *name);
      if (it == names.end())
        return "dataset.csv: no column \"" + *name + "\"" + (c.header ? " in the header" : " (columns are numbered from 1)");
      *index = static_cast<size_t>(it - names.begin());
      at->needed = std::max(at->needed, *index + 1);
    }
    return std::nullopt;
  };

  CsvAdapter a;
  a.delimiter = c.delimiter;
  if (c.header) {
    a.read_header = resolve;
  } else {
    size_t most = 0;
    for (const std::string* n : {&c.user, &c.item, &c.ts, &c.behavior, &c.category, &c.brand, &c.price, &c.value}) {
      if (n->empty()) continue;
      size_t k = 0;
      auto [end, ec] = std::from_chars(n->data(), n->data() + n->size(), k);
      if (ec != std::errc() || end != n->data() + n->size() || k == 0)
        return Error{"dataset.csv: without a header columns are numbers from 1, not \"" + *n + "\""};
      most = std::max(most, k);
    }
    std::vector<std::string> numbers;
    for (size_t k = 1; k <= most; ++k) numbers.push_back(std::to_string(k));
    if (auto problem = resolve(numbers)) return Error{*problem};
  }
  a.map_row = [c, at, actions](const std::vector<std::string>& f, DatasetBuilder& out) -> std::optional<std::string> {
    if (f.size() < at->needed)
      return std::to_string(f.size()) + " columns, expected " + std::to_string(at->needed);
    auto user = parse_id(f[at->user], c.user);
    if (!user.ok()) return user.error().message;
    auto item = parse_id(f[at->item], c.item);
    if (!item.ok()) return item.error().message;
    auto ts = parse_time(f[at->ts], c.ts_unit, c.ts);
    if (!ts.ok()) return ts.error().message;
    Action action = Action::kClick;
    if (at->behavior != kAbsent) {
      auto it = actions->find(f[at->behavior]);
      if (it == actions->end()) return c.behavior + ": \"" + f[at->behavior].substr(0, 40) + "\" is not in dataset.csv.behaviors";
      action = it->second;
    }
    std::string_view category, brand;
    if (at->category != kAbsent) category = f[at->category];
    if (at->brand != kAbsent) brand = f[at->brand];
    if (category.size() > kMaxIdBytes) return c.category + ": longer than 128 bytes";
    if (brand.size() > kMaxIdBytes) return c.brand + ": longer than 128 bytes";
    std::optional<double> price, value;
    if (at->price != kAbsent && !f[at->price].empty()) {
      auto p = parse_number(f[at->price], c.price);
      if (!p.ok()) return p.error().message;
      price = *p;
    }
    if (at->value != kAbsent && !f[at->value].empty()) {
      auto v = parse_number(f[at->value], c.value);
      if (!v.ok()) return v.error().message;
      value = *v;
    }
    out.add_item(*item, *ts, category, brand, price);
    switch (action) {
      case Action::kSkip: out.skip(f[at->behavior]); break;
      case Action::kClick: out.add_event(EventType::kClick, *user, *item, *ts); break;
      case Action::kImpression: out.add_event(EventType::kImpression, *user, *item, *ts); break;
      case Action::kPurchase: out.add_event(EventType::kPurchase, *user, *item, *ts, value ? value : price); break;
    }
    return std::nullopt;
  };
  return a;
}

}  // namespace streamrec::datasets

namespace streamrec {

namespace {

// "a=1,b=2" -> pairs; false on a part without '='.
bool split_pairs(std::string_view text, std::vector<std::pair<std::string, std::string>>& out, std::string& bad) {
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view part = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      bad = std::string(part);
      return false;
    }
    out.emplace_back(std::string(part.substr(0, eq)), std::string(part.substr(eq + 1)));
  }
  return true;
}

}  // namespace

Result<CsvColumns> parse_csv_columns(std::string_view columns, std::string_view behaviors) {
  CsvColumns c;
  std::vector<std::pair<std::string, std::string>> pairs;
  std::string bad;
  if (!split_pairs(columns, pairs, bad))
    return Error{"producer.csv_columns: \"" + bad + "\": expected name=column"};
  for (const auto& [key, value] : pairs) {
    std::string* target = key == "user"       ? &c.user
                          : key == "item"     ? &c.item
                          : key == "ts"       ? &c.ts
                          : key == "ts_unit"  ? &c.ts_unit
                          : key == "behavior" ? &c.behavior
                          : key == "category" ? &c.category
                          : key == "brand"    ? &c.brand
                          : key == "price"    ? &c.price
                          : key == "value"    ? &c.value
                                              : nullptr;
    if (target) {
      *target = value;
    } else if (key == "header") {
      if (value != "true" && value != "false")
        return Error{"producer.csv_columns: header=" + value + ": must be true or false"};
      c.header = value == "true";
    } else if (key == "delimiter") {
      if (value == "comma") c.delimiter = ',';
      else if (value == "semicolon") c.delimiter = ';';
      else if (value == "tab") c.delimiter = '\t';
      else if (value == "pipe") c.delimiter = '|';
      else if (value.size() == 1 && value[0] != '"') c.delimiter = value[0];
      else return Error{"producer.csv_columns: delimiter=" + value + ": must be comma, semicolon, tab, pipe or one character"};
    } else {
      return Error{"producer.csv_columns: unknown name \"" + key +
                   "\" (user, item, ts, ts_unit, behavior, category, brand, price, value, header, delimiter)"};
    }
  }
  pairs.clear();
  if (!split_pairs(behaviors, pairs, bad))
    return Error{"producer.csv_behaviors: \"" + bad + "\": expected value=click|purchase|impression|skip"};
  if (!pairs.empty()) {
    c.behaviors.clear();
    for (const auto& [value, action] : pairs) {
      if (action != "click" && action != "purchase" && action != "impression" && action != "skip")
        return Error{"producer.csv_behaviors: " + value + "=" + action + ": must map to click, purchase, impression or skip"};
      c.behaviors[value] = action;
    }
  }
  return c;
}

}  // namespace streamrec
