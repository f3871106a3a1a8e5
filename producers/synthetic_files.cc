#include "producers/synthetic_files.h"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "producers/synthetic_stream.h"

namespace streamrec {

namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

Result<File> open_for_writing(const std::string& path) {
  File f(std::fopen(path.c_str(), "wb"));
  if (!f) return Error{path + ": " + std::strerror(errno)};
  return f;
}

// Closes explicitly so that a failed flush (disk full) is reported.
Status finish(File file, const std::string& path) {
  bool failed = std::ferror(file.get()) != 0;
  failed |= std::fclose(file.release()) != 0;
  if (failed) return Error{path + ": write failed: " + std::strerror(errno)};
  return {};
}

void append_double(std::string& out, double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void write_line(std::FILE* f, std::string& line) {
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), f);
}

}  // namespace

Result<SyntheticFilesSummary> write_synthetic_files(const SyntheticConfig& config, const std::string& dir) {
  auto stream = SyntheticStream::create(config);
  if (!stream.ok()) return stream.error();

  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error{dir + ": cannot create directory: " + ec.message()};
  const std::string items_path = dir + "/items.jsonl";
  const std::string events_path = dir + "/events.jsonl";
  const std::string truth_path = dir + "/truth.csv";
  auto items = open_for_writing(items_path);
  if (!items.ok()) return items.error();
  auto events = open_for_writing(events_path);
  if (!events.ok()) return events.error();
  auto truth = open_for_writing(truth_path);
  if (!truth.ok()) return truth.error();

  SyntheticFilesSummary summary;
  std::string line;
  for (const Item& item : stream->opening_catalog()) {
    line = encode_item(item);
    write_line(items->get(), line);
    ++summary.items;
  }
  line = "event_id,p_click,p_cvr,p_ctcvr,clicked,purchased";
  write_line(truth->get(), line);

  GeneratedEvent g;
  while (stream->next(g)) {
    if (g.item) {  // a launch or retirement: after the catalog, in event-time order
      line = encode_item(*g.item);
      write_line(items->get(), line);
      ++summary.item_changes;
      continue;
    }
    line = encode_event(g.event);
    write_line(events->get(), line);
    ++summary.events;
    switch (g.event.type) {
      case EventType::kImpression: ++summary.impressions; break;
      case EventType::kClick: ++summary.clicks; break;
      case EventType::kPurchase: ++summary.purchases; break;
      case EventType::kForget: break;  // the synthetic stream forgets nobody
    }
    if (!g.truth) continue;
    line = g.event.event_id;
    line.push_back(',');
    append_double(line, g.truth->p_click);
    line.push_back(',');
    append_double(line, g.truth->p_cvr);
    line.push_back(',');
    append_double(line, g.truth->p_ctcvr);
    line += g.truth->clicked ? ",1" : ",0";
    line += g.truth->purchased ? ",1" : ",0";
    write_line(truth->get(), line);
  }

  if (Status s = finish(std::move(items).value(), items_path); !s.ok()) return Error{s.message()};
  if (Status s = finish(std::move(events).value(), events_path); !s.ok()) return Error{s.message()};
  if (Status s = finish(std::move(truth).value(), truth_path); !s.ok()) return Error{s.message()};
  return summary;
}

}  // namespace streamrec
