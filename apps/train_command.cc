// `streamrec train`: the online learner over files, offline. Items first,
// then events in file (event-time) order through the same joiner and learner
// as `streamrec learn`; prints a short report and optionally writes a JSON
// report, the per-sample predictions and a checkpoint.
//
// Exit status: 0 done, 1 an input or checkpoint could not be read or
// written, 2 a bad option or setting.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <unordered_map>

#include "apps/commands.h"
#include "apps/dataset_input.h"
#include "core/event.h"
#include "online_learner/learner.h"

namespace streamrec {
namespace {

using learner::Learner;
using learner::Scores;

struct TrainOptions {
  ConfigOptions config;
  std::string events, items, truth, report_json, predictions_out;
  std::string format = "jsonl";
  std::string catalog, catalog_format = "jsonl";
  std::string checkpoint_out, resume_from, init_from, freeze = "none";
  int64_t stop_after = -1;
  bool no_timing = false;
  bool at_once_baseline = false;
};

// The per-item baseline with labels known at once: a yardstick no online
// learner can reach, since it learns each impression's final labels (from
// the whole file, joined with the same windows) the moment it is shown.
// Scored before each update, like the learner's own baseline.
struct AtOnceBaseline {
  learner::MetricSeries click, ctcvr;
};

// The event time from which the last `fraction` of the file's impressions
// were shown; for a file without impressions (implicit feedback), of its
// clicks; INT64_MAX for a file with neither.
int64_t tail_of(std::vector<int64_t>& times, double fraction) {
  if (times.empty()) return INT64_MAX;
  std::sort(times.begin(), times.end());
  return times[static_cast<size_t>(static_cast<double>(times.size()) * (1 - fraction))];
}

Result<int64_t> tail_start(const std::string& events_path, double fraction) {
  std::ifstream events(events_path);
  if (!events) return Error{"--events " + events_path + ": cannot be opened"};
  EventDecoder decoder;
  std::vector<int64_t> shown, clicked;
  std::string line;
  while (std::getline(events, line)) {
    bool impression = line.find("\"impression\"") != std::string::npos;  // cheap pre-filters
    if (!impression && !shown.empty()) continue;
    if (!impression && line.find("\"click\"") == std::string::npos) continue;
    auto event = decoder.decode_event(line);
    auto* e = std::get_if<Event>(&event);
    if (e == nullptr) continue;
    (e->type == EventType::kImpression ? shown : clicked).push_back(e->ts_ms);
  }
  return tail_of(shown.empty() ? clicked : shown, fraction);
}

int64_t tail_start(const Dataset& dataset, double fraction) {
  std::vector<int64_t> shown, clicked;
  for (const Event& e : dataset.events) {
    if (e.type == EventType::kImpression) shown.push_back(e.ts_ms);
    else if (e.type == EventType::kClick) clicked.push_back(e.ts_ms);
  }
  return tail_of(shown.empty() ? clicked : shown, fraction);
}

Result<AtOnceBaseline> at_once_baseline(const std::string& events_path, const LearnerConfig& config) {
  std::ifstream events(events_path);
  if (!events) return Error{"--events " + events_path + ": cannot be opened"};
  learner::JoinerSettings settings;
  settings.click_window_ms = config.click_window_s * 1000;
  settings.purchase_window_ms = config.purchase_window_s * 1000;
  settings.max_pending = config.max_pending;
  settings.dedupe_window = config.dedupe_window;
  settings.early_clicks = false;  // one complete copy per impression, with its final labels
  learner::Joiner joiner(settings, nullptr);
  EventDecoder decoder;
  std::vector<std::string> shown;  // impression ids in the order shown
  std::vector<std::string> items;
  std::vector<learner::Sample> joined;
  std::string line;
  while (std::getline(events, line)) {
    if (line.empty()) continue;
    auto event = decoder.decode_event(line);
    auto* e = std::get_if<Event>(&event);
    if (e == nullptr) continue;
    joiner.add(*e, {}, joined);  // labels only: no features
    if (joiner.last_impression()) {
      shown.push_back(e->event_id);
      items.push_back(e->item_id);
    }
  }
  joiner.flush(joined);
  std::unordered_map<std::string, std::pair<bool, bool>> labels;
  for (const learner::Sample& s : joined) labels[s.event_id] = {s.clicked, s.clicked && s.purchased};
  AtOnceBaseline out;
  learner::ItemRateBaseline counter;
  for (size_t i = 0; i < shown.size(); ++i) {
    auto [clicked, bought] = labels[shown[i]];
    auto score = counter.score(items[i]);
    out.click.add(score.click, clicked);
    out.ctcvr.add(score.ctcvr, bought);
    counter.update_click(items[i], clicked);
    counter.update_purchase(items[i], bought);
  }
  return out;
}

// truth.csv: event_id,p_click,p_cvr,p_ctcvr,... (the synthetic producer's).
Result<std::unordered_map<std::string, Scores>> read_truth(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error{"--truth " + path + ": cannot be opened"};
  std::unordered_map<std::string, Scores> truth;
  std::string line;
  std::getline(in, line);
  if (line.rfind("event_id,p_click,p_cvr,p_ctcvr", 0) != 0)
    return Error{"--truth " + path + ": expected a header starting event_id,p_click,p_cvr,p_ctcvr"};
  size_t n = 1;
  while (std::getline(in, line)) {
    ++n;
    size_t c[4];
    c[0] = line.find(',');
    for (int i = 1; i < 4 && c[i - 1] != std::string::npos; ++i) c[i] = line.find(',', c[i - 1] + 1);
    if (c[0] == std::string::npos || c[1] == std::string::npos || c[2] == std::string::npos)
      return Error{"--truth " + path + ":" + std::to_string(n) + ": expected 4 or more columns"};
    if (c[3] == std::string::npos) c[3] = line.size();
    float v[3];
    for (int i = 0; i < 3; ++i) {
      auto [end, ec] = std::from_chars(line.data() + c[i] + 1, line.data() + c[i + 1], v[i]);
      if (ec != std::errc()) return Error{"--truth " + path + ":" + std::to_string(n) + ": not a number"};
    }
    truth[line.substr(0, c[0])] = Scores{v[0], v[1], v[2]};
  }
  return truth;
}

void append_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", v);
  out += buf;
}

void append_summary(std::string& out, const learner::SeriesSummary& s) {
  out += "{\"count\": " + std::to_string(s.count) + ", \"auc\": ";
  append_number(out, s.auc);
  out += ", \"logloss\": ";
  append_number(out, s.logloss);
  out += ", \"calibration\": ";
  append_number(out, s.calibration);
  out += ", \"rmse\": ";
  append_number(out, s.rmse);
  out += ", \"mean_label\": ";
  append_number(out, s.mean_label);
  out += "}";
}

// A series of the report: the whole of it, and the part of the impressions
// shown in the last 20% of the file.
struct ReportSeries {
  std::string name;
  const learner::MetricSeries* whole;
  learner::SeriesSummary last20;
};

std::vector<ReportSeries> report_series(const Learner& l, const AtOnceBaseline* at_once) {
  std::vector<ReportSeries> out;
  for (size_t i = 0; i < l.series().size(); ++i)
    out.push_back({l.series()[i].first, &l.series()[i].second, l.tail_series()[i].second.whole()});
  if (at_once) {  // recorded in impression order: its own last 20%
    out.push_back({"baseline_click_at_once", &at_once->click, at_once->click.tail(0.2)});
    out.push_back({"baseline_ctcvr_at_once", &at_once->ctcvr, at_once->ctcvr.tail(0.2)});
  }
  return out;
}

std::string report_json(Learner& l, const std::vector<ReportSeries>& series, uint64_t lines, uint64_t bad_lines,
                        double seconds, bool timing) {
  const auto& c = l.joiner_counters();
  std::string o = "{\n";
  auto field = [&](const char* name, uint64_t v) { o += "  \"" + std::string(name) + "\": " + std::to_string(v) + ",\n"; };
  field("events", lines);
  field("bad_events", bad_lines);
  field("samples", l.samples_learned());
  if (timing) {
    o += "  \"seconds\": ";
    append_number(o, seconds);
    o += ",\n  \"samples_per_sec\": ";
    append_number(o, seconds > 0 ? static_cast<double>(l.samples_learned()) / seconds : 0);
    o += ",\n  \"learn_seconds\": ";
    append_number(o, l.learn_seconds());
    o += ",\n  \"learn_samples_per_sec\": ";
    append_number(o, l.learn_seconds() > 0 ? static_cast<double>(l.samples_learned()) / l.learn_seconds() : 0);
    o += ",\n  \"learn_cpu_seconds\": ";
    append_number(o, l.learn_cpu_seconds());
    o += ",\n  \"learn_samples_per_cpu_sec\": ";
    append_number(o, l.learn_cpu_seconds() > 0 ? static_cast<double>(l.samples_learned()) / l.learn_cpu_seconds() : 0);
    o += ",\n";
  }
  field("parameters", l.parameter_count());
  field("embedding_rows", l.table().rows());
  field("embedding_dim", static_cast<uint64_t>(l.table().dim()));
  field("embedding_bytes", l.table().bytes());
  field("embedding_bytes_per_row", l.table().bytes_per_row());
  field("embedding_admitted", l.table().admitted_total());
  field("embedding_evicted", l.table().evicted_total());
  o += "  \"joiner\": {";
  std::pair<const char*, uint64_t> counters[] = {
      {"events", c.events}, {"impressions", c.impressions}, {"clicks", c.clicks}, {"purchases", c.purchases},
      {"duplicates", c.duplicates}, {"joined_clicks", c.joined_clicks}, {"joined_purchases", c.joined_purchases},
      {"late_clicks", c.late_clicks}, {"late_purchases", c.late_purchases}, {"orphan_clicks", c.orphan_clicks},
      {"orphan_purchases", c.orphan_purchases}, {"purchases_without_click", c.purchases_without_click},
      {"request_mismatches", c.request_mismatches}, {"flushed_pending", c.flushed_pending},
      {"sampled_negatives", c.sampled_negatives}, {"samples", c.samples}};
  for (size_t i = 0; i < std::size(counters); ++i)
    o += std::string(i ? ", " : "") + "\"" + counters[i].first + "\": " + std::to_string(counters[i].second);
  o += "},\n  \"metrics\": {\n";
  for (size_t i = 0; i < series.size(); ++i) {
    const ReportSeries& r = series[i];
    o += "    \"" + r.name + "\": {\"whole\": ";
    append_summary(o, r.whole->whole());
    o += ", \"last_20pct\": ";
    append_summary(o, r.last20);
    o += ", \"window\": ";
    append_summary(o, r.whole->window(static_cast<size_t>(l.config().metrics_window)));
    o += i + 1 < series.size() ? "},\n" : "}\n";
  }
  o += "  }\n}\n";
  return o;
}

void print_report(Learner& l, const std::vector<ReportSeries>& series, uint64_t lines, double seconds) {
  std::printf("train: %llu events, %llu samples in %.2f s (%.0f samples/s; learning alone %.0f samples/s)\n",
              static_cast<unsigned long long>(lines), static_cast<unsigned long long>(l.samples_learned()), seconds,
              seconds > 0 ? static_cast<double>(l.samples_learned()) / seconds : 0.0,
              l.learn_seconds() > 0 ? static_cast<double>(l.samples_learned()) / l.learn_seconds() : 0.0);
  std::printf("model: %zu dense parameters; %zu embedding rows x %d, %.1f MiB (%zu bytes/row)\n", l.parameter_count(),
              l.table().rows(), l.table().dim(), static_cast<double>(l.table().bytes()) / (1 << 20),
              l.table().bytes_per_row());
  const auto& c = l.joiner_counters();
  std::printf("joiner: %llu clicks joined, %llu purchases joined; late %llu/%llu, orphan %llu/%llu, duplicates %llu\n",
              static_cast<unsigned long long>(c.joined_clicks), static_cast<unsigned long long>(c.joined_purchases),
              static_cast<unsigned long long>(c.late_clicks), static_cast<unsigned long long>(c.late_purchases),
              static_cast<unsigned long long>(c.orphan_clicks), static_cast<unsigned long long>(c.orphan_purchases),
              static_cast<unsigned long long>(c.duplicates));
  std::printf("%-22s %9s %9s %10s %9s %9s %12s\n", "series", "samples", "auc", "auc_last20", "logloss", "calib",
              "calib_last20");
  for (const ReportSeries& r : series) {
    if (r.whole->size() == 0) continue;
    auto w = r.whole->whole();
    std::printf("%-22s %9zu %9.4f %10.4f %9.4f %9.3f %12.3f\n", r.name.c_str(), w.count, w.auc, r.last20.auc,
                w.logloss, w.calibration, r.last20.calibration);
  }
  std::printf("(last20: the impressions shown in the last 20%% of the file; calib = mean prediction / mean label)\n");
}

int run_train(const TrainOptions& o) {
  Config config = load_config_or_exit(o.config);
  auto created = Learner::create(config.learner);
  if (!created.ok()) {
    std::fprintf(stderr, "streamrec train: bad configuration: %s\n", created.error().message.c_str());
    return 2;
  }
  Learner& l = **created;
  uint64_t start_line = 0;
  if (!o.resume_from.empty()) {
    auto position = l.restore_checkpoint(o.resume_from);
    if (!position.ok()) {
      std::fprintf(stderr, "streamrec train: %s\n", position.error().message.c_str());
      return 1;
    }
    start_line = *position;
  } else if (!o.init_from.empty()) {
    learner::Freeze f = o.freeze == "embeddings" ? learner::Freeze::kEmbeddings
                        : o.freeze == "shared"   ? learner::Freeze::kShared
                                                 : learner::Freeze::kNone;
    if (Status s = l.init_from(o.init_from, f); !s.ok()) {
      std::fprintf(stderr, "streamrec train: %s\n", s.message().c_str());
      return 1;
    }
  }

  // Another format than the project's JSONL: read whole, catalog included.
  std::optional<Dataset> dataset;
  if (o.format != "jsonl") {
    dataset = read_dataset_or_report("streamrec train", o.events, o.format, config, o.items);
    if (!dataset) return 1;
  }
  if (o.resume_from.empty()) {  // a checkpoint carries its own
    if (dataset) {
      l.set_tail_start(tail_start(*dataset, 0.2));
    } else {
      auto tail = tail_start(o.events, 0.2);
      if (!tail.ok()) {
        std::fprintf(stderr, "streamrec train: %s\n", tail.error().message.c_str());
        return 1;
      }
      l.set_tail_start(*tail);
    }
  }

  std::unordered_map<std::string, Scores> truth;
  if (!o.truth.empty()) {
    auto t = read_truth(o.truth);
    if (!t.ok()) {
      std::fprintf(stderr, "streamrec train: %s\n", t.error().message.c_str());
      return 1;
    }
    truth = std::move(t).value();
    l.set_reference([&truth](const learner::Sample& s, Scores& out) {
      auto it = truth.find(s.event_id);
      if (it == truth.end()) return false;
      out = it->second;
      return true;
    });
  }

  std::FILE* predictions = nullptr;
  if (!o.predictions_out.empty()) {
    predictions = std::fopen(o.predictions_out.c_str(), "w");
    if (!predictions) {
      std::fprintf(stderr, "streamrec train: --predictions-out %s: cannot be written\n", o.predictions_out.c_str());
      return 1;
    }
    std::setvbuf(predictions, nullptr, _IOFBF, 1 << 20);
    std::fputs("event_id,p_click,p_cvr,p_ctcvr\n", predictions);
    l.set_sink([predictions](const learner::Sample& s, const Scores& p) {
      std::fprintf(predictions, "%s,%.9g,%.9g,%.9g\n", s.event_id.c_str(), p.p_click, p.p_cvr, p.p_ctcvr);
    });
  }

  EventDecoder decoder;
  uint64_t bad_lines = 0;
  std::string line;
  if (!o.items.empty() && !dataset) {  // a dataset read its item file itself
    std::ifstream items(o.items);
    if (!items) {
      std::fprintf(stderr, "streamrec train: --items %s: cannot be opened\n", o.items.c_str());
      return 1;
    }
    while (std::getline(items, line)) {
      if (line.empty()) continue;
      auto item = decoder.decode_item(line);
      if (auto* i = std::get_if<Item>(&item)) l.add_item(*i);
      else ++bad_lines;
    }
  }
  if (!o.catalog.empty()) {
    auto catalog = read_catalog(o.catalog, *parse_dataset_format(o.catalog_format));
    if (!catalog.ok()) {
      std::fprintf(stderr, "streamrec train: --catalog %s\n", catalog.error().message.c_str());
      return 1;
    }
    for (const DatasetItem& i : *catalog) l.add_item(i.item);
  }
  auto start = std::chrono::steady_clock::now();
  uint64_t lines = 0;  // JSONL: lines of the file; other formats: events of the dataset
  bool stopped = false;
  auto stop_here = [&] { return o.stop_after >= 0 && lines >= static_cast<uint64_t>(o.stop_after); };
  if (dataset) {
    for (const DatasetItem& i : dataset->items) l.add_item(i.item);
    bad_lines += static_cast<uint64_t>(dataset->stats.rejected_rows);
    for (const Event& e : dataset->events) {
      ++lines;
      if (lines <= start_line) continue;
      l.add_event(e);
      if ((stopped = stop_here())) break;
    }
  } else {
    std::ifstream events(o.events);
    if (!events) {
      std::fprintf(stderr, "streamrec train: --events %s: cannot be opened\n", o.events.c_str());
      return 1;
    }
    while (std::getline(events, line)) {
      ++lines;
      if (lines <= start_line) continue;
      if (!line.empty()) {
        auto event = decoder.decode_event(line);
        if (auto* e = std::get_if<Event>(&event)) l.add_event(*e);
        else if (++bad_lines <= 5) spdlog::warn("train: {}:{}: {}", o.events, lines, std::get<DecodeError>(event).message);
      }
      if ((stopped = stop_here())) break;
    }
  }
  if (lines < start_line) {
    std::fprintf(stderr, "streamrec train: the checkpoint is at line %llu but %s has only %llu lines\n",
                 static_cast<unsigned long long>(start_line), o.events.c_str(), static_cast<unsigned long long>(lines));
    return 1;
  }
  if (!stopped) l.finish();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (predictions && std::fclose(predictions) != 0) {
    std::fprintf(stderr, "streamrec train: --predictions-out %s: write failed\n", o.predictions_out.c_str());
    return 1;
  }
  if (!o.checkpoint_out.empty())
    if (Status s = l.save_checkpoint(o.checkpoint_out, lines); !s.ok()) {
      std::fprintf(stderr, "streamrec train: %s\n", s.message().c_str());
      return 1;
    }
  std::optional<AtOnceBaseline> at_once;
  if (o.at_once_baseline) {
    auto b = at_once_baseline(o.events, config.learner);
    if (!b.ok()) {
      std::fprintf(stderr, "streamrec train: %s\n", b.error().message.c_str());
      return 1;
    }
    at_once = std::move(b).value();
  }
  const std::vector<ReportSeries> series = report_series(l, at_once ? &*at_once : nullptr);
  if (!o.report_json.empty()) {
    std::ofstream out(o.report_json, std::ios::trunc);
    out << report_json(l, series, lines, bad_lines, seconds, !o.no_timing);
    if (!out) {
      std::fprintf(stderr, "streamrec train: --report-json %s: write failed\n", o.report_json.c_str());
      return 1;
    }
  }
  print_report(l, series, lines, seconds);
  if (stopped) std::printf("stopped after line %llu%s\n", static_cast<unsigned long long>(lines),
                           o.checkpoint_out.empty() ? "" : (", checkpoint " + o.checkpoint_out).c_str());
  return 0;
}

}  // namespace

void add_train_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("train", "Run the online learner over JSONL files (offline) and report its accuracy");
  auto o = std::make_shared<TrainOptions>();
  add_config_options(cmd, o->config);
  cmd->add_option("events,--events", o->events,
                  "Events, one JSON object a line, in event-time order; or a dataset file of --format")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--format", o->format,
                  "The events file's format, one of " + std::string(dataset_format_names()) +
                      "; other than jsonl, the file's catalog is learned first (docs/datasets.md)")
      ->check([](const std::string& f) { return parse_dataset_format(f).ok() ? "" : parse_dataset_format(f).error().message; });
  cmd->add_option("--items", o->items, kItemsFileHelp)->check(CLI::ExistingFile);
  cmd->add_option("--catalog", o->catalog,
                  "Learn this catalog first (items JSONL, or a dataset file of --catalog-format)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--catalog-format", o->catalog_format, "The --catalog file's format (jsonl: items)")
      ->check([](const std::string& f) { return parse_dataset_format(f).ok() ? "" : parse_dataset_format(f).error().message; });
  cmd->add_option("--truth", o->truth, "The synthetic producer's truth.csv: adds the oracle's metrics")
      ->check(CLI::ExistingFile);
  cmd->add_option("--report-json", o->report_json, "Write the report here as JSON");
  cmd->add_option("--predictions-out", o->predictions_out,
                  "Write event_id,p_click,p_cvr,p_ctcvr per learned impression, scored before it was learned");
  cmd->add_option("--checkpoint-out", o->checkpoint_out, "Save the learner's whole state here at the end");
  cmd->add_option("--stop-after", o->stop_after, "Stop after this many event lines (with --checkpoint-out: resumable)");
  cmd->add_option("--resume-from", o->resume_from, "Continue from a checkpoint of the same config and events file")
      ->check(CLI::ExistingFile);
  cmd->add_option("--init-from", o->init_from, "Warm start: copy embeddings and matching layers from a checkpoint")
      ->check(CLI::ExistingFile)
      ->excludes("--resume-from");
  cmd->add_option("--freeze", o->freeze, "With --init-from: keep embeddings, or embeddings and shared layers, fixed")
      ->check(CLI::IsMember({"none", "embeddings", "shared"}));
  cmd->add_flag("--at-once-baseline", o->at_once_baseline,
                "Also report the per-item baseline with labels known at once (reads the events file twice)");
  cmd->add_flag("--no-timing", o->no_timing, "Leave wall-clock fields out of the JSON report (byte-identical reruns)");
  cmd->callback([o, &exit_code] {
    if (o->format != "jsonl" && o->at_once_baseline) {
      std::fprintf(stderr, "streamrec train: --at-once-baseline needs impressions: --format jsonl only\n");
      exit_code = 2;
      return;
    }
    exit_code = run_train(*o);
  });
}

}  // namespace streamrec
