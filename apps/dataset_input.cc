#include "apps/dataset_input.h"

#include <cstdio>

namespace streamrec {

std::optional<Dataset> read_dataset_or_report(const std::string& command, const std::string& path,
                                              const std::string& format, const Config& config,
                                              const std::string& items_path, const char* items_flag) {
  auto parsed = parse_dataset_format(format);
  if (!parsed.ok()) {
    std::fprintf(stderr, "%s: %s\n", command.c_str(), parsed.error().message.c_str());
    return std::nullopt;
  }
  DatasetOptions options;
  options.items_path = items_path;
  if (const char* needed = needed_item_file(*parsed); needed && items_path.empty())
    std::fprintf(stderr, "%s: %s files name items only: give %s %s for their categories (docs/datasets.md, \"The "
                 "catalog\")\n", command.c_str(), format.c_str(), items_flag, needed);
  if (*parsed == DatasetFormat::kCsv) {
    auto columns = parse_csv_columns(config.producer.csv_columns, config.producer.csv_behaviors);
    if (!columns.ok()) {
      std::fprintf(stderr, "%s: %s\n", command.c_str(), columns.error().message.c_str());
      return std::nullopt;
    }
    options.csv = std::move(columns).value();
  }
  auto dataset = read_dataset(path, *parsed, options);
  if (!dataset.ok()) {
    std::fprintf(stderr, "%s: %s\n", command.c_str(), dataset.error().message.c_str());
    return std::nullopt;
  }
  const DatasetStats& s = dataset->stats;
  std::fprintf(stderr, "%s: %s (%s): %lld rows -> %lld events (%lld impressions, %lld clicks, %lld purchases), %zu items\n",
               command.c_str(), path.c_str(), format.c_str(), static_cast<long long>(s.rows),
               static_cast<long long>(dataset->events.size()), static_cast<long long>(s.impressions),
               static_cast<long long>(s.clicks), static_cast<long long>(s.purchases), dataset->items.size());
  std::string problems = describe_problems(s);
  if (!problems.empty()) std::fprintf(stderr, "%s: %s: %s\n", command.c_str(), path.c_str(), problems.c_str());
  for (size_t i = 1; i < s.rejected.size() && i < 5; ++i)
    std::fprintf(stderr, "%s: %s:%lld: %s\n", command.c_str(),
                 (s.rejected[i].file.empty() ? path : s.rejected[i].file).c_str(),
                 static_cast<long long>(s.rejected[i].line), s.rejected[i].message.c_str());
  return std::move(dataset).value();
}

}  // namespace streamrec
