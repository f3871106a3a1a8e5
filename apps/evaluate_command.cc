// `streamrec evaluate`: replays a file in event-time order through the
// learner and ranker in one process (no Kafka, no Redis) and measures the
// rankings served before each held-out click against the baselines
// (ranking/offline_evaluation.h, docs/evaluation.md). Prints a table;
// --report FILE writes the same as JSON.
//
// Exit status: 0 done, 1 an input or the report could not be read or
// written, 2 a bad option or setting.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>

#include "apps/commands.h"
#include "apps/dataset_input.h"
#include "core/event.h"
#include "ranking/offline_evaluation.h"

namespace streamrec {
namespace {

using ranking::EvaluationReport;
using ranking::TopKSummary;

struct EvaluateOptions {
  ConfigOptions config;
  std::string events, items, report, format = "jsonl";
  int k = 10;
  double test_fraction = 0.2;
  int64_t seed = -1;
  uint64_t index_rebuild_events = 1000;
  bool no_progress = false, no_timing = false;
};

void append_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", v);
  out += buf;
}

void append_summary(std::string& o, const TopKSummary& s) {
  o += "{\"events\": " + std::to_string(s.events) + ", \"hit_rate\": ";
  append_number(o, s.hit_rate);
  o += ", \"ndcg\": ";
  append_number(o, s.ndcg);
  o += ", \"mrr\": ";
  append_number(o, s.mrr);
  o += "}";
}

std::string report_json(const EvaluateOptions& o, const EvaluationReport& r, bool timing) {
  std::string j = "{\n";
  auto field = [&](const char* name, uint64_t v) { j += "  \"" + std::string(name) + "\": " + std::to_string(v) + ",\n"; };
  j += "  \"events_file\": \"" + o.events + "\",\n";
  field("k", static_cast<uint64_t>(r.k));
  j += "  \"test_fraction\": ";
  append_number(j, o.test_fraction);
  j += ",\n  \"split_ts_ms\": " + std::to_string(r.split_ts_ms) + ",\n";
  field("events", r.events);
  field("reordered_events", r.reordered);
  field("train_events", r.train_events);
  field("held_out_events", r.held_out_events);
  field("held_out_clicks", r.held_out_clicks);
  field("users_evaluated", r.users_evaluated);
  field("fallback_rankings", r.fallback_rankings);
  field("samples_learned", r.samples_learned);
  if (timing) {
    j += "  \"seconds\": ";
    append_number(j, r.seconds);
    j += ",\n  \"events_per_sec\": ";
    append_number(j, r.seconds > 0 ? static_cast<double>(r.events) / r.seconds : 0);
    j += ",\n  \"ranking_seconds\": ";
    append_number(j, r.ranking_seconds);
    j += ",\n  \"ranking_us\": ";
    append_number(j, r.held_out_clicks ? 1e6 * r.ranking_seconds / static_cast<double>(r.held_out_clicks) : 0);
    j += ",\n";
  }
  j += "  \"top_k_sources\": {";
  for (size_t i = 0; i < r.top_k_sources.size(); ++i)
    j += std::string(i ? ", " : "") + "\"" + r.top_k_sources[i].first + "\": " + std::to_string(r.top_k_sources[i].second);
  j += "},\n";
  uint64_t ranked = 0;
  for (const auto& [name, n] : r.top_k_sources) ranked += n;
  j += "  \"top_k_share\": {";
  for (size_t i = 0; i < r.top_k_sources.size(); ++i) {
    j += std::string(i ? ", " : "") + "\"" + r.top_k_sources[i].first + "\": ";
    append_number(j, ranked ? static_cast<double>(r.top_k_sources[i].second) / static_cast<double>(ranked) : 0.0);
  }
  j += "},\n";
  j += "  \"candidate_recall\": {\"all\": ";
  append_number(j, r.held_out_clicks ? static_cast<double>(r.candidate_hits) / static_cast<double>(r.held_out_clicks) : 0.0);
  j += ", \"new_items\": ";
  const uint64_t new_clicks = r.recommenders.empty() ? 0 : r.recommenders[0].new_items.events;
  append_number(j, new_clicks ? static_cast<double>(r.candidate_hits_new) / static_cast<double>(new_clicks) : 0.0);
  j += ", \"by_source\": {";
  for (size_t i = 0; i < r.candidate_hits_by_source.size(); ++i) {
    const auto& [name, hits] = r.candidate_hits_by_source[i];
    j += std::string(i ? ", " : "") + "\"" + name + "\": {\"all\": " + std::to_string(hits[0]) +
         ", \"new_items\": " + std::to_string(hits[1]) + "}";
  }
  j += "}},\n";
  if (!r.blend_weights.empty()) {
    j += "  \"blend_clicks_learned\": " + std::to_string(r.blend_clicks_learned) + ",\n";
    j += "  \"blend_weights\": {";
    for (size_t i = 0; i < r.blend_weights.size(); ++i) {
      j += std::string(i ? ", " : "") + "\"" + r.blend_weights[i].first + "\": ";
      append_number(j, r.blend_weights[i].second);
    }
    j += "},\n";
  }
  j += "  \"recommenders\": {\n";
  for (size_t i = 0; i < r.recommenders.size(); ++i) {
    const auto& rec = r.recommenders[i];
    j += "    \"" + rec.name + "\": {\"all\": ";
    append_summary(j, rec.all);
    j += ", \"new_items\": ";
    append_summary(j, rec.new_items);
    j += i + 1 < r.recommenders.size() ? "},\n" : "}\n";
  }
  j += "  }\n}\n";
  return j;
}

void print_table(const EvaluationReport& r) {
  std::printf("evaluate: %llu events (%llu held out from %lld, %llu clicks of %llu users evaluated), %llu samples "
              "learned, %.1f s (%.0f events/s)\n",
              static_cast<unsigned long long>(r.events), static_cast<unsigned long long>(r.held_out_events),
              static_cast<long long>(r.split_ts_ms), static_cast<unsigned long long>(r.held_out_clicks),
              static_cast<unsigned long long>(r.users_evaluated), static_cast<unsigned long long>(r.samples_learned),
              r.seconds, r.seconds > 0 ? static_cast<double>(r.events) / r.seconds : 0.0);
  if (r.samples_learned == 0)
    std::printf("warning: the learner made no samples: a stream without impressions needs "
                "learner.negatives_per_click > 0\n");
  if (r.reordered > 0)
    std::printf("note: %llu events were out of event-time order in the input and were replayed sorted\n",
                static_cast<unsigned long long>(r.reordered));
  std::printf("%-14s %8s %8s %8s | %8s %8s %8s %8s\n", "recommender", "HR@K", "NDCG@K", "MRR@K", "new:n", "HR@K",
              "NDCG@K", "MRR@K");
  for (const auto& rec : r.recommenders)
    std::printf("%-14s %8.4f %8.4f %8.4f | %8llu %8.4f %8.4f %8.4f\n", rec.name.c_str(), rec.all.hit_rate,
                rec.all.ndcg, rec.all.mrr, static_cast<unsigned long long>(rec.new_items.events),
                rec.new_items.hit_rate, rec.new_items.ndcg, rec.new_items.mrr);
  uint64_t ranked = 0;
  for (const auto& [name, n] : r.top_k_sources) ranked += n;
  std::printf("streamrec's top K by source:");
  for (const auto& [name, n] : r.top_k_sources)
    std::printf(" %s %.1f%%", name.c_str(), ranked ? 100.0 * static_cast<double>(n) / static_cast<double>(ranked) : 0.0);
  std::printf("\n");
  const uint64_t new_clicks = r.recommenders.empty() ? 0 : r.recommenders[0].new_items.events;
  auto share = [](uint64_t n, uint64_t of) { return of ? 100.0 * static_cast<double>(n) / static_cast<double>(of) : 0.0; };
  std::printf("held-out clicks among streamrec's candidates: %.1f%% (new items %.1f%%); by source:",
              share(r.candidate_hits, r.held_out_clicks), share(r.candidate_hits_new, new_clicks));
  for (const auto& [name, hits] : r.candidate_hits_by_source)
    std::printf(" %s %.1f%% (%.1f%%)", name.c_str(), share(hits[0], r.held_out_clicks), share(hits[1], new_clicks));
  std::printf("\n");
  if (!r.blend_weights.empty()) {
    std::printf("learned blend (%llu clicks):", static_cast<unsigned long long>(r.blend_clicks_learned));
    for (const auto& [name, w] : r.blend_weights) std::printf(" %s %.2f", name.c_str(), w);
    std::printf("\n");
  }
  std::printf("(K = %d; new: held-out clicks on items new to the user; streamrec served popular items %llu times, "
              "for users it had no ranking for)\n",
              r.k, static_cast<unsigned long long>(r.fallback_rankings));
}

int run_evaluate(const EvaluateOptions& o) {
  Config config = load_config_or_exit(o.config);
  if (o.seed >= 0) config.learner.seed = o.seed;
  std::optional<Dataset> dataset = read_dataset_or_report("streamrec evaluate", o.events, o.format, config, o.items);
  if (!dataset) return 1;
  std::vector<Item> items;
  items.reserve(dataset->items.size());
  for (DatasetItem& i : dataset->items) items.push_back(std::move(i.item));
  ranking::EvaluationSettings settings;
  settings.k = o.k;
  settings.test_fraction = o.test_fraction;
  settings.index_rebuild_events = o.index_rebuild_events;

  const bool show_progress = !o.no_progress && isatty(STDERR_FILENO);
  const auto start = std::chrono::steady_clock::now();
  auto last_draw = start;
  ranking::EvaluationProgress progress;
  if (show_progress)
    progress = [&](uint64_t done, uint64_t total) {
      auto now = std::chrono::steady_clock::now();
      if (done < total && now - last_draw < std::chrono::milliseconds(100)) return;
      last_draw = now;
      const double seconds = std::chrono::duration<double>(now - start).count();
      const double share = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
      char bar[25];
      for (int i = 0; i < 24; ++i) bar[i] = i < static_cast<int>(share * 24) ? '#' : '.';
      bar[24] = '\0';
      std::fprintf(stderr, "\r\033[Kevaluate [%s] %3d%%  %llu events  %.0f ev/s", bar, static_cast<int>(share * 100),
                   static_cast<unsigned long long>(done), seconds > 0 ? static_cast<double>(done) / seconds : 0.0);
      if (done == total) std::fprintf(stderr, "\r\033[K");
      std::fflush(stderr);
    };
  auto report = ranking::evaluate_offline(config, settings, items, std::move(dataset->events), progress);
  if (!report.ok()) {
    std::fprintf(stderr, "streamrec evaluate: %s\n", report.error().message.c_str());
    return 2;
  }
  if (!o.report.empty()) {
    std::ofstream out(o.report, std::ios::trunc);
    out << report_json(o, *report, !o.no_timing);
    if (!out) {
      std::fprintf(stderr, "streamrec evaluate: --report %s: write failed\n", o.report.c_str());
      return 1;
    }
  }
  print_table(*report);
  return 0;
}

}  // namespace

void add_evaluate_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "evaluate", "Replay a file through the learner and ranker offline and measure the rankings against baselines");
  auto o = std::make_shared<EvaluateOptions>();
  add_config_options(cmd, o->config);
  cmd->add_option("--events", o->events, "Events, one JSON object a line; or a dataset file of --format")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--format", o->format,
                  "The events file's format, one of " + std::string(dataset_format_names()) +
                      "; other than jsonl, the catalog comes from the same file (docs/datasets.md)")
      ->check([](const std::string& f) { return parse_dataset_format(f).ok() ? "" : parse_dataset_format(f).error().message; });
  cmd->add_option("--items", o->items, kItemsFileHelp)->check(CLI::ExistingFile);
  cmd->add_option("--k", o->k, "Length of the ranking measured (hit rate@K, NDCG@K, MRR@K)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--test-fraction", o->test_fraction, "The last share of the events held out (by time)")
      ->check(CLI::Range(0.001, 0.999));
  cmd->add_option("--seed", o->seed, "The learner's seed (learner.seed)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--index-rebuild-events", o->index_rebuild_events,
                  "Rebuild the ranker's item index after this many events")
      ->check(CLI::Range(1, 1 << 30));
  cmd->add_option("--report", o->report, "Write the report here as JSON");
  cmd->add_flag("--no-progress", o->no_progress, "No progress bar on stderr");
  cmd->add_flag("--no-timing", o->no_timing, "Leave wall-clock fields out of the JSON report (byte-identical reruns)");
  cmd->callback([o, &exit_code] { exit_code = run_evaluate(*o); });
}

}  // namespace streamrec
